package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/token"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	ks := mustFixedKeySet(t)
	iss := mustIssuer(t, ks, fixedNow)
	tok, exp, err := iss.Issue("usr_1", []auth.Role{auth.Buyer, auth.Seller})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(testTTL), exp)

	v := token.NewVerifier(ks, testIssuer, testAudience, fixedNow)
	p, err := v.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, "usr_1", p.UserID)
	assert.Equal(t, []auth.Role{auth.Buyer, auth.Seller}, p.Roles)

	header, claims := parts(t, tok)
	assert.Equal(t, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ks.Keys[0].ID}, header)
	assert.Equal(t, testIssuer, claims["iss"])
	assert.Equal(t, testAudience, claims["aud"], "aud is a single string")
	assert.Equal(t, "usr_1", claims["sub"])
	assert.Equal(t, []any{"buyer", "seller"}, claims["roles"])
	assert.EqualValues(t, t0.Unix(), claims["iat"])
	assert.EqualValues(t, t0.Unix(), claims["nbf"])
	assert.EqualValues(t, exp.Unix(), claims["exp"])
	jti, _ := claims["jti"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(jti)
	require.NoError(t, err)
	assert.Len(t, raw, 16, "jti is 128 random bits")
	assert.Equal(t, jti, p.TokenID)

	again := mustIssue(t, iss, "usr_1", auth.Buyer, auth.Seller)
	_, c2 := parts(t, again)
	assert.NotEqual(t, jti, c2["jti"], "every token has its own jti")
}

func TestIssuerSignsWithTheFirstPrivateKey(t *testing.T) {
	ks := mustFixedKeySet(t)
	ks.Keys[0].Private = nil // the newest key only verifies
	iss := mustIssuer(t, ks, fixedNow)
	h, _ := parts(t, mustIssue(t, iss, "usr_1", auth.Buyer))
	assert.Equal(t, ks.Keys[1].ID, h["kid"])
}

func TestNewIssuerAndIssueReject(t *testing.T) {
	ks := mustFixedKeySet(t)
	pubOnly := token.KeySet{Keys: []token.Key{{ID: ks.Keys[0].ID, Public: ks.Keys[0].Public}}}
	for _, tt := range []struct {
		name     string
		ks       token.KeySet
		iss, aud string
		ttl      time.Duration
	}{
		{"no private key", pubOnly, testIssuer, testAudience, testTTL},
		{"no issuer", ks, "", testAudience, testTTL},
		{"no audience", ks, testIssuer, "", testTTL},
		{"ttl under a second", ks, testIssuer, testAudience, time.Millisecond},
	} {
		_, err := token.NewIssuer(tt.ks, tt.iss, tt.aud, tt.ttl, fixedNow)
		assert.Error(t, err, tt.name)
	}

	iss, err := token.NewIssuer(ks, testIssuer, testAudience, testTTL, nil) // nil now is time.Now
	require.NoError(t, err)
	_, exp, err := iss.Issue("usr_1", []auth.Role{auth.Buyer})
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(testTTL), exp, 2*time.Second)
	for _, tt := range []struct {
		name  string
		sub   string
		roles []auth.Role
	}{
		{"no subject", "", []auth.Role{auth.Buyer}},
		{"no roles", "usr_1", nil},
		{"unknown role", "usr_1", []auth.Role{auth.Buyer, "superuser"}},
	} {
		tok, _, err := iss.Issue(tt.sub, tt.roles)
		assert.Error(t, err, tt.name)
		assert.Empty(t, tok, tt.name)
	}
}

// forgery is a token an attacker could present, and why it must fail.
type forgery struct {
	name string
	tok  string
}

