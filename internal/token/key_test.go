package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/token"
)

var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)

func TestNewKeyIsP256WithAStableShortKid(t *testing.T) {
	k, err := token.NewKey(t0)
	require.NoError(t, err)
	assert.Equal(t, elliptic.P256(), k.Private.Curve)
	assert.True(t, k.Public.Equal(&k.Private.PublicKey))
	assert.Regexp(t, kidPattern, k.ID)
	assert.Equal(t, t0, k.Created)

	// The kid depends on the public key only: the same key parsed back, or
	// stripped of its private half, has the same kid.
	b, err := token.KeySet{Keys: []token.Key{k}}.Marshal()
	require.NoError(t, err)
	back, err := token.ParseKeySet(b)
	require.NoError(t, err)
	assert.Equal(t, k.ID, back.Keys[0].ID)

	other, err := token.NewKey(t0)
	require.NoError(t, err)
	assert.NotEqual(t, k.ID, other.ID)
}

func TestKidIsTheTruncatedRFC7638Thumbprint(t *testing.T) {
	ks := mustFixedKeySet(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(fixedJWKS), &set))
	require.Len(t, set.Keys, len(ks.Keys))
	for i, k := range set.Keys {
		// RFC 7638 §3.2: the required members in lexical order, no whitespace.
		canonical := `{"crv":"P-256","kty":"EC","x":"` + k["x"] + `","y":"` + k["y"] + `"}`
		sum := sha256.Sum256([]byte(canonical))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:12]), ks.Keys[i].ID, "key %d", i)
	}
}

func TestKeySetMarshalRoundTrip(t *testing.T) {
	ks := mustNewKeySet(t, t0)
	ks, err := token.Rotate(ks, t0.Add(time.Hour))
	require.NoError(t, err)
	pubOnly, err := token.NewKey(t0.Add(-time.Hour))
	require.NoError(t, err)
	pubOnly.Private = nil
	ks.Keys = append(ks.Keys, pubOnly)

	b, err := ks.Marshal()
	require.NoError(t, err)
	got, err := token.ParseKeySet(b)
	require.NoError(t, err)
	require.Len(t, got.Keys, 3)
	for i, want := range ks.Keys {
		assert.Equal(t, want.ID, got.Keys[i].ID, "key %d", i)
		assert.True(t, want.Created.Equal(got.Keys[i].Created), "key %d created", i)
		assert.True(t, want.Public.Equal(got.Keys[i].Public), "key %d public", i)
		if want.Private == nil {
			assert.Nil(t, got.Keys[i].Private, "key %d must stay public-only", i)
		} else {
			assert.True(t, want.Private.Equal(got.Keys[i].Private), "key %d private", i)
		}
	}
}

// storedEntry returns one entry of the private format, for building bad sets.
func storedEntry(t *testing.T, kid string, priv, pub []byte) map[string]any {
	t.Helper()
	m := map[string]any{"kid": kid, "created": "2026-11-01T12:00:00Z"}
	if priv != nil {
		m["privateKey"] = base64.StdEncoding.EncodeToString(priv)
	}
	if pub != nil {
		m["publicKey"] = base64.StdEncoding.EncodeToString(pub)
	}
	return m
}

