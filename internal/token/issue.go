package token

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mountainhighway/marketplace/internal/auth"
)

// alg is the only signing algorithm: ES256 is what API Gateway's JWT
// authorizer and every client library support, with small keys and tokens.
const alg = "ES256"

// typ marks access tokens as RFC 9068 says, so that no other kind of JWT
// signed by the same key (an ID token, say) is accepted as one.
const typ = "at+jwt"

// issuedClaims are the claims of an access token as written.
type issuedClaims struct {
	jwt.RegisteredClaims
	// Audience shadows RegisteredClaims.Audience, which golang-jwt writes
	// as an array unless a package-level switch is flipped: a single string
	// is what RFC 9068 shows and what API Gateway compares.
	Audience string   `json:"aud"`
	Roles    []string `json:"roles"`
}

// Issuer signs access tokens with the active key of a key set.
type Issuer struct {
	key      Key
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an issuer that signs with the first key of ks that has
// a private key, for tokens valid ttl (at least a second) from now(). A nil
// now means time.Now.
func NewIssuer(ks KeySet, issuer, audience string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if err := ks.check(); err != nil {
		return nil, err
	}
	key, ok := ks.signer()
	if !ok {
		return nil, errors.New("token: the key set has no private key to sign with")
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("token: issuer and audience are required")
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("token: ttl %v is shorter than a second", ttl)
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: key, issuer: issuer, audience: audience, ttl: ttl, now: now}, nil
}

// Issue returns a signed access token for userID holding roles, and when it
// expires. Every role must be known and there must be at least one, so that
// a token never says less than the account record.
func (i *Issuer) Issue(userID string, roles []auth.Role) (token string, expiresAt time.Time, err error) {
	if userID == "" {
		return "", time.Time{}, errors.New("token: issue: empty user id")
	}
	if len(roles) == 0 {
		return "", time.Time{}, errors.New("token: issue: no roles")
	}
	names := make([]string, len(roles))
	for n, r := range roles {
		if !auth.ValidRole(r) {
			return "", time.Time{}, fmt.Errorf("token: issue: unknown role %q", r)
		}
		names[n] = string(r)
	}
	jti, err := newTokenID()
	if err != nil {
		return "", time.Time{}, err
	}
	// NumericDate has whole seconds; truncating here makes the returned
	// expiry exactly the one in the token.
	iat := i.now().UTC().Truncate(time.Second)
	exp := iat.Add(i.ttl)
	claims := issuedClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   userID,
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        jti,
		},
		Audience: i.audience,
		Roles:    names,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = i.key.ID
	s, err := t.SignedString(i.key.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: sign: %w", err)
	}
	return s, exp, nil
}

// newTokenID returns a random 128-bit jti, base64url.
func newTokenID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token: random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
