package token_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/token"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://api.example.test"
	testAudience = "marketplace"
	testTTL      = 15 * time.Minute
)

// fixedKeySet is a two-key set made once with Rotate, kept as text so that
// fuzz seeds and any crasher they produce are reproducible across runs.
// It is a test key and signs nothing real.
const fixedKeySet = `{"keys":[` +
	`{"kid":"VUOIgX5ZMGOemT8Z","created":"2026-10-31T12:00:00Z","privateKey":"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYjKYIEWYjKZyYNTezdE0R4u8ablP76UPp4NkHS1pPiehRANCAASodcdJYYb0fBVAvRZqpfRw9gW119ehssynOhnIwXoXG3MFm4mz3N96W9nsexStbRJ6F5MOqcHjmjnLZ8atSnmH"},` +
	`{"kid":"LfizQiLPr6vFUvwJ","created":"2026-10-30T12:00:00Z","privateKey":"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7zysBJZlC5fWuNSSCB/gZCy1PG8jt6sQgt+SFX2jvq6hRANCAARP2PTTwdr8n70Hac+bI6xx6ZMpYZJZnBg7sgiLaK+4numN2DUSyrkdw24vhK9QwCnhXys1v9WTKryHqm5iPQfp"}]}`

// fixedJWKS is the public form of fixedKeySet.
const fixedJWKS = `{"keys":[` +
	`{"kty":"EC","crv":"P-256","x":"qHXHSWGG9HwVQL0WaqX0cPYFtdfXobLMpzoZyMF6Fxs","y":"cwWbibPc33pb2ex7FK1tEnoXkw6pweOaOctnxq1KeYc","kid":"VUOIgX5ZMGOemT8Z","alg":"ES256","use":"sig"},` +
	`{"kty":"EC","crv":"P-256","x":"T9j008Ha_J-9B2nPmyOscemTKWGSWZwYO7IIi2ivuJ4","y":"6Y3YNRLKuR3Dbi-Er1DAKeFfKzW_1ZMqvIeqbmI9B-k","kid":"LfizQiLPr6vFUvwJ","alg":"ES256","use":"sig"}]}`

func mustFixedKeySet(tb testing.TB) token.KeySet {
	tb.Helper()
	ks, err := token.ParseKeySet([]byte(fixedKeySet))
	require.NoError(tb, err)
	return ks
}

func mustNewKeySet(tb testing.TB, now time.Time) token.KeySet {
	tb.Helper()
	ks, err := token.Rotate(token.KeySet{}, now)
	require.NoError(tb, err)
	return ks
}

func mustIssuer(tb testing.TB, ks token.KeySet, now func() time.Time) *token.Issuer {
	tb.Helper()
	iss, err := token.NewIssuer(ks, testIssuer, testAudience, testTTL, now)
	require.NoError(tb, err)
	return iss
}

func mustIssue(tb testing.TB, iss *token.Issuer, sub string, roles ...auth.Role) string {
	tb.Helper()
	s, _, err := iss.Issue(sub, roles)
	require.NoError(tb, err)
	return s
}

// clock is a settable time source shared by an issuer and a verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func fixedNow() time.Time { return t0 }

// countingSource is a real KeySet that counts how often it is read and can
// be swapped (a rotation) or made to fail (a key store outage).
type countingSource struct {
	mu    sync.Mutex
	ks    token.KeySet
	err   error
	calls int
}

func (s *countingSource) PublicKeys(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return s.ks.PublicKeys(ctx)
}

func (s *countingSource) set(ks token.KeySet, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ks, s.err = ks, err
}

func (s *countingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// forge assembles a JWT from raw header and claims and signs it with method
// and key, or leaves the signature empty when method is nil.
func forge(tb testing.TB, header, claims map[string]any, method jwt.SigningMethod, key any) string {
	tb.Helper()
	h, err := json.Marshal(header)
	require.NoError(tb, err)
	c, err := json.Marshal(claims)
	require.NoError(tb, err)
	signing := b64(h) + "." + b64(c)
	if method == nil {
		return signing + "."
	}
	sig, err := method.Sign(signing, key)
	require.NoError(tb, err)
	return signing + "." + b64(sig)
}

func goodHeader(kid string) map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}
}

// forgedSub is the subject of every hand-made token, so that a test can tell
// an accepted forgery from a token the Issuer made.
const forgedSub = "usr_forged"

func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": forgedSub, "roles": []string{"buyer"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(testTTL).Unix(), "jti": "jti-1",
	}
}

// parts splits a token into its decoded header and claims.
func parts(tb testing.TB, tok string) (header, claims map[string]any) {
	tb.Helper()
	p := strings.Split(tok, ".")
	require.Len(tb, p, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(p[i])
		require.NoError(tb, err)
		require.NoError(tb, json.Unmarshal(raw, dst))
	}
	return header, claims
}
