package main

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	appconfig "github.com/mountainhighway/marketplace/internal/config"
)

// requiredKeys are the settings without which the program must not deploy.
var requiredKeys = []string{"stage", "logRetentionDays", "throttleRate", "throttleBurst", "cursorKey"}

func TestMissingRequiredConfigFails(t *testing.T) {
	for _, key := range requiredKeys {
		t.Run(key, func(t *testing.T) {
			m, err := validSetup(stageStaging).with(configNamespace+":"+key, "").run(run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), configNamespace+":"+key)
			assert.Empty(t, m.ofType(typeTable), "nothing is created with incomplete config")
		})
	}
}

func TestEveryMissingValueReportedAtOnce(t *testing.T) {
	setup := validSetup(stageStaging)
	setup.config = map[string]string{}
	_, err := setup.run(run)
	require.Error(t, err)
	for _, key := range requiredKeys {
		assert.Contains(t, err.Error(), configNamespace+":"+key)
	}
}

func TestInvalidConfigFails(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("too short"))
	tests := []struct {
		name, key, value, wantErr string
	}{
		{"unknown stage", "stage", "dev", `must be "staging" or "prod"`},
		{"stage of another stack", "stage", "prod", `does not match stack "staging"`},
		{"retention CloudWatch rejects", "logRetentionDays", "13", "not a CloudWatch Logs retention"},
		{"retention not a number", "logRetentionDays", "two weeks", "two weeks"},
		{"zero rate", "throttleRate", "0", "throttleRate must be positive"},
		{"rate not a number", "throttleRate", "fast", "fast"},
		{"negative burst", "throttleBurst", "-1", "throttleBurst must be positive"},
		{"burst not a number", "throttleBurst", "many", "many"},
		{"origins not a list", "corsOrigins", "https://a.example", "corsOrigins must be a list"},
		{"cursor key not base64", "cursorKey", "not base64!", "must be base64"},
		{"cursor key too short", "cursorKey", short, "at least 32 bytes"},
		{"audience with a space", "audience", "mountain highway", "audience \"mountain highway\" must not contain spaces"},
		{"audience with a newline", "audience", "mountain-highway\n", "must not contain spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := validSetup(stageStaging).with(configNamespace+":"+tt.key, tt.value).run(run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, m.ofType(typeTable))
		})
	}
}

func TestCursorKeyMustBeSecret(t *testing.T) {
	setup := validSetup(stageStaging)
	setup.secrets = nil
	_, err := setup.run(run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--secret")
}

func TestOptionalConfig(t *testing.T) {
	setup := validSetup(stageStaging).
		with(configNamespace+":release", "abc123").
		with(configNamespace+":sentryDsn", "https://key@sentry.example/1").
		with(configNamespace+":audience", "mh-clients")
	setup.secrets = append(setup.secrets, configNamespace+":sentryDsn")
	m := setup.mustRun(t)
	for _, fn := range m.ofType(typeFunction) {
		env, ok := fn.in("environment").(map[string]any)
		require.True(t, ok)
		vars, ok := env["variables"].(map[string]any)
		require.True(t, ok)
		assert.Equal(t, "abc123", vars["RELEASE"], fn.Name)
		assert.Equal(t, "https://key@sentry.example/1", vars["SENTRY_DSN"], fn.Name)
		assert.Equal(t, "mh-clients", vars["AUDIENCE"], fn.Name)
	}
}

// TestDefaultAudienceMatchesFunctions checks that the authorizer's default
// audience is the one a function assumes when AUDIENCE is unset, so a stack
// without the setting never splits them.
func TestDefaultAudienceMatchesFunctions(t *testing.T) {
	env := map[string]string{"TABLE_NAME": "t", "CURSOR_KEY": testCursorKey}
	got, err := appconfig.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, defaultAudience, got.Audience)
}
