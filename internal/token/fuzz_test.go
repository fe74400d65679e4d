package token_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/token"
)

// seededSub is the subject of the one token the issuer makes for the fuzz
// seed; the forgeries carry forgedSub.
const seededSub = "usr_seeded"

// FuzzVerify checks that no input makes Verify panic, and that the only
// tokens it accepts are the issuer's own: a mutation of the seed can at
// most still be that token, never a new subject or new roles.
func FuzzVerify(f *testing.F) {
	ks := mustFixedKeySet(f)
	valid := mustIssue(f, mustIssuer(f, ks, fixedNow), seededSub, auth.Buyer)
	f.Add(valid)
	for _, fg := range forgeries(f) {
		f.Add(fg.tok)
	}
	v := token.NewVerifier(ks, testIssuer, testAudience, fixedNow)
	if p, err := v.Verify(context.Background(), valid); err != nil || p.UserID != seededSub {
		f.Fatalf("the seed does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			return
		}
		if p.UserID != seededSub || len(p.Roles) != 1 || p.Roles[0] != auth.Buyer {
			t.Fatalf("Verify(%q) accepted a token the issuer never made: %+v", tok, p)
		}
	})
}

// FuzzParseJWKS checks that no input makes ParseJWKS panic and that any set
// it accepts holds only valid P-256 keys, which survive a round trip through
// KeySet.JWKS unchanged.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(fixedJWKS))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"k"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"qHXHSWGG9HwVQL0WaqX0cPYFtdfXobLMpzoZyMF6Fxs","y":"cwWbibPc33pb2ex7FK1tEnoXkw6pweOaOctnxq1KeYc","kid":"k","d":"AAAA"}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := token.ParseJWKS(b)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatalf("ParseJWKS(%q) accepted an empty set", b)
		}
		var ks token.KeySet
		for kid, pub := range keys {
			if _, err := pub.Bytes(); err != nil {
				t.Fatalf("ParseJWKS(%q) returned an invalid key %q: %v", b, kid, err)
			}
			ks.Keys = append(ks.Keys, token.Key{ID: kid, Public: pub})
		}
		out, err := ks.JWKS()
		if err != nil {
			t.Fatalf("an accepted set does not re-encode: %v", err)
		}
		again, err := token.ParseJWKS(out)
		if err != nil {
			t.Fatalf("ParseJWKS(JWKS()) = %v", err)
		}
		if len(again) != len(keys) {
			t.Fatalf("round trip changed the set: %d keys, want %d", len(again), len(keys))
		}
		for kid, pub := range keys {
			if !pub.Equal(again[kid]) {
				t.Fatalf("round trip changed key %q", kid)
			}
		}
		if !json.Valid(out) {
			t.Fatalf("JWKS() is not JSON: %s", out)
		}
	})
}
