// Package token issues and verifies the short-lived ES256 access tokens that
// authenticate API calls, and manages the P-256 signing keys behind them: the
// private key set kept in the secret store, its rotation, and the public JWK
// Set that verifiers and API Gateway's JWT authorizer read.
//
// Rotation keeps two keys: the active one signs, the previous one only
// verifies, so tokens signed just before a rotation stay valid until they
// expire. Rotate no more often than the access-token lifetime, or tokens
// signed by a key dropped after two rotations stop verifying early.
package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Key is one signing key. Private is nil for a key that only verifies.
type Key struct {
	// ID is the key's kid: a truncated RFC 7638 thumbprint of the public
	// key, so the same key always has the same id and ids never collide by
	// accident.
	ID      string
	Created time.Time
	Private *ecdsa.PrivateKey
	Public  *ecdsa.PublicKey
}

// NewKey generates a P-256 key created at now.
func NewKey(now time.Time) (Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("token: generate key: %w", err)
	}
	kid, err := keyID(&priv.PublicKey)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: kid, Created: now.UTC(), Private: priv, Public: &priv.PublicKey}, nil
}

// public returns the key's public half, from Private when Public is unset.
func (k Key) public() *ecdsa.PublicKey {
	if k.Public != nil {
		return k.Public
	}
	if k.Private != nil {
		return &k.Private.PublicKey
	}
	return nil
}

// kidBytes is how much of the thumbprint the kid keeps: 96 bits are far
// beyond any chance collision among a handful of keys, and keep the kid
// (16 characters) short in every token header.
const kidBytes = 12

// keyID returns the kid of pub: the base64url RFC 7638 JWK thumbprint
// (SHA-256 over the canonical {"crv","kty","x","y"} members), truncated.
func keyID(pub *ecdsa.PublicKey) (string, error) {
	x, y, err := coordinates(pub)
	if err != nil {
		return "", err
	}
	// The members are in lexical order with no whitespace, as RFC 7638
	// requires; base64url text needs no JSON escaping.
	canonical := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:kidBytes]), nil
}

