package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

// getenv returns a lookup over m, as Setup receives os.Getenv.
func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"STAGE":      "staging",
		"TABLE_NAME": "mh-staging",
		"CURSOR_KEY": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))),
	}
}

func TestSetup(t *testing.T) {
	boom := errors.New("dynamodb client: no region")
	tests := []struct {
		name     string
		fn       string
		env      func(map[string]string)
		buildErr error
		wantErr  []string
		built    bool // whether build must have been called
		is       error
	}{
		{name: "unknown function", fn: "nope", wantErr: []string{`no HTTP function "nope"`}},
		{
			name:    "missing configuration",
			fn:      "health",
			env:     func(m map[string]string) { delete(m, "TABLE_NAME"); delete(m, "CURSOR_KEY") },
			wantErr: []string{"config:", "TABLE_NAME", "CURSOR_KEY"},
		},
		{
			name:    "invalid Sentry DSN",
			fn:      "health",
			env:     func(m map[string]string) { m["SENTRY_DSN"] = "not a dsn" },
			wantErr: []string{"sentry:"},
		},
		{name: "failing build", fn: "health", buildErr: boom, wantErr: []string{"build:", boom.Error()}, built: true, is: boom},
		{name: "valid", fn: "health", built: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			if tt.env != nil {
				tt.env(env)
			}
			var got *config.Config
			build := func(_ context.Context, cfg config.Config) (lambdahttp.App, error) {
				got = &cfg
				return lambdahttp.App{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					_, _ = io.WriteString(w, "ok "+cfg.Stage)
				})}, tt.buildErr
			}
			h, err := lambdahttp.Setup(t.Context(), tt.fn, getenv(env), build)
			assert.Equal(t, tt.built, got != nil, "build called")
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				assert.Nil(t, h)
				for _, w := range tt.wantErr {
					assert.Containsf(t, err.Error(), w, "Setup(%q) error = %q, want it to contain %q", tt.fn, err, w)
				}
				if tt.is != nil {
					assert.ErrorIs(t, err, tt.is)
				}
				return
			}
			require.NoError(t, err)
			require.NotNil(t, h)
			assert.Equal(t, "health", got.Function, "build sees the function name")
			assert.Equal(t, "mh-staging", got.TableName)
			assert.Equal(t, "staging", got.Stage)

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/health", nil))
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "ok staging", rec.Body.String())
			assert.Regexp(t, generatedID, rec.Header().Get(lambdahttp.CorrelationHeader), "the handler is wrapped")

			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/listings", nil))
			assert.Equal(t, http.StatusNotFound, rec.Code, "mounted on its own route only")
		})
	}
}
