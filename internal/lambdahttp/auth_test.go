package lambdahttp_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/token"
)

// downKeys is a key store that cannot be reached, like a DynamoDB outage.
type downKeys struct{}

func (downKeys) PublicKeys(context.Context) (map[string]*ecdsa.PublicKey, error) {
	return nil, errors.New("dial tcp: connection refused")
}

func sellerRoute() registry.Function {
	fn := itemGet()
	fn.Auth = registry.Seller
	return fn
}

func TestProtectedRoutes(t *testing.T) {
	k, err := token.NewKey(time.Now())
	require.NoError(t, err)
	ks := token.KeySet{Keys: []token.Key{k}}
	iss, err := token.NewIssuer(ks, "https://api.example.test", "mh", time.Minute, time.Now)
	require.NoError(t, err)
	buyer, _, err := iss.Issue("usr_b", []auth.Role{auth.Buyer})
	require.NoError(t, err)
	seller, _, err := iss.Issue("usr_s", []auth.Role{auth.Buyer, auth.Seller})
	require.NoError(t, err)

	var seen auth.Principal
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = auth.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	serve := func(v auth.Verifier, bearer string) *httptest.ResponseRecorder {
		h := lambdahttp.New(lambdahttp.Options{Function: sellerRoute(), Out: io.Discard, Verifier: v}).Handler(ok)
		req := httptest.NewRequest(http.MethodGet, "/v1/items/1", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	verifier := token.NewVerifier(ks, "https://api.example.test", "mh", time.Now)

	rec := serve(verifier, seller)
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "usr_s", seen.UserID, "the handler sees the principal")

	assert.Equal(t, http.StatusForbidden, serve(verifier, buyer).Code)
	rec = serve(verifier, "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
	assert.Equal(t, http.StatusUnauthorized, serve(verifier, "not-a-token").Code)

	rec = serve(token.NewVerifier(downKeys{}, "https://api.example.test", "mh", time.Now), seller)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a key store outage is a retry, not a sign-in")
	assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
	assert.NotContains(t, rec.Body.String(), "connection refused")

	assert.Equal(t, http.StatusInternalServerError, serve(nil, seller).Code, "no verifier: fail closed")
}
