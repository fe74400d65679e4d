package cursor_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/cursor"
)

var (
	key      = bytes.Repeat([]byte("k"), 32)
	otherKey = bytes.Repeat([]byte("o"), 32)
)

const scope = "listings|electronics||5000|newest"

// position is a realistic DynamoDB last-evaluated key.
func position() map[string]string {
	return map[string]string{"PK": "LISTINGS#electronics", "SK": "2026-01-02T03:04:05Z#lst_01J0000000000000000000000", "GSI1PK": "CAT#electronics"}
}

// MustEncode returns the cursor for pos in scope, failing the test if
// encoding fails.
func MustEncode(tb testing.TB, c *cursor.Codec, scope string, pos map[string]string) string {
	tb.Helper()
	s, err := c.Encode(scope, pos)
	require.NoError(tb, err)
	return s
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		scope string
		pos   map[string]string
	}{
		{"listing page", scope, position()},
		{"empty scope", "", map[string]string{"k": "v"}},
		{"unicode and quotes", `listings|"a"|é|`, map[string]string{"k\"ey": "välue\n\x00"}},
		{"empty value", scope, map[string]string{"k": ""}},
	}
	c := cursor.New(key)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustEncode(t, c, tt.scope, tt.pos)
			assert.NotContains(t, s, "=", "no padding")
			assert.Equal(t, s, url(s), "URL-safe without escaping")
			assert.LessOrEqual(t, len(s), cursor.MaxLen)
			got, err := c.Decode(tt.scope, s)
			require.NoErrorf(t, err, "Decode(%q, Encode(...)) failed", tt.scope)
			assert.Equal(t, tt.pos, got)

			again := MustEncode(t, c, tt.scope, tt.pos)
			assert.Equal(t, s, again, "Encode is deterministic")
		})
	}
}

// url returns s with the characters a query string would need escaped
// replaced, so it equals s only when s needs no escaping.
func url(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '?'
	}, s)
}

func TestTamperedByteAnywhereIsRejected(t *testing.T) {
	c := cursor.New(key)
	s := MustEncode(t, c, scope, position())
	raw, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	require.Greater(t, len(raw), sha256.Size, "a cursor is a MAC followed by a body")
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			forged := bytes.Clone(raw)
			forged[i] ^= mask
			got, err := c.Decode(scope, base64.RawURLEncoding.EncodeToString(forged))
			require.ErrorIsf(t, err, cursor.ErrInvalid, "byte %d ^ %#x accepted as %v", i, mask, got)
			require.Nil(t, got)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	c := cursor.New(key)
	valid := MustEncode(t, c, scope, position())
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	tests := []struct {
		name  string
		scope string
		s     string
	}{
		{"empty", scope, ""},
		{"other key", scope, MustEncode(t, cursor.New(otherKey), scope, position())},
		{"other scope", "listings|fashion||5000|newest", valid},
		{"scope prefix", scope + "x", valid},
		{"truncated", scope, valid[:len(valid)-4]},
		{"appended", scope, valid + "AAAA"},
		{"only the MAC", scope, base64.RawURLEncoding.EncodeToString(raw[:sha256.Size])},
		{"shorter than a MAC", scope, base64.RawURLEncoding.EncodeToString(raw[:sha256.Size-1])},
		{"std alphabet", scope, strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/"},
		{"garbage", scope, "!!!not a cursor!!!"},
		{"spaces", scope, "abc def"},
		{"over MaxLen", scope, strings.Repeat("A", cursor.MaxLen+1)},
		{"signed empty position", scope, MustEncode(t, c, scope, map[string]string{})},
		{"signed nil position", scope, MustEncode(t, c, scope, nil)},
		{"signed non-JSON body", scope, signed(key, []byte("not json"))},
		{"signed wrong JSON shape", scope, signed(key, []byte(`{"s":"`+scope+`","p":["a"]}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(tt.scope, tt.s)
			assert.ErrorIsf(t, err, cursor.ErrInvalid, "Decode(%q, %.40q) = %v, want ErrInvalid", tt.scope, tt.s, got)
			assert.Nil(t, got)
		})
	}
}

func TestMaxLenBoundary(t *testing.T) {
	c := cursor.New(key)
	// Grow the position one byte at a time until the cursor is exactly
	// MaxLen characters long (unpadded base64 reaches every length 4k).
	pos := map[string]string{"k": ""}
	for len(MustEncode(t, c, scope, pos)) < cursor.MaxLen {
		pos["k"] += "x"
	}
	s := MustEncode(t, c, scope, pos)
	require.Len(t, s, cursor.MaxLen)
	got, err := c.Decode(scope, s)
	require.NoError(t, err, "a cursor of exactly MaxLen is accepted")
	assert.Equal(t, pos, got)

	pos["k"] += "x"
	long := MustEncode(t, c, scope, pos)
	require.Greater(t, len(long), cursor.MaxLen)
	got, err = c.Decode(scope, long)
	assert.ErrorIs(t, err, cursor.ErrInvalid, "a validly signed cursor over MaxLen is still rejected")
	assert.Nil(t, got)
}

// Encode only signs JSON it builds itself, so these bodies are signed by hand:
// they check that a correct MAC alone does not make a cursor valid.
func signed(k, body []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(hmacSHA256(k, body), body...))
}

func FuzzDecode(f *testing.F) {
	c := cursor.New(key)
	for _, pos := range []map[string]string{position(), {"k": "v"}, {"a": "", "b": "é\x00"}} {
		f.Add(scope, MustEncode(f, c, scope, pos))
		f.Add("other", MustEncode(f, c, "other", pos))
		f.Add(scope, MustEncode(f, cursor.New(otherKey), scope, pos))
	}
	for _, g := range []string{"", "A", "AAAA", "!!!", "abc def", "eyJzIjoiIn0", strings.Repeat("A", cursor.MaxLen+1), signed(key, []byte(`{"s":"","p":{"x":"y"}}`))} {
		f.Add(scope, g)
		f.Add("", g)
	}
	f.Fuzz(func(t *testing.T, scope, s string) {
		got, err := c.Decode(scope, s)
		if err != nil {
			require.ErrorIs(t, err, cursor.ErrInvalid, "Decode fails only with ErrInvalid")
			require.Nil(t, got)
			return
		}
		require.NotEmpty(t, got, "an accepted cursor has a position")
		again, err := c.Decode(scope, MustEncode(t, c, scope, got))
		require.NoError(t, err, "re-encoding an accepted position must decode")
		require.Equal(t, got, again)
		_, err = cursor.New(otherKey).Decode(scope, s)
		require.ErrorIs(t, err, cursor.ErrInvalid, "accepted by two keys")
	})
}

func hmacSHA256(k, body []byte) []byte {
	h := hmac.New(sha256.New, k)
	h.Write(body)
	return h.Sum(nil)
}
