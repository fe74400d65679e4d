package password

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// reference holds hashes made by the argon2 reference implementation
// (libargon2's argon2id_hash_encoded), so that hashes stay readable by, and
// from, any other PHC-compliant tool.
var reference = []struct{ encoded, pw string }{
	{"$argon2id$v=19$m=19456,t=2,p=1$bW91bnRhaW5oaWdod2F5IQ$k0Id++2MHo/qRxMKUyZmJ6T7ot2XQ79W6qx5qvq7W+s", "correct horse battery staple"},
	{"$argon2id$v=19$m=64,t=3,p=2$c2FsdHNhbHQ$TvKsIzAruktRmcGD+jJ5KQ", "pässwörd wïth ümlauts"},
	{"$argon2id$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$Y2SirYtJlzfgi54soc2ky6url17YL7WG7nuOSt76GuT0I3kfCV5chfpxUb7AfX2qGNwKCR6Ndi8CpPFI7UBDsw", ""},
}

// call records the arguments of one key derivation.
type call struct {
	passes, memory uint32
	lanes          uint8
	saltLen        int
	keyLen         uint32
}

// recordDerivations replaces deriveKey for the rest of the test with one
// that records its arguments and still derives the real key.
func recordDerivations(t *testing.T) *[]call {
	t.Helper()
	var calls []call
	orig := deriveKey
	deriveKey = func(pw, salt []byte, passes, memory uint32, lanes uint8, keyLen uint32) []byte {
		calls = append(calls, call{passes, memory, lanes, len(salt), keyLen})
		return orig(pw, salt, passes, memory, lanes, keyLen)
	}
	t.Cleanup(func() { deriveKey = orig })
	return &calls
}

// forbidDerivations makes any key derivation fail the test: it proves that
// an input was rejected before any CPU or memory was spent on it.
func forbidDerivations(t *testing.T) {
	t.Helper()
	orig := deriveKey
	deriveKey = func(_, _ []byte, passes, memory uint32, lanes uint8, _ uint32) []byte {
		t.Errorf("derived a key with t=%d m=%d p=%d", passes, memory, lanes)
		return nil
	}
	t.Cleanup(func() { deriveKey = orig })
}

func TestHashVerifyRoundTrip(t *testing.T) {
	const pw = "glacier plum 47 ferry"
	encoded, err := Hash(pw)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$"), "Hash(%q) = %q", pw, encoded)

	h, err := parse(encoded)
	require.NoError(t, err)
	assert.Len(t, h.salt, 16)
	assert.Len(t, h.key, 32)

	ok, err := Verify(encoded, pw)
	require.NoError(t, err)
	assert.True(t, ok, "Verify(Hash(pw), pw)")

	for _, wrong := range []string{"", "glacier plum 47 ferr", "glacier plum 47 ferry ", "Glacier plum 47 ferry"} {
		ok, err := Verify(encoded, wrong)
		require.NoError(t, err)
		assert.False(t, ok, "Verify(Hash(%q), %q)", pw, wrong)
	}

	again, err := Hash(pw)
	require.NoError(t, err)
	assert.NotEqual(t, encoded, again, "two hashes of one password share a salt")
	assert.False(t, NeedsRehash(encoded))
}

func TestVerifyReferenceHashes(t *testing.T) {
	for _, r := range reference {
		ok, err := Verify(r.encoded, r.pw)
		require.NoError(t, err, r.encoded)
		assert.True(t, ok, "Verify(%q, %q)", r.encoded, r.pw)

		ok, err = Verify(r.encoded, r.pw+"x")
		require.NoError(t, err, r.encoded)
		assert.False(t, ok, "Verify(%q, %q+x)", r.encoded, r.pw)

		h, err := parse(r.encoded)
		require.NoError(t, err)
		assert.Equal(t, r.encoded, h.String(), "re-encoding a parsed reference hash")
	}
}

func TestHashMatchesReferenceEncoding(t *testing.T) {
	// The same salt and password through our code give the reference
	// implementation's string, byte for byte.
	r := reference[0]
	h, err := parse(r.encoded)
	require.NoError(t, err)
	mine := hash{params: current, salt: h.salt}
	mine.key = deriveKey([]byte(r.pw), h.salt, passes, memoryKiB, lanes, keyLen)
	assert.Equal(t, r.encoded, mine.String())
}

func TestVerifyTampered(t *testing.T) {
	const pw = "glacier plum 47 ferry"
	encoded, err := Hash(pw)
	require.NoError(t, err)
	parts := strings.Split(encoded, "$")
	flip := func(s string) string {
		// Changing the first character keeps the field valid base64 of the
		// same length, so only the comparison can catch it.
		c := byte('A')
		if s[0] == 'A' {
			c = 'B'
		}
		return string(c) + s[1:]
	}
	tests := []struct{ name, encoded string }{
		{"salt", strings.Join(append(parts[:4:4], flip(parts[4]), parts[5]), "$")},
		{"key", strings.Join(append(parts[:5:5], flip(parts[5])), "$")},
		{"memory", strings.Replace(encoded, "m=19456", "m=19457", 1)},
		{"passes", strings.Replace(encoded, "t=2", "t=3", 1)},
		{"lanes", strings.Replace(encoded, "p=1", "p=2", 1)},
		{"key truncated", strings.Join(append(parts[:5:5], parts[5][:40]), "$")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, encoded, tt.encoded)
			ok, err := Verify(tt.encoded, pw)
			require.NoError(t, err, "tampered but well-formed")
			assert.False(t, ok, "Verify(%q, %q)", tt.encoded, pw)
		})
	}
}

