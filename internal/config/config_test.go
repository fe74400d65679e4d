package config_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/config"
)

var (
	rawKey = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	key    = base64.StdEncoding.EncodeToString(rawKey)
)

// env returns a getenv over m, with the two required variables set unless
// m overrides them.
func env(m map[string]string) func(string) string {
	full := map[string]string{"TABLE_NAME": "mh-dev", "CURSOR_KEY": key}
	for k, v := range m {
		full[k] = v
	}
	return func(k string) string { return full[k] }
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*config.Config) // edits the defaults into the expected config
		wantErr []string             // substrings of the error, all of them present
	}{
		{
			name: "defaults",
		},
		{
			name: "everything set",
			env: map[string]string{
				"STAGE": "prod", "FUNCTION_NAME": "health", "RELEASE": "abc123", "AWS_REGION": "us-east-1",
				"TABLE_NAME": "mh-prod", "DYNAMODB_ENDPOINT": "http://localhost:8000",
				"SENTRY_DSN": "https://k@o1.ingest.sentry.io/2", "LOG_LEVEL": "warn", "LOG_DEBUG_SAMPLE": "0.25",
			},
			want: func(c *config.Config) {
				c.Stage, c.Function, c.Release, c.Region = "prod", "health", "abc123", "us-east-1"
				c.TableName, c.DynamoEndpoint, c.SentryDSN = "mh-prod", "http://localhost:8000", "https://k@o1.ingest.sentry.io/2"
				c.LogLevel, c.DebugSample = slog.LevelWarn, 0.25
			},
		},
		{
			name: "token settings",
			env: map[string]string{
				"ISSUER": "https://api.example.test", "AUDIENCE": "mh-api",
				"SIGNING_KEYS": base64.StdEncoding.EncodeToString([]byte(`{"keys":[]}`)), "SIGNING_KEYS_SECRET": "mh-prod-signing-keys",
			},
			want: func(c *config.Config) {
				c.Issuer, c.Audience = "https://api.example.test", "mh-api"
				c.SigningKeys, c.SigningKeysSecret = []byte(`{"keys":[]}`), "mh-prod-signing-keys"
			},
		},
		{name: "signing keys not base64", env: map[string]string{"SIGNING_KEYS": "%%"}, wantErr: []string{"SIGNING_KEYS must be base64"}},
		{name: "missing table", env: map[string]string{"TABLE_NAME": ""}, wantErr: []string{"TABLE_NAME is required"}},
		{name: "missing key", env: map[string]string{"CURSOR_KEY": ""}, wantErr: []string{"CURSOR_KEY must decode to at least 32 bytes"}},
		{name: "key not base64", env: map[string]string{"CURSOR_KEY": "not base64!"}, wantErr: []string{"CURSOR_KEY must be base64"}},
		{name: "key url-safe base64 is not std", env: map[string]string{"CURSOR_KEY": base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 33))}, wantErr: []string{"CURSOR_KEY must be base64"}},
		{name: "key 31 bytes", env: map[string]string{"CURSOR_KEY": base64.StdEncoding.EncodeToString(rawKey[:31])}, wantErr: []string{"at least 32 bytes"}},
		{
			name: "key 64 bytes",
			env:  map[string]string{"CURSOR_KEY": base64.StdEncoding.EncodeToString(append(rawKey, rawKey...))},
			want: func(c *config.Config) { c.CursorKey = append(rawKey, rawKey...) },
		},
		{name: "log level debug", env: map[string]string{"LOG_LEVEL": "debug"}, want: func(c *config.Config) { c.LogLevel = slog.LevelDebug }},
		{name: "log level upper case", env: map[string]string{"LOG_LEVEL": "ERROR"}, want: func(c *config.Config) { c.LogLevel = slog.LevelError }},
		{name: "log level info", env: map[string]string{"LOG_LEVEL": "info"}},
		{name: "log level unknown", env: map[string]string{"LOG_LEVEL": "verbose"}, wantErr: []string{`LOG_LEVEL "verbose" is not debug, info, warn or error`}},
		{name: "sample 0", env: map[string]string{"LOG_DEBUG_SAMPLE": "0"}},
		{name: "sample 1", env: map[string]string{"LOG_DEBUG_SAMPLE": "1"}, want: func(c *config.Config) { c.DebugSample = 1 }},
		{name: "sample 0.01", env: map[string]string{"LOG_DEBUG_SAMPLE": "0.01"}, want: func(c *config.Config) { c.DebugSample = 0.01 }},
		{name: "sample above 1", env: map[string]string{"LOG_DEBUG_SAMPLE": "1.5"}, wantErr: []string{`LOG_DEBUG_SAMPLE "1.5" must be a number between 0 and 1`}},
		{name: "sample negative", env: map[string]string{"LOG_DEBUG_SAMPLE": "-0.1"}, wantErr: []string{`LOG_DEBUG_SAMPLE "-0.1"`}},
		{name: "sample not a number", env: map[string]string{"LOG_DEBUG_SAMPLE": "half"}, wantErr: []string{`LOG_DEBUG_SAMPLE "half"`}},
		{name: "sample infinite", env: map[string]string{"LOG_DEBUG_SAMPLE": "Inf"}, wantErr: []string{`LOG_DEBUG_SAMPLE "Inf"`}},
		{
			name: "every error reported at once",
			env:  map[string]string{"TABLE_NAME": "", "CURSOR_KEY": "%%%", "LOG_LEVEL": "loud", "LOG_DEBUG_SAMPLE": "2"},
			wantErr: []string{
				"TABLE_NAME is required", "CURSOR_KEY must be base64",
				`LOG_LEVEL "loud"`, `LOG_DEBUG_SAMPLE "2"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Load(env(tt.env))
			if len(tt.wantErr) > 0 {
				require.Errorf(t, err, "Load(%v) = %+v, want an error", tt.env, got)
				for _, w := range tt.wantErr {
					assert.Containsf(t, err.Error(), w, "Load() error = %q, want it to contain %q", err, w)
				}
				assert.Len(t, strings.Split(err.Error(), "\n"), len(tt.wantErr), "one line per problem: %q", err)
				return
			}
			require.NoError(t, err)
			want := config.Config{
				Stage: "dev", Release: "dev", Region: "eu-west-1", TableName: "mh-dev",
				CursorKey: rawKey, LogLevel: slog.LevelInfo,
				Issuer: "http://127.0.0.1:8080", Audience: "mountain-highway",
			}
			if tt.want != nil {
				tt.want(&want)
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestLoadRejectsNaNDebugSample fails until config.go checks the range in a
// way NaN cannot pass: NaN compares false with both bounds, so
// `f < 0 || f > 1` accepts it and Load returns DebugSample = NaN without
// error, although the value is not "a number between 0 and 1".
func TestLoadRejectsNaNDebugSample(t *testing.T) {
	for _, v := range []string{"NaN", "nan"} {
		got, err := config.Load(env(map[string]string{"LOG_DEBUG_SAMPLE": v}))
		if assert.Errorf(t, err, "Load(LOG_DEBUG_SAMPLE=%q) = DebugSample %v with no error, want an error", v, got.DebugSample) {
			assert.Contains(t, err.Error(), "LOG_DEBUG_SAMPLE")
		}
	}
}

func TestSecretsMasked(t *testing.T) {
	const dsn = "https://f00dfacedeadbeef@o123.ingest.sentry.io/456"
	tests := []struct {
		name string
		cfg  config.Config
		want []string
	}{
		{
			name: "set",
			cfg: config.Config{
				Stage: "prod", Function: "health", Release: "r1", Region: "eu-west-1", TableName: "t",
				DynamoEndpoint: "http://localhost:8000", SentryDSN: dsn, CursorKey: rawKey,
				LogLevel: slog.LevelWarn, DebugSample: 0.5,
			},
			want: []string{"stage=prod", "function=health", "release=r1", "table=t", "dynamodb=http://localhost:8000", "sentry=set", "cursorKey=set", "log=WARN", "debugSample=0.5"},
		},
		{
			name: "unset",
			cfg:  config.Config{Stage: "dev"},
			want: []string{"stage=dev", "sentry=unset", "cursorKey=unset"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", tt.cfg)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("start", slog.Any("config", tt.cfg))
			outputs := map[string]string{
				"String":   tt.cfg.String(),
				"LogValue": tt.cfg.LogValue().String(),
				"%v":       fmt.Sprintf("%v", tt.cfg),
				"%+v":      fmt.Sprintf("%+v", tt.cfg),
				"slog":     buf.String(),
			}
			for how, out := range outputs {
				for _, w := range tt.want {
					assert.Containsf(t, out, w, "%s: %q lacks %q", how, out, w)
				}
				for _, secret := range []string{dsn, "f00dfacedeadbeef", key, string(rawKey), "0123456789abcdef"} {
					assert.NotContainsf(t, out, secret, "%s leaks a secret: %q", how, out)
				}
			}
			if tt.cfg.DynamoEndpoint == "" {
				assert.NotContains(t, tt.cfg.String(), "dynamodb=")
			}
		})
	}
}
