package secretstest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/secrets/secretstest"
)

// recorder collects the errors the server reports instead of failing the
// test, to show that the server does fail tests on bad requests.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, format)
}

const signed = "AWS4-HMAC-SHA256 Credential=local/20261101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"

func TestServerRejectsWhatTheServiceWould(t *testing.T) {
	tests := []struct {
		name, method, path, target, contentType, auth, body, wantType string
	}{
		{"wrong path", "POST", "/v1", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s"}`, "UnknownOperationException"},
		{"GET", "GET", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", signed, ``, "UnknownOperationException"},
		{"other operation", "POST", "/", "secretsmanager.CreateSecret", "application/x-amz-json-1.1", signed, `{"Name":"s"}`, "UnknownOperationException"},
		{"no target", "POST", "/", "", "application/x-amz-json-1.1", signed, `{"SecretId":"s"}`, "UnknownOperationException"},
		{"json 1.0", "POST", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.0", signed, `{"SecretId":"s"}`, "SerializationException"},
		{"unsigned", "POST", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", "", `{"SecretId":"s"}`, "MissingAuthenticationTokenException"},
		{"signed for another service", "POST", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", strings.Replace(signed, "secretsmanager", "ssm", 1), `{"SecretId":"s"}`, "MissingAuthenticationTokenException"},
		{"unknown member", "POST", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s","Id":"s"}`, "SerializationException"},
		{"no SecretId", "POST", "/", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", signed, `{}`, "InvalidParameterException"},
		{"put: bad JSON", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{`, "SerializationException"},
		{"put: no SecretId", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{"ClientRequestToken":"` + strings.Repeat("t", 36) + `","SecretString":"v"}`, "InvalidParameterException"},
		{"put: no token", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s","SecretString":"v"}`, "InvalidParameterException"},
		{"put: both values", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s","ClientRequestToken":"` + strings.Repeat("t", 36) + `","SecretString":"v","SecretBinary":"dg=="}`, "InvalidParameterException"},
		{"put: no value", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s","ClientRequestToken":"` + strings.Repeat("t", 36) + `"}`, "InvalidParameterException"},
		{"put: empty value", "POST", "/", "secretsmanager.PutSecretValue", "application/x-amz-json-1.1", signed, `{"SecretId":"s","ClientRequestToken":"` + strings.Repeat("t", 36) + `","SecretString":""}`, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			srv := secretstest.NewServer(rec)
			srv.Create("s")
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("X-Amz-Target", tt.target)
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()

			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, tt.wantType, resp.Header.Get("X-Amzn-ErrorType"))
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, tt.wantType, body["__type"])
			assert.Len(t, rec.errs, 1, "the test using the server fails")
			_, ok := srv.Value("s")
			assert.False(t, ok, "nothing was stored")
		})
	}
}

func TestServerRetriedTokenIsOneVersion(t *testing.T) {
	srv := secretstest.NewServer(t)
	srv.Create("s")
	put := func(token, value string) {
		body := `{"SecretId":"s","ClientRequestToken":"` + token + `","SecretString":"` + value + `"}`
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Amz-Target", "secretsmanager.PutSecretValue")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", signed)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	a, b := strings.Repeat("a", 36), strings.Repeat("b", 36)
	put(a, "one")
	put(a, "retried")
	v, _ := srv.Value("s")
	assert.Equal(t, "one", string(v))
	put(b, "two")
	v, _ = srv.Value("s")
	assert.Equal(t, "two", string(v))
}

func TestServerFailsOneOperation(t *testing.T) {
	srv := secretstest.NewServer(t)
	srv.Create("s")
	m := secrets.New(srv.Client(t))
	ctx := t.Context()
	srv.FailWith("PutSecretValue", "InvalidRequestException")
	assert.Error(t, m.Put(ctx, "s", []byte("v")))
	_, err := m.Get(ctx, "s")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "Get is served normally: %v", err)
	srv.FailWith("", "")
	require.NoError(t, m.Put(ctx, "s", []byte("v")))
}