// forgeries returns every kind of token Verify must reject, built against
// the fixed key set at t0. Each is a valid token (see the "control" in
// TestVerifyRejectsForgedTokens) with exactly one thing wrong.
func forgeries(tb testing.TB) []forgery {
	tb.Helper()
	ks := mustFixedKeySet(tb)
	key, kid := ks.Keys[0].Private, ks.Keys[0].ID
	es := jwt.SigningMethodES256

	pubDER, err := x509.MarshalPKIXPublicKey(ks.Keys[0].Public)
	require.NoError(tb, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwks, err := ks.JWKS()
	require.NoError(tb, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(tb, err)
	stranger, err := token.NewKey(t0)
	require.NoError(tb, err)

	with := func(mutate func(h, c map[string]any)) (map[string]any, map[string]any) {
		h, c := goodHeader(kid), goodClaims(t0)
		mutate(h, c)
		return h, c
	}
	signed := func(mutate func(h, c map[string]any)) string {
		h, c := with(mutate)
		return forge(tb, h, c, es, key)
	}
	keep := func(map[string]any, map[string]any) {}

	// Tampered: a real token whose payload is re-encoded with admin rights,
	// keeping the header and the original signature.
	real := mustIssue(tb, mustIssuer(tb, ks, fixedNow), forgedSub, auth.Buyer)
	_, realClaims := parts(tb, real)
	realClaims["roles"] = []string{"buyer", "admin"}
	tampered, err := json.Marshal(realClaims)
	require.NoError(tb, err)
	p := strings.Split(real, ".")
	p[1] = b64(tampered)

	// A signature that is valid but of the wrong length for ES256.
	longSig := signed(keep) + "AAAA"

	hNone, cNone := with(keep)
	hNone["alg"] = "none"
	hHS, cHS := with(func(h, _ map[string]any) { h["alg"] = "HS256" })
	hRS, cRS := with(func(h, _ map[string]any) { h["alg"] = "RS256" })
	hES384, cES384 := with(func(h, _ map[string]any) { h["alg"] = "ES384" })
	hStr, cStr := with(keep)
	hOwn, cOwn := with(func(h, _ map[string]any) { h["kid"] = stranger.ID })
	hJWK, cJWK := with(func(h, _ map[string]any) {
		h["kid"] = stranger.ID
		h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "kid": stranger.ID}
	})

	return []forgery{
		{"alg none, no signature", forge(tb, hNone, cNone, nil, nil)},
		{"alg none, signed by none", forge(tb, hNone, cNone, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		{"HS256 keyed with the public key PEM", forge(tb, hHS, cHS, jwt.SigningMethodHS256, pubPEM)},
		{"HS256 keyed with the public key DER", forge(tb, hHS, cHS, jwt.SigningMethodHS256, pubDER)},
		{"HS256 keyed with the JWKS", forge(tb, hHS, cHS, jwt.SigningMethodHS256, jwks)},
		{"RS256", forge(tb, hRS, cRS, jwt.SigningMethodRS256, rsaKey)},
		{"ES384", forge(tb, hES384, cES384, jwt.SigningMethodES384, p384)},
		{"unknown kid", signed(func(h, _ map[string]any) { h["kid"] = "no-such-key" })},
		{"missing kid", signed(func(h, _ map[string]any) { delete(h, "kid") })},
		{"kid not a string", signed(func(h, _ map[string]any) { h["kid"] = 7 })},
		{"oversized kid", signed(func(h, _ map[string]any) { h["kid"] = strings.Repeat("k", 200) })},
		{"typ JWT, not an access token", signed(func(h, _ map[string]any) { h["typ"] = "JWT" })},
		{"no typ", signed(func(h, _ map[string]any) { delete(h, "typ") })},
		{"expired", signed(func(_, c map[string]any) { c["exp"] = t0.Add(-time.Hour).Unix() })},
		{"expired just beyond the leeway", signed(func(_, c map[string]any) { c["exp"] = t0.Add(-token.Leeway - time.Second).Unix() })},
		{"nbf in the future", signed(func(_, c map[string]any) { c["nbf"] = t0.Add(time.Hour).Unix() })},
		{"iat in the future", signed(func(_, c map[string]any) { c["iat"] = t0.Add(time.Hour).Unix() })},
		{"wrong aud", signed(func(_, c map[string]any) { c["aud"] = "another-api" })},
		{"wrong aud in an array", signed(func(_, c map[string]any) { c["aud"] = []string{"another-api"} })},
		{"no aud", signed(func(_, c map[string]any) { delete(c, "aud") })},
		{"wrong iss", signed(func(_, c map[string]any) { c["iss"] = "https://evil.example" })},
		{"no iss", signed(func(_, c map[string]any) { delete(c, "iss") })},
		{"missing exp", signed(func(_, c map[string]any) { delete(c, "exp") })},
		{"exp not a number", signed(func(_, c map[string]any) { c["exp"] = "tomorrow" })},
		{"missing iat", signed(func(_, c map[string]any) { delete(c, "iat") })},
		{"missing sub", signed(func(_, c map[string]any) { delete(c, "sub") })},
		{"missing jti", signed(func(_, c map[string]any) { delete(c, "jti") })},
		{"missing roles", signed(func(_, c map[string]any) { delete(c, "roles") })},
		{"empty roles", signed(func(_, c map[string]any) { c["roles"] = []string{} })},
		{"unknown role", signed(func(_, c map[string]any) { c["roles"] = []string{"buyer", "superuser"} })},
		{"roles as a string", signed(func(_, c map[string]any) { c["roles"] = "admin" })},
		{"tampered payload", strings.Join(p, ".")},
		{"signed by a P-256 key not in the set, its own kid", forge(tb, hOwn, cOwn, es, stranger.Private)},
		{"signed by a P-256 key not in the set, a trusted kid", forge(tb, hStr, cStr, es, stranger.Private)},
		{"embedded jwk header", forge(tb, hJWK, cJWK, es, stranger.Private)},
		{"signature of the wrong length", longSig},
		{"no signature", strings.Join(strings.Split(signed(keep), ".")[:2], ".") + "."},
		{"two segments", strings.Join(strings.Split(signed(keep), ".")[:2], ".")},
		{"four segments", signed(keep) + ".x"},
		{"padded base64", strings.Replace(signed(keep), ".", "=.", 1)},
		{"empty", ""},
		{"oversized but otherwise valid", signed(func(_, c map[string]any) { c["pad"] = strings.Repeat("a", token.MaxTokenLen) })},
	}
}

func TestVerifyRejectsForgedTokens(t *testing.T) {
	ks := mustFixedKeySet(t)
	v := token.NewVerifier(ks, testIssuer, testAudience, fixedNow)

	// Controls: the forging helpers make acceptable tokens when nothing is
	// wrong, so each forgery below fails for its one defect.
	accepted := map[string]string{
		"control":                 forge(t, goodHeader(ks.Keys[0].ID), goodClaims(t0), jwt.SigningMethodES256, ks.Keys[0].Private),
		"previous key":            forge(t, goodHeader(ks.Keys[1].ID), goodClaims(t0), jwt.SigningMethodES256, ks.Keys[1].Private),
		"expired within leeway":   forge(t, goodHeader(ks.Keys[0].ID), withClaim(goodClaims(t0), "exp", t0.Add(-token.Leeway+time.Second).Unix()), jwt.SigningMethodES256, ks.Keys[0].Private),
		"iat within leeway ahead": forge(t, goodHeader(ks.Keys[0].ID), withClaim(goodClaims(t0), "iat", t0.Add(token.Leeway-time.Second).Unix()), jwt.SigningMethodES256, ks.Keys[0].Private),
		"no nbf":                  forge(t, goodHeader(ks.Keys[0].ID), withClaim(goodClaims(t0), "nbf", nil), jwt.SigningMethodES256, ks.Keys[0].Private),
		"aud array with ours":     forge(t, goodHeader(ks.Keys[0].ID), withClaim(goodClaims(t0), "aud", []string{"other", testAudience}), jwt.SigningMethodES256, ks.Keys[0].Private),
		"large, under the bound":  forge(t, goodHeader(ks.Keys[0].ID), withClaim(goodClaims(t0), "pad", strings.Repeat("a", token.MaxTokenLen/2)), jwt.SigningMethodES256, ks.Keys[0].Private),
	}
	for name, tok := range accepted {
		p, err := v.Verify(t.Context(), tok)
		require.NoError(t, err, name)
		assert.Equal(t, forgedSub, p.UserID, name)
	}

	fs := forgeries(t)
	require.GreaterOrEqual(t, len(fs), 10)
	for _, f := range fs {
		t.Run(f.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), f.tok)
			require.Error(t, err, "Verify accepted the forgery as %+v", p)
			assert.Equal(t, auth.Principal{}, p)
			fe, ok := fault.As(err)
			require.True(t, ok, "%v is not a fault", err)
			assert.Equal(t, fault.Unauthenticated, fe.Kind, "%v", err)
			assert.Contains(t, []string{"invalid access token", "the access token has expired"}, fe.Message, "the client sees no detail")
		})
	}
}

