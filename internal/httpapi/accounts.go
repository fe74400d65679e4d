package httpapi

import (
	"context"
	"net"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// Token and account responses are private to one caller.
const private = "no-store"

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshBody struct {
	RefreshToken string `json:"refreshToken"`
}

type rolesBody struct {
	Roles []auth.Role `json:"roles"`
}

// Register serves POST /v1/auth/register: a new buyer account, signed in.
func Register(svc *account.Service) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var body account.Registration
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		t, err := svc.Register(r.Context(), body)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/me")
		return writeJSON(w, http.StatusCreated, private, t)
	})
}

// Login serves POST /v1/auth/login.
func Login(svc *account.Service) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var body credentials
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		t, err := svc.Login(r.Context(), body.Email, body.Password, clientIP(r))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, t)
	})
}

// Refresh serves POST /v1/auth/refresh: a refresh token for new tokens.
func Refresh(svc *account.Service) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var body refreshBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		t, err := svc.Refresh(r.Context(), body.RefreshToken)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, t)
	})
}

// Logout serves POST /v1/auth/logout: ends the refresh token's session.
func Logout(svc *account.Service) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var body refreshBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		if err := svc.Logout(r.Context(), body.RefreshToken); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// GetMe serves GET /v1/me.
func GetMe(svc *account.Service) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		u, err := svc.Me(r.Context(), p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, u)
	})
}

// UpdateMe serves PATCH /v1/me. Only the fields of account.ProfileUpdate
// may be sent; anything else (roles, email, id) is rejected by name.
func UpdateMe(svc *account.Service) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var body account.ProfileUpdate
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		u, err := svc.UpdateMe(r.Context(), p, body)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, u)
	})
}

// BecomeSeller serves POST /v1/me/seller.
func BecomeSeller(svc *account.Service) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		u, err := svc.BecomeSeller(r.Context(), p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, u)
	})
}

// SetRoles serves PUT /v1/admin/users/{id}/roles.
func SetRoles(svc *account.Service) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var body rolesBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		u, err := svc.SetRoles(r.Context(), p, r.PathValue("id"), body.Roles)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, u)
	})
}

// JWKSSource returns the public JSON Web Key Set.
type JWKSSource interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// JWKS serves GET /.well-known/jwks.json. Verifiers (API Gateway's JWT
// authorizer among them) cache it, so a short shared cache is safe and a
// rotated key is picked up within minutes.
func JWKS(src JWKSSource) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		b, err := src.JWKS(r.Context())
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b) // the status is sent; a failed write means the client left
		return nil
	})
}

// OpenIDConfiguration serves GET /.well-known/openid-configuration, the
// discovery document API Gateway's JWT authorizer reads to find the keys.
func OpenIDConfiguration(doc []byte) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(doc)
		return nil
	})
}

// withPrincipal runs h with the authenticated caller. The wrapper has
// already refused unauthenticated requests; this guards against a route
// registered as public by mistake.
func withPrincipal(h func(http.ResponseWriter, *http.Request, auth.Principal) error) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			return fault.E("httpapi.withPrincipal", fault.Unauthenticated, "sign in first")
		}
		return h(w, r, p)
	}
}

// clientIP is the caller's address as API Gateway saw it; locally, the
// peer's. X-Forwarded-For is not used: a client can write anything there.
func clientIP(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.HTTP.SourceIP != "" {
		return gw.HTTP.SourceIP
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
