package lambdahttp_test

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func jsonOf(n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"x":"`+strings.Repeat("a", n)+`"}`)
	})
}

func TestGzipForClientsThatAcceptIt(t *testing.T) {
	tests := []struct {
		name, accept string
		size         int
		gzipped      bool
	}{
		{"large JSON, gzip accepted", "gzip, deflate, br", 5000, true},
		{"large JSON, gzip with quality", "br;q=1.0, gzip;q=0.8", 5000, true},
		{"gzip refused", "gzip;q=0", 5000, false},
		{"no Accept-Encoding", "", 5000, false},
		{"small body", "gzip", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := lambdahttp.New(lambdahttp.Options{Function: itemGet(), Out: io.Discard}).Handler(jsonOf(tt.size))
			req := httptest.NewRequest(http.MethodGet, "/v1/items/1", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusCreated, rec.Code, "the handler's status survives")
			body := rec.Body.Bytes()
			if tt.gzipped {
				assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
				assert.Contains(t, rec.Header().Values("Vary"), "Accept-Encoding")
				zr, err := gzip.NewReader(rec.Body)
				require.NoError(t, err)
				body, err = io.ReadAll(zr)
				require.NoError(t, err)
				assert.Less(t, rec.Body.Len(), tt.size/4, "JSON compresses")
			} else {
				assert.Empty(t, rec.Header().Get("Content-Encoding"))
			}
			assert.Len(t, body, tt.size+8)
		})
	}
}

// TestGzipThroughAPIGateway checks what API Gateway receives: a compressed
// body must travel base64-encoded with isBase64Encoded set.
func TestGzipThroughAPIGateway(t *testing.T) {
	h := lambdahttp.New(lambdahttp.Options{Function: itemGet(), Out: io.Discard}).Handler(jsonOf(4000))
	resp, err := httpadapter.NewV2(h).ProxyWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		RawPath: "/v1/items/1",
		Headers: map[string]string{"accept-encoding": "gzip"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "gz1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/items/1"},
		},
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "gzip", resp.Headers["Content-Encoding"])
	require.True(t, resp.IsBase64Encoded)
	raw, err := base64.StdEncoding.DecodeString(resp.Body)
	require.NoError(t, err)
	zr, err := gzip.NewReader(strings.NewReader(string(raw)))
	require.NoError(t, err)
	body, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Len(t, body, 4008)
}
