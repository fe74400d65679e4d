package httpapi_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/token"
)

const pw = "a perfectly long passphrase"

type session struct {
	id, access, refresh string
}

func (a *api) register(email string) session {
	a.t.Helper()
	r := a.do("auth-register", http.MethodPost, "/v1/auth/register", "", map[string]string{"email": email, "password": pw, "name": "Test " + email})
	require.Equal(a.t, http.StatusCreated, r.status, r.raw)
	return sessionOf(a.t, r)
}

func sessionOf(t *testing.T, r response) session {
	t.Helper()
	user, _ := r.body["user"].(map[string]any)
	require.NotNil(t, user, r.raw)
	return session{id: user["id"].(string), access: r.body["accessToken"].(string), refresh: r.body["refreshToken"].(string)}
}

func (a *api) admin() session {
	a.t.Helper()
	s := a.register("root@example.com")
	_, err := a.users.SetRoles(a.t.Context(), s.id, []auth.Role{auth.Admin, auth.Buyer}, time.Now())
	require.NoError(a.t, err)
	r := a.do("auth-login", http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "root@example.com", "password": pw})
	require.Equal(a.t, http.StatusOK, r.status, r.raw)
	return sessionOf(a.t, r)
}

func TestRegisterLoginAndMe(t *testing.T) {
	a := newAPI(t)
	r := a.do("auth-register", http.MethodPost, "/v1/auth/register", "", map[string]string{"email": "  Ana.Lima@Example.COM ", "password": pw, "name": "  Ana   Lima "})
	require.Equal(t, http.StatusCreated, r.status, r.raw)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, "/v1/me", r.header.Get("Location"))
	assert.Equal(t, "Bearer", r.body["tokenType"])
	assert.InDelta(t, 900, r.body["expiresIn"], 2)
	user := r.body["user"].(map[string]any)
	assert.Equal(t, "ana.lima@example.com", user["email"], "emails are normalised")
	assert.Equal(t, "Ana Lima", user["name"])
	assert.Equal(t, []any{"buyer"}, user["roles"])
	assert.NotContains(t, r.raw, "argon2", "the password hash never leaves the store")

	login := a.do("auth-login", http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "ana.lima@EXAMPLE.com", "password": pw})
	require.Equal(t, http.StatusOK, login.status, login.raw)
	s := sessionOf(t, login)

	me := a.do("me-get", http.MethodGet, "/v1/me", s.access, nil)
	require.Equal(t, http.StatusOK, me.status, me.raw)
	assert.Equal(t, s.id, me.body["id"])
	assert.Equal(t, "no-store", me.header.Get("Cache-Control"))

	assert.Len(t, a.logs.lines("event"), 2, "user_registered and login_succeeded, once each")
	for _, e := range a.logs.lines("event") {
		assert.NotEmpty(t, e["correlationId"])
		assert.Contains(t, []any{"user_registered", "login_succeeded"}, e["event"])
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	a := newAPI(t)
	a.register("taken@example.com")
	tests := []struct {
		name   string
		body   any
		ctype  string
		status int
		field  string
	}{
		{"bad email", map[string]string{"email": "not-an-email", "password": pw, "name": "X"}, "", 400, "email"},
		{"display name in email", map[string]string{"email": "Bob <bob@example.com>", "password": pw, "name": "X"}, "", 400, "email"},
		{"short password", map[string]string{"email": "a@example.com", "password": "short", "name": "X"}, "", 400, "password"},
		{"missing name", map[string]string{"email": "a@example.com", "password": pw}, "", 400, "name"},
		{"role in body", map[string]any{"email": "a@example.com", "password": pw, "name": "X", "roles": []string{"admin"}}, "", 400, "roles"},
		{"wrong type", map[string]any{"email": 7, "password": pw, "name": "X"}, "", 400, "email"},
		{"not json", "just text", "text/plain", 400, "header.Content-Type"},
		{"email taken, other case", map[string]string{"email": "TAKEN@example.com", "password": pw, "name": "X"}, "", 409, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.ctype != "" {
				r = a.raw("auth-register", "/v1/auth/register", tt.ctype, tt.body.(string))
			} else {
				r = a.do("auth-register", http.MethodPost, "/v1/auth/register", "", tt.body)
			}
			assert.Equal(t, tt.status, r.status, r.raw)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			if tt.field != "" {
				errs, _ := r.body["errors"].([]any)
				require.NotEmpty(t, errs, r.raw)
				assert.Equal(t, tt.field, errs[0].(map[string]any)["field"], r.raw)
			}
		})
	}
}

func TestLoginGivesTheSameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	a := newAPI(t)
	a.register("known@example.com")
	wrong := a.do("auth-login", http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "known@example.com", "password": "wrong password here"})
	unknown := a.do("auth-login", http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong password here"})
	assert.Equal(t, http.StatusUnauthorized, wrong.status)
	assert.Equal(t, wrong.status, unknown.status)
	assert.Equal(t, wrong.body["detail"], unknown.body["detail"])
	assert.Equal(t, wrong.body["title"], unknown.body["title"])
	failed := 0
	for _, e := range a.logs.lines("event") {
		if e["event"] == "login_failed" {
			failed++
			assert.NotContains(t, e, "email", "raw emails stay out of the logs")
		}
	}
	assert.Equal(t, 2, failed)
}

func TestRefreshRotatesAndReuseEndsTheFamily(t *testing.T) {
	a := newAPI(t)
	s := a.register("rotate@example.com")

	r := a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": s.refresh})
	require.Equal(t, http.StatusOK, r.status, r.raw)
	next := sessionOf(t, r)
	assert.NotEqual(t, s.refresh, next.refresh, "every use rotates the token")

	// An attacker replays the first token: the whole family ends.
	replay := a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": s.refresh})
	assert.Equal(t, http.StatusUnauthorized, replay.status)
	after := a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": next.refresh})
	assert.Equal(t, http.StatusUnauthorized, after.status, "the legitimate holder's newer token is revoked too")

	reused := 0
	for _, e := range a.logs.lines("event") {
		if e["event"] == "refresh_token_reused" {
			reused++
			assert.Equal(t, s.id, e["userId"])
		}
	}
	assert.Equal(t, 1, reused, "reuse is reported once")

	// Logout ends a session; unknown tokens are accepted silently.
	l := sessionOf(t, a.do("auth-login", http.MethodPost, "/v1/auth/login", "", map[string]string{"email": "rotate@example.com", "password": pw}))
	assert.Equal(t, http.StatusNoContent, a.do("auth-logout", http.MethodPost, "/v1/auth/logout", "", map[string]string{"refreshToken": l.refresh}).status)
	assert.Equal(t, http.StatusUnauthorized, a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": l.refresh}).status)
	assert.Equal(t, http.StatusNoContent, a.do("auth-logout", http.MethodPost, "/v1/auth/logout", "", map[string]string{"refreshToken": "rt_" + strings.Repeat("Z", 43)}).status)
	assert.Equal(t, http.StatusUnauthorized, a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": "garbage"}).status)
}

// pathFor fills a route's path parameters with a plausible value.
func pathFor(rt *registry.Route, id string) string {
	p := rt.Path
	for strings.Contains(p, "{") {
		i, j := strings.Index(p, "{"), strings.Index(p, "}")
		p = p[:i] + id + p[j+1:]
	}
	return p
}

func TestEveryProtectedRouteRefusesTheWrongCaller(t *testing.T) {
	a := newAPI(t)
	buyer := a.register("buyer@example.com")

	other, err := token.NewKey(time.Now())
	require.NoError(t, err)
	forger, err := token.NewIssuer(token.KeySet{Keys: []token.Key{other}}, issuer, audience, time.Minute, time.Now)
	require.NoError(t, err)
	forged, _, err := forger.Issue(buyer.id, []auth.Role{auth.Admin, auth.Buyer})
	require.NoError(t, err)

	for _, fn := range registry.HTTP() {
		if fn.Auth == registry.Public {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			path := pathFor(fn.HTTP, buyer.id)
			r := a.do(fn.Name, fn.HTTP.Method, path, "", nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, "no token")
			assert.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
			r = a.do(fn.Name, fn.HTTP.Method, path, forged, nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, "a token signed with a key not in the JWKS")
			r = a.do(fn.Name, fn.HTTP.Method, path, buyer.access+"x", nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, "a tampered token")
			if fn.Auth == registry.Seller || fn.Auth == registry.Admin {
				r = a.do(fn.Name, fn.HTTP.Method, path, buyer.access, map[string]any{})
				assert.Equal(t, http.StatusForbidden, r.status, "a buyer on a %s route", fn.Auth)
			}
		})
	}
}

func TestUsersCannotReadOrChangeEachOther(t *testing.T) {
	a := newAPI(t)
	ana, bea := a.register("ana@example.com"), a.register("bea@example.com")

	r := a.do("me-update", http.MethodPatch, "/v1/me", ana.access, map[string]any{"name": "Ana Renamed"})
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, ana.id, r.body["id"])

	for _, body := range []map[string]any{
		{"name": "x", "id": bea.id},
		{"roles": []string{"admin"}},
		{"email": "bea@example.com"},
	} {
		r := a.do("me-update", http.MethodPatch, "/v1/me", ana.access, body)
		assert.Equal(t, http.StatusBadRequest, r.status, "mass assignment %v", body)
	}
	me := a.do("me-get", http.MethodGet, "/v1/me", bea.access, nil)
	assert.Equal(t, "Test bea@example.com", me.body["name"], "Bea is untouched")
	assert.Equal(t, []any{"buyer"}, me.body["roles"])

	r = a.do("admin-user-roles", http.MethodPut, "/v1/admin/users/"+bea.id+"/roles", ana.access, map[string]any{"roles": []string{"buyer", "admin"}})
	assert.Equal(t, http.StatusForbidden, r.status)
}