func TestVerifyRejectsMalformedWithoutDeriving(t *testing.T) {
	const (
		salt16 = "bW91bnRhaW5oaWdod2F5IQ"
		key32  = "k0Id++2MHo/qRxMKUyZmJ6T7ot2XQ79W6qx5qvq7W+s"
	)
	b := func(n int) string { return base64.RawStdEncoding.EncodeToString(make([]byte, n)) }
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + key32
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"dollar", "$"},
		{"no leading dollar", good[1:]},
		{"trailing dollar", good + "$"},
		{"extra field", "$argon2id$v=19$m=19456,t=2,p=1$x$" + salt16 + "$" + key32},
		{"missing version", "$argon2id$m=19456,t=2,p=1$" + salt16 + "$" + key32},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(good, "argon2id", "argon2d", 1)},
		{"bcrypt", "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"upper case algorithm", strings.Replace(good, "argon2id", "ARGON2ID", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"version padded", strings.Replace(good, "v=19", "v=019", 1)},
		{"params reordered", strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1)},
		{"param missing", strings.Replace(good, "m=19456,t=2,p=1", "m=19456,t=2", 1)},
		{"param extra", strings.Replace(good, "m=19456,t=2,p=1", "m=19456,t=2,p=1,k=1", 1)},
		{"param empty", strings.Replace(good, "m=19456", "m=", 1)},
		{"leading zero", strings.Replace(good, "m=19456", "m=019456", 1)},
		{"plus sign", strings.Replace(good, "m=19456", "m=+19456", 1)},
		{"negative", strings.Replace(good, "t=2", "t=-2", 1)},
		{"not a number", strings.Replace(good, "t=2", "t=two", 1)},
		{"space", strings.Replace(good, "t=2", "t= 2", 1)},
		{"overflows 32 bits", strings.Replace(good, "m=19456", "m=4294967296", 1)},
		{"memory over 1 GiB", strings.Replace(good, "m=19456", "m=1048577", 1)},
		{"memory max uint32", strings.Replace(good, "m=19456", "m=4294967295", 1)},
		{"memory below 8 KiB per lane", strings.Replace(good, "m=19456,t=2,p=1", "m=15,t=2,p=2", 1)},
		{"passes zero", strings.Replace(good, "t=2", "t=0", 1)},
		{"passes over 10", strings.Replace(good, "t=2", "t=11", 1)},
		{"lanes zero", strings.Replace(good, "p=1", "p=0", 1)},
		{"lanes over 16", strings.Replace(good, "p=1", "p=17", 1)},
		{"lanes overflow uint8", strings.Replace(good, "p=1", "p=257", 1)},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key32},
		{"salt padded", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "==$" + key32},
		{"salt non-zero padding bits", "$argon2id$v=19$m=19456,t=2,p=1$bW91bnRhaW5oaWdod2F5IR$" + key32},
		{"salt empty", "$argon2id$v=19$m=19456,t=2,p=1$$" + key32},
		{"salt 7 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + b(7) + "$" + key32},
		{"salt 65 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + b(65) + "$" + key32},
		{"key not base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$k0Id++2MHo/qRxMKUyZmJ6T7ot2XQ79W6qx5qvq7W+s*"},
		{"key URL alphabet", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$k0Id--2MHo_qRxMKUyZmJ6T7ot2XQ79W6qx5qvq7W-s"},
		{"key empty", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$"},
		{"key 15 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + b(15)},
		{"key 65 bytes", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$" + b(65)},
		{"trailing newline", good + "\n"},
		{"newline inside salt", "$argon2id$v=19$m=19456,t=2,p=1$bW91bnRh\naW5oaWdod2F5IQ$" + key32},
		{"carriage return inside key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt16 + "$k0Id++2MHo/qRxMK\rUyZmJ6T7ot2XQ79W6qx5qvq7W+s"},
		{"too long", good + strings.Repeat("A", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forbidDerivations(t)
			ok, err := Verify(tt.encoded, "glacier plum 47 ferry")
			assert.False(t, ok)
			assert.ErrorIs(t, err, ErrMalformed, "Verify(%q)", tt.encoded)
			assert.True(t, NeedsRehash(tt.encoded), "NeedsRehash(%q) of an unreadable hash", tt.encoded)
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	enc := func(m, t uint32, p uint8, salt, key []byte) string {
		return hash{params: params{memory: m, passes: t, lanes: p}, salt: salt, key: key}.String()
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current", enc(memoryKiB, passes, lanes, salt, key), false},
		{"less memory", enc(memoryKiB-4, passes, lanes, salt, key), true},
		{"fewer passes", enc(memoryKiB, passes-1, lanes, salt, key), true},
		{"shorter salt", enc(memoryKiB, passes, lanes, salt[:8], key), true},
		{"shorter key", enc(memoryKiB, passes, lanes, salt, key[:16]), true},
		{"more memory", enc(64*1024, passes, lanes, salt, key), false},
		{"more passes", enc(memoryKiB, 3, lanes, salt, key), false},
		{"more lanes", enc(memoryKiB, passes, 4, salt, key), false},
		{"longer salt and key", enc(memoryKiB, passes, lanes, make([]byte, 32), make([]byte, 64)), false},
		{"reference, weaker", reference[1].encoded, true},
		{"malformed", "$argon2id$v=19$m=19456,t=2,p=1$$", true},
	}
	for _, tt := range tests {
		if got := NeedsRehash(tt.encoded); got != tt.want {
			t.Errorf("%s: NeedsRehash(%q) = %v, want %v", tt.name, tt.encoded, got, tt.want)
		}
	}
}

func TestVerifyDummyDoesTheWorkOfAVerify(t *testing.T) {
	encoded, err := Hash("glacier plum 47 ferry")
	require.NoError(t, err)
	calls := recordDerivations(t)

	_, err = Verify(encoded, "wrong password guess")
	require.NoError(t, err)
	require.Len(t, *calls, 1)
	real := (*calls)[0]

	VerifyDummy("wrong password guess")
	require.Len(t, *calls, 2, "VerifyDummy derives exactly one key, as Verify does")
	assert.Equal(t, real, (*calls)[1], "VerifyDummy's argon2 parameters")
	assert.Equal(t, call{passes: passes, memory: memoryKiB, lanes: lanes, saltLen: saltLen, keyLen: keyLen}, real)
}

func TestVerifyDummyNeverMatches(t *testing.T) {
	// The dummy key is all zeros; no password derives it, but check that
	// nothing in the dummy path can be mistaken for a stored hash either.
	h := hash{params: current, salt: dummySalt[:], key: make([]byte, keyLen)}
	for _, pw := range []string{"", "glacier plum 47 ferry"} {
		assert.False(t, h.matches(pw))
	}
	_, err := parse(h.String())
	require.NoError(t, err, "the dummy is a well-formed hash with the current parameters")
}

// FuzzVerify checks that no input makes Verify panic, that every accepted
// string has exactly one spelling, and that Verify says ok only for a
// (hash, password) pair that was actually hashed: the fuzzer cannot compute
// argon2, so the only such pairs are the seeds below.
func FuzzVerify(f *testing.F) {
	hashed := map[[2]string]bool{}
	for _, r := range reference {
		hashed[[2]string{r.encoded, r.pw}] = true
		f.Add(r.encoded, r.pw)
		f.Add(r.encoded, r.pw+"!")
	}
	// Cheap parameters keep each execution fast; Verify takes them from
	// the string, so they exercise the same code as the current ones.
	for i, pw := range []string{"glacier plum 47 ferry", "x", "ünïcödé pässwörd"} {
		salt := []byte("fuzz-seed-salt-" + string(rune('a'+i)))
		h := hash{params: params{memory: 32, passes: 1, lanes: 1}, salt: salt}
		h.key = argon2.IDKey([]byte(pw), salt, 1, 32, 1, keyLen)
		hashed[[2]string{h.String(), pw}] = true
		f.Add(h.String(), pw)
		f.Add(h.String(), strings.ToUpper(pw))
	}
	for _, s := range []string{"", "$", "$argon2id$v=19$m=,t=,p=$$", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=1048577,t=2,p=1$bW91bnRhaW5oaWdod2F5IQ$k0Id++2MHo/qRxMKUyZmJ6T7ot2XQ79W6qx5qvq7W+s"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		h, err := parse(encoded)
		if err == nil {
			if got := h.String(); got != encoded {
				t.Fatalf("parse(%q) re-encodes as %q", encoded, got)
			}
			// The bounds allow up to 10 GiB-passes; a fuzzer that found
			// its way there would spend its time allocating, not fuzzing.
			if uint64(h.memory)*uint64(h.passes) > 1<<16 {
				t.Skip("parameters too costly for fuzzing")
			}
		}
		ok, verr := Verify(encoded, pw)
		if (err == nil) != (verr == nil) {
			t.Fatalf("Verify(%q) error %v, parse error %v", encoded, verr, err)
		}
		if verr != nil && !errors.Is(verr, ErrMalformed) {
			t.Fatalf("Verify(%q) error %v is not ErrMalformed", encoded, verr)
		}
		if ok && !hashed[[2]string{encoded, pw}] {
			t.Fatalf("Verify(%q, %q) = true for a pair that was never hashed", encoded, pw)
		}
		if !ok && hashed[[2]string{encoded, pw}] {
			t.Fatalf("Verify(%q, %q) = false for a hashed pair", encoded, pw)
		}
	})
}
