package password

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
)

func TestCheck(t *testing.T) {
	const email = "jane.doe@example.com"
	tests := []struct {
		name, pw, email string
		want            string // a part of the message; "" for no error
	}{
		{"passphrase", "glacier plum 47 ferry", email, ""},
		{"exactly 12", "k7#Lm2$pQx9!", email, ""},
		{"11", "k7#Lm2$pQx9", email, "at least 12 characters"},
		{"empty", "", email, "at least 12 characters"},
		{"12 runes, 24 bytes", "äöüßäöüßäöüß", email, ""},
		{"11 runes, 22 bytes", "äöüßäöüßäöü", email, "at least 12 characters"},
		{"6 runes, 24 bytes", "🔒🔑🔒🔑🔒🔑", email, "at least 12 characters"},
		{"128", strings.Repeat("ab", 64), email, ""},
		{"129", strings.Repeat("ab", 64) + "c", email, "at most 128 characters"},
		{"128 runes, 256 bytes", strings.Repeat("äö", 64), email, ""},
		{"invalid UTF-8", "glacier plum \xff47 ferry", email, "valid UTF-8"},
		{"one letter repeated", "aaaaaaaaaaaa", email, "single character repeated"},
		{"one symbol repeated", strings.Repeat(".", 40), email, "single character repeated"},
		{"one rune repeated", strings.Repeat("ß", 12), email, "single character repeated"},
		{"two letters alternate", "abababababab", email, ""},
		{"contains local part", "my jane.doe password", email, "before the @"},
		{"contains local part, other case", "My-JANE.DOE-Passw0rd", email, "before the @"},
		{"is local part plus", "jane.doe@example", email, "before the @"},
		{"local part of 4", "what a great amy day", "amyx@example.com", ""},
		{"local part of 4, contained", "what a great amyx day", "amyx@example.com", "before the @"},
		{"local part of 3", "bob is my uncle 77", "bob@example.com", ""},
		{"local part with @ inside", "my \"a@b\" sign in", "\"a@b\"@example.com", "before the @"},
		{"no @ in email", "glacier plum 47 ferry", "glacier", "before the @"},
		{"empty email", "glacier plum 47 ferry", "", ""},
		{"domain is fine", "example.com is my site", email, ""},
		{"common", "password123456", email, "most commonly used"},
		{"common, mixed case", "PassWord123456", email, "most commonly used"},
		{"common keyboard walk", "qwertyuiop12", email, "most commonly used"},
		{"common with a twist", "qwertyuiop12#", email, ""},
		{"common phrase", "correcthorsebatterystaple", email, "most commonly used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.pw, tt.email)
			if tt.want == "" {
				assert.NoError(t, err, "Check(%q, %q)", tt.pw, tt.email)
				return
			}
			require.Error(t, err, "Check(%q, %q)", tt.pw, tt.email)
			fe, ok := fault.As(err)
			require.True(t, ok, "not a fault: %v", err)
			assert.Equal(t, fault.Invalid, fe.Kind)
			require.Len(t, fe.Fields, 1)
			assert.Equal(t, "password", fe.Fields[0].Field)
			assert.Contains(t, fe.Fields[0].Message, tt.want, "Check(%q, %q)", tt.pw, tt.email)
			assert.Equal(t, "password: "+fe.Fields[0].Message, fe.Message, "the caller sees which field and why")
		})
	}
}

func TestCommonList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
	assert.GreaterOrEqual(t, len(lines), 300, "the list is meant to hold a few hundred passwords")
	seen := map[string]bool{}
	for _, w := range lines {
		n := utf8.RuneCountInString(w)
		assert.True(t, n >= MinLength && n <= MaxLength, "%q has %d characters: the length rule decides it already", w, n)
		assert.Equal(t, strings.ToLower(w), w, "%q is not lower case: it would never match", w)
		assert.Equal(t, strings.TrimSpace(w), w, "%q has surrounding space", w)
		assert.False(t, seen[w], "%q is listed twice", w)
		seen[w] = true
		err := Check(w, "someone@example.com")
		if assert.Error(t, err, "Check(%q)", w) {
			assert.Equal(t, fault.Invalid, fault.KindOf(err))
		}
	}
	assert.Len(t, common(), len(lines))
}
