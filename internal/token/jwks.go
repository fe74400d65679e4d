package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// jwk is a public EC key as RFC 7517/7518 describe it. It has no private
// members on purpose: a public set cannot carry one by mistake, and
// ParseJWKS rejects any it finds.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// JWKS returns the public RFC 7517 JWK Set of the keys, newest first, as
// served at /.well-known/jwks.json. It never contains private key material.
func (ks KeySet) JWKS() ([]byte, error) {
	if err := ks.check(); err != nil {
		return nil, err
	}
	set := jwkSet{Keys: make([]jwk, 0, len(ks.Keys))}
	for _, k := range ks.Keys {
		x, y, err := coordinates(k.public())
		if err != nil {
			return nil, err // unreachable after check; kept so no error is dropped
		}
		set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: k.ID, Alg: alg, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: marshal JWKS: %w", err)
	}
	return b, nil
}

// PublicKeys returns the set's public keys by kid, so that a KeySet is a
// KeySource (local stacks and tests verify straight from the set).
func (ks KeySet) PublicKeys(context.Context) (map[string]*ecdsa.PublicKey, error) {
	if err := ks.check(); err != nil {
		return nil, err
	}
	out := make(map[string]*ecdsa.PublicKey, len(ks.Keys))
	for _, k := range ks.Keys {
		out[k.ID] = k.public()
	}
	return out, nil
}

// coordinateLen is the length of a P-256 coordinate; RFC 7518 §6.2.1.2
// requires the full length, leading zeros included.
const coordinateLen = 32

// maxKid bounds a kid, here and in token headers, so that no input can make
// a lookup key of arbitrary size.
const maxKid = 128

// ParseJWKS parses a public JWK Set into keys by kid. It is strict, because
// the set decides which signatures are trusted: every key must be kty EC,
// crv P-256, alg ES256 and use sig when present, with a non-empty unique kid
// and full-length coordinates of a point on the curve. Unknown members —
// private ones ("d") included — and an empty set are rejected.
func ParseJWKS(b []byte) (map[string]*ecdsa.PublicKey, error) {
	var set jwkSet
	if err := decodeStrict(b, &set); err != nil {
		return nil, fmt.Errorf("token: parse JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("token: parse JWKS: no keys")
	}
	out := make(map[string]*ecdsa.PublicKey, len(set.Keys))
	for i, k := range set.Keys {
		pub, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("token: parse JWKS: key %d: %w", i, err)
		}
		if _, dup := out[k.Kid]; dup {
			return nil, fmt.Errorf("token: parse JWKS: duplicate kid %q", k.Kid)
		}
		out[k.Kid] = pub
	}
	return out, nil
}

func parseJWK(k jwk) (*ecdsa.PublicKey, error) {
	switch {
	case k.Kty != "EC":
		return nil, fmt.Errorf("kty %q is not EC", k.Kty)
	case k.Crv != "P-256":
		return nil, fmt.Errorf("crv %q is not P-256", k.Crv)
	case k.Alg != "" && k.Alg != alg:
		return nil, fmt.Errorf("alg %q is not %s", k.Alg, alg)
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf("use %q is not sig", k.Use)
	case k.Kid == "" || len(k.Kid) > maxKid:
		return nil, errors.New("missing or oversized kid")
	}
	x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if err := errors.Join(errX, errY); err != nil {
		return nil, fmt.Errorf("coordinates: %w", err)
	}
	if len(x) != coordinateLen || len(y) != coordinateLen {
		return nil, errors.New("coordinates are not 32 bytes")
	}
	point := make([]byte, 0, 1+2*coordinateLen)
	point = append(point, 4) // SEC 1 uncompressed point
	point = append(point, x...)
	point = append(point, y...)
	// ParseUncompressedPublicKey rejects points not on the curve and the
	// point at infinity, which invalid-curve attacks rely on.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// JWKSPath is where the public key set is served, relative to the issuer.
const JWKSPath = "/.well-known/jwks.json"

// OpenIDConfiguration returns the minimal OpenID discovery document that API
// Gateway's JWT authorizer reads from <issuer>/.well-known/openid-configuration
// to find the key set. The issuer must be an absolute http(s) URL without a
// query or fragment, exactly as tokens carry it in "iss".
func OpenIDConfiguration(issuer string) ([]byte, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("token: issuer %q is not an absolute http(s) URL", issuer)
	}
	doc := struct {
		Issuer           string   `json:"issuer"`
		JWKSURI          string   `json:"jwks_uri"`
		ResponseTypes    []string `json:"response_types_supported"`
		SubjectTypes     []string `json:"subject_types_supported"`
		SigningAlgValues []string `json:"id_token_signing_alg_values_supported"`
	}{
		Issuer:           issuer,
		JWKSURI:          strings.TrimSuffix(issuer, "/") + JWKSPath,
		ResponseTypes:    []string{"token"},
		SubjectTypes:     []string{"public"},
		SigningAlgValues: []string{alg},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("token: marshal discovery document: %w", err)
	}
	return b, nil
}