// coordinates returns the base64url x and y coordinates of a P-256 key.
func coordinates(pub *ecdsa.PublicKey) (x, y string, err error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return "", "", errors.New("token: not a P-256 key")
	}
	b, err := pub.Bytes() // 0x04 || X || Y, each 32 bytes
	if err != nil {
		return "", "", fmt.Errorf("token: invalid P-256 key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[1:33]), base64.RawURLEncoding.EncodeToString(b[33:65]), nil
}

// KeySet is the set of keys, newest first. The first key with a private key
// signs; every key verifies.
type KeySet struct {
	Keys []Key
}

// signer returns the key that signs.
func (ks KeySet) signer() (Key, bool) {
	for _, k := range ks.Keys {
		if k.Private != nil {
			return k, true
		}
	}
	return Key{}, false
}

// check rejects an empty set, keys that are not P-256, keys without an id
// and duplicate ids, so that no malformed set is ever written or used.
func (ks KeySet) check() error {
	if len(ks.Keys) == 0 {
		return errors.New("token: empty key set")
	}
	seen := map[string]bool{}
	for i, k := range ks.Keys {
		if k.ID == "" {
			return fmt.Errorf("token: key %d has no id", i)
		}
		if seen[k.ID] {
			return fmt.Errorf("token: duplicate key id %q", k.ID)
		}
		seen[k.ID] = true
		pub := k.public()
		if _, _, err := coordinates(pub); err != nil {
			return fmt.Errorf("token: key %q: %w", k.ID, err)
		}
		if k.Private != nil && !k.Private.PublicKey.Equal(pub) {
			return fmt.Errorf("token: key %q: public key does not match the private key", k.ID)
		}
	}
	return nil
}

// storedSet is the private form of a KeySet, as kept in the secret store:
//
//	{"keys":[{"kid":"…","created":"2026-11-01T12:00:00Z","privateKey":"<base64 PKCS#8 DER>"}, …]}
//
// A key that only verifies has "publicKey" (base64 PKIX DER) instead of
// "privateKey". PKCS#8 and PKIX are what openssl and every crypto library
// read, so an operator can inspect a key without this code.
type storedSet struct {
	Keys []storedKey `json:"keys"`
}

type storedKey struct {
	ID         string    `json:"kid"`
	Created    time.Time `json:"created"`
	PrivateKey []byte    `json:"privateKey,omitempty"`
	PublicKey  []byte    `json:"publicKey,omitempty"`
}

// Marshal returns the private form of the set, for the secret store only:
// it contains private keys. See ParseKeySet for the format.
func (ks KeySet) Marshal() ([]byte, error) {
	if err := ks.check(); err != nil {
		return nil, err
	}
	out := storedSet{Keys: make([]storedKey, 0, len(ks.Keys))}
	for _, k := range ks.Keys {
		sk := storedKey{ID: k.ID, Created: k.Created.UTC()}
		var err error
		if k.Private != nil {
			sk.PrivateKey, err = x509.MarshalPKCS8PrivateKey(k.Private)
		} else {
			sk.PublicKey, err = x509.MarshalPKIXPublicKey(k.Public)
		}
		if err != nil {
			return nil, fmt.Errorf("token: marshal key %q: %w", k.ID, err)
		}
		out.Keys = append(out.Keys, sk)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("token: marshal key set: %w", err)
	}
	return b, nil
}

// ParseKeySet parses the output of Marshal: a JSON object whose "keys"
// array lists, newest first, objects with "kid", "created" (RFC 3339) and
// either "privateKey" (base64 PKCS#8 DER) or "publicKey" (base64 PKIX DER).
// It rejects an empty set, keys that are not ECDSA P-256, a kid that is not
// the key's thumbprint, duplicate kids and unknown members.
func ParseKeySet(b []byte) (KeySet, error) {
	var in storedSet
	if err := decodeStrict(b, &in); err != nil {
		return KeySet{}, fmt.Errorf("token: parse key set: %w", err)
	}
	ks := KeySet{Keys: make([]Key, 0, len(in.Keys))}
	for i, sk := range in.Keys {
		k, err := parseStoredKey(sk)
		if err != nil {
			return KeySet{}, fmt.Errorf("token: parse key set: key %d: %w", i, err)
		}
		ks.Keys = append(ks.Keys, k)
	}
	if err := ks.check(); err != nil {
		return KeySet{}, err
	}
	return ks, nil
}

func parseStoredKey(sk storedKey) (Key, error) {
	k := Key{ID: sk.ID, Created: sk.Created.UTC()}
	switch {
	case len(sk.PrivateKey) > 0 && len(sk.PublicKey) > 0:
		return Key{}, errors.New("both privateKey and publicKey")
	case len(sk.PrivateKey) > 0:
		raw, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
		if err != nil {
			return Key{}, err
		}
		priv, ok := raw.(*ecdsa.PrivateKey)
		if !ok {
			return Key{}, fmt.Errorf("%T is not an ECDSA key", raw)
		}
		k.Private, k.Public = priv, &priv.PublicKey
	case len(sk.PublicKey) > 0:
		raw, err := x509.ParsePKIXPublicKey(sk.PublicKey)
		if err != nil {
			return Key{}, err
		}
		pub, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return Key{}, fmt.Errorf("%T is not an ECDSA key", raw)
		}
		k.Public = pub
	default:
		return Key{}, errors.New("no privateKey or publicKey")
	}
	want, err := keyID(k.Public)
	if err != nil {
		return Key{}, err
	}
	if k.ID != want {
		return Key{}, fmt.Errorf("kid %q is not the key's thumbprint", k.ID)
	}
	return k, nil
}

// decodeStrict decodes exactly one JSON value with no unknown members, so
// that a typo in a hand-edited secret fails loudly instead of being ignored.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// Rotate returns a set whose new key, created at now, signs; the key that
// signed before stays to verify the tokens it issued until they expire, and
// every older key is dropped, so a set never holds more than two keys.
// Rotating an empty set yields a single key.
func Rotate(ks KeySet, now time.Time) (KeySet, error) {
	k, err := NewKey(now)
	if err != nil {
		return KeySet{}, err
	}
	out := KeySet{Keys: []Key{k}}
	if prev, ok := ks.signer(); ok {
		out.Keys = append(out.Keys, prev)
	}
	return out, nil
}
