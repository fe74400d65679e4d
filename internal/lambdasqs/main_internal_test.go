package lambdasqs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/registry"
)

func validEnv() map[string]string {
	return map[string]string{
		"STAGE":      "staging",
		"TABLE_NAME": "mh-staging",
		"CURSOR_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))),
	}
}

func TestSetupRefusesWhatIsNotAConsumer(t *testing.T) {
	build := func(context.Context, config.Config) (Handler, error) {
		t.Error("build must not run")
		return nil, nil
	}
	getenv := func(k string) string { return validEnv()[k] }
	_, err := Setup(t.Context(), "nope", getenv, build)
	require.ErrorContains(t, err, `no function "nope"`)
	_, err = Setup(t.Context(), "health", getenv, build)
	require.ErrorContains(t, err, "health is not a queue consumer")
	_, err = Setup(t.Context(), "image-worker", func(string) string { return "" }, build)
	require.ErrorContains(t, err, "config:", "the registry's consumer gets as far as its configuration")
}

func TestSetup(t *testing.T) {
	fn := registry.Function{Name: "image-worker"}
	boom := errors.New("s3 client: no region")
	tests := []struct {
		name     string
		env      func(map[string]string)
		buildErr error
		wantErr  []string
		built    bool
	}{
		{
			name:    "missing configuration",
			env:     func(m map[string]string) { delete(m, "TABLE_NAME") },
			wantErr: []string{"config:", "TABLE_NAME"},
		},
		{
			name:    "invalid Sentry DSN",
			env:     func(m map[string]string) { m["SENTRY_DSN"] = "not a dsn" },
			wantErr: []string{"sentry:"},
		},
		{name: "failing build", buildErr: boom, wantErr: []string{"build:", boom.Error()}, built: true},
		{name: "valid", built: true},
		{name: "valid with Sentry", env: func(m map[string]string) { m["SENTRY_DSN"] = "https://public@example.com/1" }, built: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			if tt.env != nil {
				tt.env(env)
			}
			var got *config.Config
			build := func(_ context.Context, cfg config.Config) (Handler, error) {
				got = &cfg
				return func(context.Context, events.SQSMessage) error { return nil }, tt.buildErr
			}
			var out bytes.Buffer
			h, err := setup(t.Context(), fn, func(k string) string { return env[k] }, build, &out)
			assert.Equal(t, tt.built, got != nil, "build called")
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				assert.Nil(t, h)
				for _, w := range tt.wantErr {
					assert.ErrorContains(t, err, w)
				}
				if tt.buildErr != nil {
					assert.ErrorIs(t, err, tt.buildErr)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "image-worker", got.Function, "build sees the function name")
			assert.Equal(t, "staging", got.Stage)
			resp, err := h(t.Context(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "x"}}})
			require.NoError(t, err)
			assert.Empty(t, resp.BatchItemFailures)
			assert.Contains(t, out.String(), `"function":"image-worker"`, "the handler is wrapped")
			assert.Contains(t, out.String(), `"Stage":"staging"`)
		})
	}
}
