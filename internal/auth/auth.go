// Package auth is who is calling: the principal a verified access token
// names, its roles, and the rule that decides whether a principal may call a
// route of a given auth level. It knows nothing of tokens' format.
package auth

import (
	"context"
	"slices"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/registry"
)

// Role is what an account may do.
type Role string

// The roles. Every account is a buyer; sellers may list items; admins may
// do everything.
const (
	Buyer  Role = "buyer"
	Seller Role = "seller"
	Admin  Role = "admin"
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == Buyer || r == Seller || r == Admin }

// Principal is an authenticated caller.
type Principal struct {
	UserID  string
	Roles   []Role
	TokenID string // the access token's jti, for audit
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// Allow returns nil when p may call a route of the given level, or a
// fault.Forbidden error. Admins may call every route.
func (p Principal) Allow(level registry.Auth) error {
	const op = "auth.Allow"
	ok := false
	switch level {
	case registry.Public, registry.User:
		ok = true
	case registry.Seller:
		ok = p.Has(Seller) || p.Has(Admin)
	case registry.Admin:
		ok = p.Has(Admin)
	}
	if !ok {
		return fault.E(op, fault.Forbidden, "this needs the "+string(level)+" role")
	}
	return nil
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of the request, if it is authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Verifier turns a bearer token into a principal. Implementations return a
// fault.Unauthenticated error for any token they do not accept.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}