func withClaim(c map[string]any, k string, v any) map[string]any {
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestVerifySaysWhenATokenHasExpired(t *testing.T) {
	ks := mustFixedKeySet(t)
	clk := newClock(t0)
	tok := mustIssue(t, mustIssuer(t, ks, clk.Now), "usr_1", auth.Buyer)
	v := token.NewVerifier(ks, testIssuer, testAudience, clk.Now)
	clk.Advance(testTTL + token.Leeway)
	_, err := v.Verify(t.Context(), tok)
	fe, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, fault.Unauthenticated, fe.Kind)
	assert.Equal(t, "the access token has expired", fe.Message)
}

func TestRotationKeepsThePreviousKeyVerifying(t *testing.T) {
	clk := newClock(t0)
	src := &countingSource{ks: mustNewKeySet(t, clk.Now())}
	v := token.NewVerifier(src, testIssuer, testAudience, clk.Now)
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		return err
	}
	tok1 := mustIssue(t, mustIssuer(t, src.ks, clk.Now), "usr_1", auth.Buyer)
	require.NoError(t, verify(tok1))

	// First rotation: the new key signs, the old key's token still verifies.
	clk.Advance(time.Minute)
	ks2, err := token.Rotate(src.ks, clk.Now())
	require.NoError(t, err)
	src.set(ks2, nil)
	tok2 := mustIssue(t, mustIssuer(t, ks2, clk.Now), "usr_1", auth.Buyer)
	h2, _ := parts(t, tok2)
	require.Equal(t, ks2.Keys[0].ID, h2["kid"])
	assert.NoError(t, verify(tok2), "the new kid is fetched")
	assert.NoError(t, verify(tok1), "the previous key keeps verifying")

	// Second rotation: the first key is dropped; once the verifier has seen
	// the new set, its tokens fail even though they have not expired.
	clk.Advance(time.Minute)
	ks3, err := token.Rotate(ks2, clk.Now())
	require.NoError(t, err)
	src.set(ks3, nil)
	tok3 := mustIssue(t, mustIssuer(t, ks3, clk.Now), "usr_1", auth.Buyer)
	assert.NoError(t, verify(tok3))
	assert.NoError(t, verify(tok2))
	assert.Error(t, verify(tok1), "a key dropped by two rotations no longer verifies")

	fresh := token.NewVerifier(ks3, testIssuer, testAudience, clk.Now)
	_, err = fresh.Verify(t.Context(), tok1)
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err))
}

