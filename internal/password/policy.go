package password

import (
	_ "embed"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// Length limits, in characters (runes), not bytes, so that a passphrase in
// any script gets the same allowance. The upper bound keeps hashing cheap
// and still leaves room for long passphrases.
const (
	MinLength = 12
	MaxLength = 128
)

// minLocalPart is the shortest email local part Check looks for inside a
// password; shorter ones ("bo", "ann") occur in too many good passwords.
const minLocalPart = 4

// commonText lists, one per line and in lower case, passwords that
// attackers try first. Only entries of at least MinLength characters are
// worth listing: shorter ones fail the length rule anyway.
//
//go:embed common.txt
var commonText string

// common is the set built from commonText on first use rather than in
// init, so that processes that never check a password never pay for it.
var common = sync.OnceValue(func() map[string]struct{} {
	set := map[string]struct{}{}
	for line := range strings.Lines(commonText) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

// Check returns nil if pw is acceptable as a new password for the account
// with the (already normalised) email, or a fault.Invalid error for the
// field "password" whose message says which rule pw breaks. The rules follow
// NIST SP 800-63B: length, and no password an attacker would guess first,
// instead of rules about character classes.
func Check(pw, email string) error {
	const op = "password.Check"
	if msg := problem(pw, email); msg != "" {
		return fault.Validation(op, fault.FieldError{Field: "password", Message: msg})
	}
	return nil
}

// problem returns why pw is not acceptable, or "".
func problem(pw, email string) string {
	if !utf8.ValidString(pw) {
		return "must be valid UTF-8 text"
	}
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinLength:
		return "must be at least " + strconv.Itoa(MinLength) + " characters long"
	case n > MaxLength:
		return "must be at most " + strconv.Itoa(MaxLength) + " characters long"
	}
	first, _ := utf8.DecodeRuneInString(pw)
	if strings.Trim(pw, string(first)) == "" {
		return "must not be a single character repeated"
	}
	lower := strings.ToLower(pw)
	local := strings.ToLower(email)
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	if utf8.RuneCountInString(local) >= minLocalPart && strings.Contains(lower, local) {
		return "must not contain the part of your email address before the @"
	}
	if _, ok := common()[lower]; ok {
		return "is one of the most commonly used passwords; choose another"
	}
	return ""
}