func TestSellerAndAdminRoles(t *testing.T) {
	a := newAPI(t)
	buyer := a.register("shop@example.com")
	r := a.do("me-seller", http.MethodPost, "/v1/me/seller", buyer.access, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []any{"buyer", "seller"}, r.body["roles"])
	again := a.do("me-seller", http.MethodPost, "/v1/me/seller", buyer.access, nil)
	assert.Equal(t, r.body["roles"], again.body["roles"], "idempotent")

	refreshed := sessionOf(t, a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": buyer.refresh}))
	p, err := token.NewVerifier(a.keys, issuer, audience, time.Now).Verify(t.Context(), refreshed.access)
	require.NoError(t, err)
	assert.True(t, p.Has(auth.Seller), "a refreshed token carries the new role")

	admin := a.admin()
	path := "/v1/admin/users/" + buyer.id + "/roles"
	tests := []struct {
		name   string
		path   string
		roles  any
		status int
	}{
		{"grant admin", path, []string{"buyer", "admin"}, 200},
		{"unknown role", path, []string{"buyer", "root"}, 400},
		{"without buyer", path, []string{"seller"}, 400},
		{"roles not a list", path, "admin", 400},
		{"unknown user", "/v1/admin/users/usr_01JF0000000000000000000000/roles", []string{"buyer"}, 404},
		{"malformed user id", "/v1/admin/users/nope/roles", []string{"buyer"}, 404},
		{"admin demotes itself", "/v1/admin/users/" + admin.id + "/roles", []string{"buyer"}, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("admin-user-roles", http.MethodPut, tt.path, admin.access, map[string]any{"roles": tt.roles})
			assert.Equal(t, tt.status, r.status, r.raw)
		})
	}
	changes := 0
	for _, e := range a.logs.lines("event") {
		if e["event"] == "role_changed" {
			changes++
		}
	}
	assert.Equal(t, 2, changes, "becoming a seller and the admin grant")
}

func TestJWKSAndDiscovery(t *testing.T) {
	a := newAPI(t)
	r := a.get("jwks", "/.well-known/jwks.json")
	require.Equal(t, http.StatusOK, r.status)
	keys := r.body["keys"].([]any)
	require.Len(t, keys, 1)
	k := keys[0].(map[string]any)
	assert.Equal(t, a.keys.Keys[0].ID, k["kid"])
	assert.NotContains(t, k, "d", "no private member")
	pub, err := token.ParseJWKS([]byte(r.raw))
	require.NoError(t, err)
	assert.IsType(t, &ecdsa.PublicKey{}, pub[a.keys.Keys[0].ID])

	d := a.get("openid-configuration", "/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, d.status)
	assert.Equal(t, issuer, d.body["issuer"])
	assert.Equal(t, issuer+"/.well-known/jwks.json", d.body["jwks_uri"])
}

func TestReadiness(t *testing.T) {
	a := newAPI(t)
	r := a.get("health-ready", "/v1/health/ready")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, "ok", r.body["status"])
	assert.Equal(t, "ok", r.body["checks"].(map[string]any)["dynamodb"].(map[string]any)["status"])
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	failing := httpapi.Ready(map[string]httpapi.Probe{
		"dynamodb": func(context.Context) error { return nil },
		"broken":   func(context.Context) error { return errors.New("connection refused") },
	})
	rec := httptest.NewRecorder()
	failing.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/health/ready", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), `"broken":{"status":"fail"`)
	assert.NotContains(t, rec.Body.String(), "connection refused", "no internals in the answer")
}