func TestVerifierFetchesKeysOnceAndRateLimitsUnknownKids(t *testing.T) {
	clk := newClock(t0)
	ks1 := mustNewKeySet(t, t0)
	src := &countingSource{ks: ks1}
	v := token.NewVerifier(src, testIssuer, testAudience, clk.Now)
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		return err
	}
	tok1 := mustIssue(t, mustIssuer(t, ks1, clk.Now), "usr_1", auth.Buyer)
	for range 5 {
		require.NoError(t, verify(tok1))
	}
	assert.Equal(t, 1, src.count(), "keys are fetched once and cached")

	// Garbage kids right after a fetch cost nothing.
	garbage := func(i int) string {
		return forge(t, goodHeader(fmt.Sprintf("garbage-%d", i)), goodClaims(clk.Now()), jwt.SigningMethodES256, ks1.Keys[0].Private)
	}
	for i := range 100 {
		require.Error(t, verify(garbage(i)))
	}
	assert.Equal(t, 1, src.count(), "unknown kids within the interval make no fetch")

	// A rotation within the interval: the new kid waits for the interval.
	ks2, err := token.Rotate(ks1, clk.Now())
	require.NoError(t, err)
	src.set(ks2, nil)
	tok2 := mustIssue(t, mustIssuer(t, ks2, clk.Now), "usr_1", auth.Buyer)
	assert.Error(t, verify(tok2))
	assert.Equal(t, 1, src.count())

	clk.Advance(token.RefetchInterval)
	require.NoError(t, verify(tok2), "a new kid is fetched once the interval has passed")
	require.NoError(t, verify(tok2))
	require.NoError(t, verify(tok1))
	assert.Equal(t, 2, src.count(), "one fetch for the new kid")

	for i := range 100 {
		require.Error(t, verify(garbage(i)))
	}
	assert.Equal(t, 2, src.count(), "garbage after the refetch is rate-limited")
	clk.Advance(token.RefetchInterval - time.Second)
	require.Error(t, verify(garbage(0)))
	assert.Equal(t, 2, src.count())
	clk.Advance(time.Second)
	for i := range 100 {
		require.Error(t, verify(garbage(i)))
	}
	assert.Equal(t, 3, src.count(), "at most one fetch per interval, however many garbage kids")
}