func TestParseKeySetRejects(t *testing.T) {
	good, err := token.NewKey(t0)
	require.NoError(t, err)
	goodDER, err := x509.MarshalPKCS8PrivateKey(good.Private)
	require.NoError(t, err)
	goodPub, err := x509.MarshalPKIXPublicKey(good.Public)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)
	p384Pub, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	require.NoError(t, err)
	edPub, err := x509.MarshalPKIXPublicKey(edPriv.Public())
	require.NoError(t, err)

	set := func(entries ...map[string]any) string {
		b, err := json.Marshal(map[string]any{"keys": entries})
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", "nope", "parse key set"},
		{"no keys member", `{}`, "empty key set"},
		{"empty", `{"keys":[]}`, "empty key set"},
		{"unknown member", `{"keys":[],"extra":1}`, "unknown field"},
		{"trailing data", set(storedEntry(t, good.ID, goodDER, nil)) + `{}`, "data after"},
		{"P-384 private", set(storedEntry(t, "k", p384DER, nil)), "not a P-256 key"},
		{"P-384 public", set(storedEntry(t, "k", nil, p384Pub)), "not a P-256 key"},
		{"Ed25519 private", set(storedEntry(t, "k", edDER, nil)), "not an ECDSA key"},
		{"Ed25519 public", set(storedEntry(t, "k", nil, edPub)), "not an ECDSA key"},
		{"garbage DER", set(storedEntry(t, "k", []byte("garbage"), nil)), "key 0"},
		{"garbage public DER", set(storedEntry(t, "k", nil, []byte("garbage"))), "key 0"},
		{"no key material", set(storedEntry(t, good.ID, nil, nil)), "no privateKey or publicKey"},
		{"both forms", set(storedEntry(t, good.ID, goodDER, goodPub)), "both"},
		{"kid not the thumbprint", set(storedEntry(t, "chosen-by-hand", goodDER, nil)), "thumbprint"},
		{"duplicate kid", set(storedEntry(t, good.ID, goodDER, nil), storedEntry(t, good.ID, nil, goodPub)), "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := token.ParseKeySet([]byte(tt.in))
			require.Error(t, err, "ParseKeySet(%s) = %v", tt.in, ks)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMarshalAndJWKSRejectInvalidSets(t *testing.T) {
	good, err := token.NewKey(t0)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	other, err := token.NewKey(t0)
	require.NoError(t, err)
	mismatched := good
	mismatched.Public = other.Public

	tests := []struct {
		name string
		ks   token.KeySet
		want string
	}{
		{"empty", token.KeySet{}, "empty"},
		{"no id", token.KeySet{Keys: []token.Key{{Private: good.Private}}}, "no id"},
		{"duplicate id", token.KeySet{Keys: []token.Key{good, good}}, "duplicate"},
		{"no key", token.KeySet{Keys: []token.Key{{ID: "k"}}}, "not a P-256 key"},
		{"P-384", token.KeySet{Keys: []token.Key{{ID: "k", Private: p384}}}, "not a P-256 key"},
		{"public does not match private", token.KeySet{Keys: []token.Key{mismatched}}, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ks.Marshal()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = tt.ks.JWKS()
			require.Error(t, err)
			_, err = tt.ks.PublicKeys(t.Context())
			require.Error(t, err)
			_, err = token.NewIssuer(tt.ks, testIssuer, testAudience, testTTL, nil)
			require.Error(t, err)
		})
	}
}

func TestRotateKeepsTheActiveKeyAndDropsOlderOnes(t *testing.T) {
	one, err := token.Rotate(token.KeySet{}, t0)
	require.NoError(t, err)
	require.Len(t, one.Keys, 1)
	assert.NotNil(t, one.Keys[0].Private)

	two, err := token.Rotate(one, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, two.Keys, 2)
	assert.Equal(t, one.Keys[0].ID, two.Keys[1].ID, "the previous key stays, second")
	assert.NotEqual(t, one.Keys[0].ID, two.Keys[0].ID)
	assert.Equal(t, t0.Add(time.Hour), two.Keys[0].Created)

	three, err := token.Rotate(two, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Len(t, three.Keys, 2, "never more than two keys")
	assert.Equal(t, two.Keys[0].ID, three.Keys[1].ID)
	for _, k := range three.Keys {
		assert.NotEqual(t, one.Keys[0].ID, k.ID, "the oldest key is dropped")
	}

	// A set whose newest key only verifies: the key that actually signed is
	// the one kept, since it is the one with tokens outstanding.
	pubFirst := token.KeySet{Keys: []token.Key{{ID: two.Keys[0].ID, Created: two.Keys[0].Created, Public: two.Keys[0].Public}, two.Keys[1]}}
	r, err := token.Rotate(pubFirst, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Len(t, r.Keys, 2)
	assert.Equal(t, two.Keys[1].ID, r.Keys[1].ID)
}

func TestJWKSHasOnlyPublicMembers(t *testing.T) {
	ks := mustFixedKeySet(t)
	b, err := ks.JWKS()
	require.NoError(t, err)
	assert.JSONEq(t, fixedJWKS, string(b))

	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(b, &set))
	require.Len(t, set.Keys, 2)
	for i, k := range set.Keys {
		var members []string
		for m := range k {
			members = append(members, m)
		}
		assert.ElementsMatch(t, []string{"kty", "crv", "x", "y", "kid", "alg", "use"}, members, "key %d", i)
		assert.Equal(t, ks.Keys[i].ID, k["kid"], "newest first")
	}
	for _, k := range ks.Keys {
		d, err := k.Private.Bytes()
		require.NoError(t, err)
		assert.NotContains(t, string(b), base64.RawURLEncoding.EncodeToString(d), "private scalar leaked")
		assert.NotContains(t, string(b), base64.StdEncoding.EncodeToString(d), "private scalar leaked")
	}
	assert.NotContains(t, strings.ToLower(string(b)), `"d"`)
}

func TestKeySetPublicKeys(t *testing.T) {
	ks := mustFixedKeySet(t)
	ks.Keys[1].Public = nil // the public half comes from the private key
	got, err := ks.PublicKeys(t.Context())
	require.NoError(t, err)
	require.Len(t, got, 2)
	for _, k := range ks.Keys {
		assert.True(t, got[k.ID].Equal(&k.Private.PublicKey), k.ID)
	}
}
