package password

// Argon2id offers the package's functions as a value, which is how the
// account service receives its hasher.
type Argon2id struct{}

// Hash calls Hash.
func (Argon2id) Hash(pw string) (string, error) { return Hash(pw) }

// Verify calls Verify.
func (Argon2id) Verify(encoded, pw string) (bool, error) { return Verify(encoded, pw) }

// VerifyDummy calls VerifyDummy.
func (Argon2id) VerifyDummy(pw string) { VerifyDummy(pw) }

// Check calls Check.
func (Argon2id) Check(pw, email string) error { return Check(pw, email) }
