package token_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/token"
)

func TestParseJWKSRoundTrip(t *testing.T) {
	ks := mustFixedKeySet(t)
	b, err := ks.JWKS()
	require.NoError(t, err)
	got, err := token.ParseJWKS(b)
	require.NoError(t, err)
	want, err := ks.PublicKeys(t.Context())
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for kid, pub := range want {
		assert.True(t, pub.Equal(got[kid]), kid)
	}

	// alg and use are optional in RFC 7517; a set without them still parses.
	bare := strings.NewReplacer(`,"alg":"ES256"`, "", `,"use":"sig"`, "").Replace(fixedJWKS)
	require.NotEqual(t, fixedJWKS, bare)
	got, err = token.ParseJWKS([]byte(bare))
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// jwkWith returns the fixed set's first key with one member changed (or
// removed, for a nil value), as a one-key set.
func jwkWith(t *testing.T, member string, value any) string {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(fixedJWKS), &set))
	k := set.Keys[0]
	if value == nil {
		delete(k, member)
	} else {
		k[member] = value
	}
	b, err := json.Marshal(map[string]any{"keys": []any{k}})
	require.NoError(t, err)
	return string(b)
}

func TestParseJWKSRejects(t *testing.T) {
	const x = "qHXHSWGG9HwVQL0WaqX0cPYFtdfXobLMpzoZyMF6Fxs"
	const y = "cwWbibPc33pb2ex7FK1tEnoXkw6pweOaOctnxq1KeYc"
	yRaw, err := base64.RawURLEncoding.DecodeString(y)
	require.NoError(t, err)
	yRaw[31] ^= 1 // (x, y±1) is not on P-256: y² would differ
	offCurve := base64.RawURLEncoding.EncodeToString(yRaw)
	xRaw, err := base64.RawURLEncoding.DecodeString(x)
	require.NoError(t, err)
	short := base64.RawURLEncoding.EncodeToString(xRaw[1:])
	twice := strings.Replace(fixedJWKS, `"kid":"LfizQiLPr6vFUvwJ"`, `"kid":"VUOIgX5ZMGOemT8Z"`, 1)

	tests := []struct {
		name, in, want string
	}{
		{"not JSON", "nope", "parse JWKS"},
		{"empty", `{"keys":[]}`, "no keys"},
		{"no keys member", `{}`, "no keys"},
		{"trailing data", fixedJWKS + "[]", "data after"},
		{"unknown top-level member", `{"keys":[],"x":1}`, "unknown field"},
		{"private member d", jwkWith(t, "d", "AAAA"), "unknown field"},
		{"kty RSA", jwkWith(t, "kty", "RSA"), "kty"},
		{"kty oct", jwkWith(t, "kty", "oct"), "kty"},
		{"no kty", jwkWith(t, "kty", nil), "kty"},
		{"crv P-384", jwkWith(t, "crv", "P-384"), "crv"},
		{"alg RS256", jwkWith(t, "alg", "RS256"), "alg"},
		{"alg none", jwkWith(t, "alg", "none"), "alg"},
		{"use enc", jwkWith(t, "use", "enc"), "use"},
		{"no kid", jwkWith(t, "kid", nil), "kid"},
		{"oversized kid", jwkWith(t, "kid", strings.Repeat("k", 129)), "kid"},
		{"duplicate kid", twice, "duplicate kid"},
		{"x not base64url", jwkWith(t, "x", "+/+/"), "coordinates"},
		{"x padded", jwkWith(t, "x", x+"="), "coordinates"},
		{"x short", jwkWith(t, "x", short), "32 bytes"},
		{"y missing", jwkWith(t, "y", nil), "32 bytes"},
		{"point not on the curve", jwkWith(t, "y", offCurve), "not on curve"},
		{"x zero", jwkWith(t, "x", strings.Repeat("A", 43)), "not on curve"},
		{"x as a number", jwkWith(t, "x", 12), "parse JWKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.ParseJWKS([]byte(tt.in))
			require.Error(t, err, "ParseJWKS(%s) = %v", tt.in, got)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	b, err := token.OpenIDConfiguration("https://api.example.test/")
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"issuer": "https://api.example.test/",
		"jwks_uri": "https://api.example.test/.well-known/jwks.json",
		"response_types_supported": ["token"],
		"subject_types_supported": ["public"],
		"id_token_signing_alg_values_supported": ["ES256"]
	}`, string(b))

	b, err = token.OpenIDConfiguration("http://127.0.0.1:8080")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "http://127.0.0.1:8080/.well-known/jwks.json", doc["jwks_uri"])

	for _, bad := range []string{"", "api.example.test", "ftp://api.example.test", "https://", "https://a.test/?x=1", "https://a.test/#f", "https://u:p@a.test", "://"} {
		_, err := token.OpenIDConfiguration(bad)
		assert.Error(t, err, "OpenIDConfiguration(%q)", bad)
	}
}
