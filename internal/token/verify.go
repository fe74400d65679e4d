package token

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// KeySource supplies the public keys that verify tokens, by kid. The table
// store (dynamo.Keys) and KeySet implement it.
type KeySource interface {
	PublicKeys(ctx context.Context) (map[string]*ecdsa.PublicKey, error)
}

// Limits of verification.
const (
	// MaxTokenLen bounds a token before it is parsed, so an oversized
	// header costs no decoding or JSON work. Real tokens are about 500 bytes.
	MaxTokenLen = 4096
	// Leeway tolerates clock skew between the signing and verifying hosts.
	Leeway = 30 * time.Second
	// RefetchInterval is the least time between two fetches of the keys,
	// so tokens naming made-up kids cannot turn into a read of the key
	// store per request.
	RefetchInterval = 30 * time.Second
	// KeysMaxAge is how long fetched keys are trusted before the next
	// verification refreshes them, so a key dropped by rotation stops
	// verifying in warm processes too, not only in new ones.
	KeysMaxAge = 10 * time.Minute
)

// Verifier checks access tokens issued by an Issuer with the same issuer and
// audience. It is safe for concurrent use.
type Verifier struct {
	src    KeySource
	parser *jwt.Parser
	now    func() time.Time

	mu        sync.Mutex
	keys      map[string]*ecdsa.PublicKey
	keysAt    time.Time // when keys were fetched
	fetchedAt time.Time // when a fetch was last tried
	fetchErr  error     // how the last fetch failed, or nil
}

var _ auth.Verifier = (*Verifier)(nil)

// NewVerifier returns a verifier of tokens for audience, issued by issuer,
// with keys from src. A nil now means time.Now. Keys are fetched on first
// use and cached; see RefetchInterval and KeysMaxAge.
func NewVerifier(src KeySource, issuer, audience string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		src: src,
		now: now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{alg}), // never what the token's header asks for
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// verifiedClaims are the claims of an access token as read. Audience is
// golang-jwt's, which accepts a string or an array.
type verifiedClaims struct {
	jwt.RegisteredClaims
	Roles []auth.Role `json:"roles"`
}

// Validate requires the claims golang-jwt treats as optional; the parser
// calls it after the signature and the standard claims have been checked.
func (c *verifiedClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("no sub")
	case c.IssuedAt == nil:
		return errors.New("no iat")
	case c.ID == "":
		return errors.New("no jti")
	case len(c.Roles) == 0:
		return errors.New("no roles")
	}
	for _, r := range c.Roles {
		if !auth.ValidRole(r) {
			return fmt.Errorf("unknown role %q", r)
		}
	}
	return nil
}

// Verify returns the principal a valid access token names. Every token it
// does not accept yields a fault.Unauthenticated error whose message is safe
// to show (the reason is in the cause, for logs); only when the key store
// cannot be read does it return fault.Unavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (auth.Principal, error) {
	const op = "token.Verify"
	if token == "" || len(token) > MaxTokenLen {
		return auth.Principal{}, reject(op, fmt.Errorf("token length %d outside 1..%d", len(token), MaxTokenLen))
	}
	var c verifiedClaims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if h, _ := t.Header["typ"].(string); h != typ {
			return nil, fmt.Errorf("typ %q is not %s", h, typ)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > maxKid {
			return nil, errors.New("missing or oversized kid")
		}
		return v.key(ctx, kid)
	})
	if err != nil {
		if fe, ok := fault.As(err); ok && fe.Kind == fault.Unavailable {
			return auth.Principal{}, fe
		}
		if errors.Is(err, jwt.ErrTokenExpired) {
			return auth.Principal{}, &fault.Error{Op: op, Kind: fault.Unauthenticated, Message: "the access token has expired", Err: err}
		}
		return auth.Principal{}, reject(op, err)
	}
	return auth.Principal{UserID: c.Subject, Roles: c.Roles, TokenID: c.ID}, nil
}

func reject(op string, cause error) error {
	return &fault.Error{Op: op, Kind: fault.Unauthenticated, Message: "invalid access token", Err: cause}
}

// key returns the public key kid names. It fetches the keys when none are
// cached, when they are older than KeysMaxAge, or when kid is unknown —
// at most once per RefetchInterval. The lock is held while fetching so that
// concurrent requests share one fetch; fetches are rare by construction.
func (v *Verifier) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	const op = "token.Verifier.key"
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	k, known := v.keys[kid]
	if known && !olderThan(now, v.keysAt, KeysMaxAge) {
		return k, nil
	}
	if v.fetchedAt.IsZero() || olderThan(now, v.fetchedAt, RefetchInterval) {
		v.fetchedAt = now
		keys, err := v.src.PublicKeys(ctx)
		v.fetchErr = err
		if err == nil {
			v.keys, v.keysAt = keys, now
			k, known = keys[kid]
		}
	}
	switch {
	case known:
		// Either freshly fetched, or cached keys kept because the refresh
		// failed: a key store outage must not log everyone out.
		return k, nil
	case v.fetchErr != nil:
		// The kid may well be valid; the caller should retry, not sign in again.
		return nil, &fault.Error{Op: op, Kind: fault.Unavailable, Message: "cannot verify the access token now; retry", Err: v.fetchErr}
	default:
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
}

// olderThan reports whether at least d has passed from then to now. A clock
// that went backwards counts as expired, so it cannot freeze the cache.
func olderThan(now, then time.Time, d time.Duration) bool {
	age := now.Sub(then)
	return age < 0 || age >= d
}
