// Package cursor makes pagination cursors opaque and tamper-evident. A cursor
// is the store's position, bound to the query it belongs to, signed with
// HMAC-SHA256: a client can hand it back but cannot forge, edit or reuse it
// for a different query.
package cursor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// ErrInvalid is returned for a cursor that was not issued by this Codec for
// the same query.
var ErrInvalid = errors.New("cursor: invalid")

// MaxLen bounds an encoded cursor, so a hostile one costs nothing to reject.
const MaxLen = 2048

// Codec signs and verifies cursors with one key.
type Codec struct {
	key []byte
}

// New returns a Codec signing with key, which should be at least 32 random
// bytes kept secret.
func New(key []byte) *Codec {
	return &Codec{key: key}
}

type payload struct {
	Scope    string            `json:"s"`
	Position map[string]string `json:"p"`
}

// Encode returns the cursor for position within scope, a canonical
// description of the query (filters and order) the position belongs to.
func (c *Codec) Encode(scope string, position map[string]string) (string, error) {
	body, err := json.Marshal(payload{Scope: scope, Position: position})
	if err != nil {
		return "", err
	}
	mac := c.sign(body)
	return base64.RawURLEncoding.EncodeToString(append(mac, body...)), nil
}

// Decode verifies s and returns its position. It fails with ErrInvalid when
// s is malformed, was signed with another key, or belongs to another scope.
func (c *Codec) Decode(scope, s string) (map[string]string, error) {
	if len(s) > MaxLen {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < sha256.Size {
		return nil, ErrInvalid
	}
	mac, body := raw[:sha256.Size], raw[sha256.Size:]
	if !hmac.Equal(mac, c.sign(body)) {
		return nil, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || p.Scope != scope || len(p.Position) == 0 {
		return nil, ErrInvalid
	}
	return p.Position, nil
}

func (c *Codec) sign(body []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write(body)
	return h.Sum(nil)
}
