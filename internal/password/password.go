// Package password hashes and checks passwords with argon2id, stored in the
// PHC string format, and holds the policy a new password must meet.
//
// The parameters are read back from each stored hash, so they can be raised
// later without invalidating existing hashes: NeedsRehash tells the login
// path when to store a fresh hash of the password it has just verified.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// The current parameters, the OWASP recommendation for argon2id: 19 MiB of
// memory, two passes, one lane.
const (
	memoryKiB = 19456
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// Bounds on the parameters Verify accepts. A stored hash is trusted data,
// but a corrupt or planted one must cost an error, not a gigabyte of memory
// or minutes of CPU on every login.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxPasses     = 10
	maxLanes      = 16
	minSaltLen    = 8 // RFC 9106 §3.1
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
	maxEncodedLen = 256
)

// ErrMalformed is the cause of Verify's error when the stored hash is not
// an argon2id PHC string with acceptable parameters.
var ErrMalformed = errors.New("password: malformed hash")

// b64 is the PHC encoding. Strict rejects non-zero padding bits; with
// decodeB64's check, every hash has exactly one accepted spelling.
var b64 = base64.RawStdEncoding.Strict()

// deriveKey is argon2.IDKey behind a variable so that tests can see which
// parameters each path uses without timing anything.
var deriveKey = argon2.IDKey

// params are argon2id's cost parameters.
type params struct {
	memory uint32 // KiB
	passes uint32
	lanes  uint8
}

var current = params{memory: memoryKiB, passes: passes, lanes: lanes}

// hash is a parsed PHC string.
type hash struct {
	params
	salt, key []byte
}

// matches derives pw's key with h's salt and parameters and compares it to
// h's key in constant time.
func (h hash) matches(pw string) bool {
	got := deriveKey([]byte(pw), h.salt, h.passes, h.memory, h.lanes, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

func (h hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.passes, h.lanes, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// Hash returns the PHC string of pw's argon2id hash with a fresh random salt
// and the current parameters.
func Hash(pw string) (string, error) {
	const op = "password.Hash"
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fault.Wrap(op, err)
	}
	h := hash{params: current, salt: salt}
	h.key = deriveKey([]byte(pw), salt, h.passes, h.memory, h.lanes, keyLen)
	return h.String(), nil
}

// Verify reports whether pw is the password encoded hashes. A wrong
// password is (false, nil); an error (wrapping ErrMalformed) means the
// stored hash itself is unusable, which is a bug or corruption, never the
// caller's mistake.
func Verify(encoded, pw string) (ok bool, err error) {
	const op = "password.Verify"
	h, err := parse(encoded)
	if err != nil {
		return false, fault.Wrap(op, err)
	}
	return h.matches(pw), nil
}

// NeedsRehash reports whether encoded was made with parameters weaker than
// the current ones (or cannot be read at all), so that the caller, which
// has just verified the password, should store a new Hash of it. Lanes are
// not compared: they change how the work is split, not how much there is.
func NeedsRehash(encoded string) bool {
	h, err := parse(encoded)
	if err != nil {
		return true
	}
	return h.memory < current.memory || h.passes < current.passes ||
		len(h.salt) < saltLen || len(h.key) < keyLen
}

// dummySalt is any fixed 16 bytes: VerifyDummy's result is thrown away, so
// neither the salt nor the key it compares against needs to be secret or
// real.
var dummySalt = [saltLen]byte{'m', 'h', '-', 'd', 'u', 'm', 'm', 'y', '-', 's', 'a', 'l', 't', '-', '0', '1'}

// VerifyDummy does the work of a Verify against a hash with the current
// parameters and throws the result away. The login path calls it when no
// account has the email, so that an unknown email takes as long as a wrong
// password and response times do not reveal which emails are registered.
//
// The dummy key is all zeros rather than the hash of some password: the
// comparison costs the same either way, and nothing has to be computed and
// cached per process.
func VerifyDummy(pw string) {
	h := hash{params: current, salt: dummySalt[:], key: make([]byte, keyLen)}
	h.matches(pw)
}

// parse reads a PHC string of the form
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>
//
// and rejects anything else, including parameters outside the bounds above,
// before any key is derived.
func parse(encoded string) (hash, error) {
	if len(encoded) > maxEncodedLen {
		return hash{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxEncodedLen)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return hash{}, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return hash{}, fmt.Errorf("%w: algorithm %q is not argon2id", ErrMalformed, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return hash{}, fmt.Errorf("%w: version %q is not v=%d", ErrMalformed, parts[2], argon2.Version)
	}
	var h hash
	if err := h.parseParams(parts[3]); err != nil {
		return hash{}, err
	}
	var err error
	if h.salt, err = decodeB64(parts[4]); err != nil {
		return hash{}, fmt.Errorf("%w: salt: %w", ErrMalformed, err)
	}
	if h.key, err = decodeB64(parts[5]); err != nil {
		return hash{}, fmt.Errorf("%w: key: %w", ErrMalformed, err)
	}
	if len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return hash{}, fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(h.salt))
	}
	if len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return hash{}, fmt.Errorf("%w: key of %d bytes", ErrMalformed, len(h.key))
	}
	return h, nil
}

// parseParams reads "m=<KiB>,t=<passes>,p=<lanes>", in that order.
func (h *hash) parseParams(s string) error {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return fmt.Errorf("%w: parameters %q", ErrMalformed, s)
	}
	var vals [3]uint32
	for i, name := range []string{"m", "t", "p"} {
		digits, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return fmt.Errorf("%w: parameters %q", ErrMalformed, s)
		}
		v, err := canonicalUint(digits)
		if err != nil {
			return fmt.Errorf("%w: parameter %s: %w", ErrMalformed, name, err)
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > maxLanes:
		return fmt.Errorf("%w: p=%d outside 1..%d", ErrMalformed, p, maxLanes)
	case t < 1 || t > maxPasses:
		return fmt.Errorf("%w: t=%d outside 1..%d", ErrMalformed, t, maxPasses)
	case m < 8*p || m > maxMemoryKiB: // argon2 needs 8 KiB per lane
		return fmt.Errorf("%w: m=%d outside %d..%d", ErrMalformed, m, 8*p, maxMemoryKiB)
	}
	h.memory, h.passes, h.lanes = m, t, uint8(p)
	return nil
}

// decodeB64 decodes s and insists that s is how the result encodes: the
// decoder alone skips line breaks, so a stored hash could otherwise verify
// under more than one string.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64")
	}
	return b, nil
}

// canonicalUint parses a decimal number written the way Hash writes it: no
// sign, no leading zeros, at most 32 bits. Accepting only one spelling
// keeps a stored hash from verifying under a different string.
func canonicalUint(s string) (uint32, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(v), nil
}