func TestVerifierRefreshesKeysOlderThanMaxAge(t *testing.T) {
	clk := newClock(t0)
	ks := mustNewKeySet(t, t0)
	src := &countingSource{ks: ks}
	v := token.NewVerifier(src, testIssuer, testAudience, clk.Now)
	iss, err := token.NewIssuer(ks, testIssuer, testAudience, time.Hour, clk.Now)
	require.NoError(t, err)
	tok := mustIssue(t, iss, "usr_1", auth.Buyer)

	_, err = v.Verify(t.Context(), tok)
	require.NoError(t, err)
	clk.Advance(token.KeysMaxAge - time.Second)
	_, err = v.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 1, src.count())

	// Past the max age the known kid is refreshed, and when the key store
	// fails the cached keys keep working.
	clk.Advance(time.Second)
	src.set(ks, errors.New("table unreachable"))
	_, err = v.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, 2, src.count())

	// Once the store answers, a set without the key makes it fail.
	clk.Advance(token.RefetchInterval)
	src.set(mustNewKeySet(t, clk.Now()), nil)
	_, err = v.Verify(t.Context(), tok)
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err), "%v", err)
	assert.Equal(t, 3, src.count())

	// A clock that jumps back does not freeze the cache.
	clk.Advance(-time.Hour)
	_, err = v.Verify(t.Context(), tok)
	assert.Error(t, err)
	assert.Equal(t, 4, src.count())
}

func TestVerifierReportsAnUnreadableKeyStoreAsUnavailable(t *testing.T) {
	clk := newClock(t0)
	ks := mustFixedKeySet(t)
	src := &countingSource{err: errors.New("table unreachable")}
	v := token.NewVerifier(src, testIssuer, testAudience, clk.Now)
	tok := mustIssue(t, mustIssuer(t, ks, clk.Now), "usr_1", auth.Buyer)

	for range 3 {
		_, err := v.Verify(t.Context(), tok)
		fe, ok := fault.As(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, fault.Unavailable, fe.Kind, "a valid token is not blamed for an outage")
		assert.NotContains(t, fe.Message, "unreachable", "the cause is for logs only")
	}
	assert.Equal(t, 1, src.count(), "failed fetches are rate-limited too")

	src.set(ks, nil)
	clk.Advance(token.RefetchInterval)
	p, err := v.Verify(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, "usr_1", p.UserID)
}

func TestVerifyIsSafeForConcurrentUse(t *testing.T) {
	ks := mustFixedKeySet(t)
	src := &countingSource{ks: ks}
	v := token.NewVerifier(src, testIssuer, testAudience, nil) // nil now is time.Now
	iss := mustIssuer(t, ks, nil)
	tok := mustIssue(t, iss, "usr_1", auth.Admin)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			p, err := v.Verify(t.Context(), tok)
			if err == nil && !p.Has(auth.Admin) {
				err = fmt.Errorf("roles %v", p.Roles)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, src.count(), "concurrent first requests share one fetch")
}
