package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seller registers an account, makes it a seller and returns a token that
// carries the role.
func (a *api) seller(email string) session {
	a.t.Helper()
	s := a.register(email)
	require.Equal(a.t, http.StatusOK, a.do("me-seller", http.MethodPost, "/v1/me/seller", s.access, nil).status)
	r := a.do("auth-refresh", http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refreshToken": s.refresh})
	require.Equal(a.t, http.StatusOK, r.status, r.raw)
	return sessionOf(a.t, r)
}

// doIf sends a request with If-Match (or If-None-Match for GETs).
func (a *api) doIf(fn, method, target, bearer, etag string, body any) response {
	a.t.Helper()
	h := a.handler[fn]
	a.handler[fn] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if method == http.MethodGet {
			r.Header.Set("If-None-Match", etag)
		} else {
			r.Header.Set("If-Match", etag)
		}
		h.ServeHTTP(w, r)
	})
	defer func() { a.handler[fn] = h }()
	return a.do(fn, method, target, bearer, body)
}

var chair = map[string]any{
	"title": "Oak  chair", "description": "Solid oak.\r\nCollection only.  ", "category": "home",
	"price": map[string]any{"amount": 4500, "currency": "EUR"}, "stock": 2,
}

func TestListingLifecycle(t *testing.T) {
	a := newAPI(t)
	s := a.seller("maker@example.com")

	r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, chair)
	require.Equal(t, http.StatusCreated, r.status, r.raw)
	id := r.body["id"].(string)
	assert.Equal(t, "/v1/listings/"+id, r.header.Get("Location"))
	assert.Equal(t, `"1"`, r.header.Get("ETag"))
	assert.Equal(t, "draft", r.body["status"])
	assert.Equal(t, s.id, r.body["sellerId"], "the owner is the caller, never the body")
	assert.Equal(t, "Oak chair", r.body["title"])
	assert.Equal(t, "Solid oak.\nCollection only.", r.body["description"])

	assert.Equal(t, http.StatusNotFound, a.get("listing-get", "/v1/listings/"+id).status, "drafts are private")

	r = a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, "published", r.body["status"])
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
	assert.NotEmpty(t, r.body["publishedAt"])
	assert.Equal(t, http.StatusOK, a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil).status, "publishing twice is harmless")

	got := a.get("listing-get", "/v1/listings/"+id)
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, `"2"`, got.header.Get("ETag"))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/listings/"+id, nil)
	req.Header.Set("If-None-Match", `"2"`)
	a.handler["listing-get"].ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNotModified, rec.Code, "a client with the current version gets 304")

	list := a.get("listing-list", "/v1/listings?category=home")
	require.Len(t, list.body["items"], 1)

	r = a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+id, s.access, `"2"`, map[string]any{"price": map[string]any{"amount": 3900, "currency": "EUR"}, "category": "art"})
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, `"3"`, r.header.Get("ETag"))
	assert.Empty(t, a.get("listing-list", "/v1/listings?category=home").body["items"], "a category change moves it in the index")
	assert.Len(t, a.get("listing-list", "/v1/listings?category=art").body["items"], 1)

	r = a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+id, s.access, `"2"`, map[string]any{"title": "Stale edit"})
	assert.Equal(t, http.StatusPreconditionFailed, r.status, "a stale version is refused")
	assert.Contains(t, r.body["detail"], "version 3")
	r = a.do("listing-update", http.MethodPatch, "/v1/listings/"+id, s.access, map[string]any{"title": "No version"})
	assert.Equal(t, http.StatusPreconditionRequired, r.status)
	r = a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+id, s.access, `W/"3"`, map[string]any{"title": "Weak"})
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+id, s.access, `"3"`, map[string]any{"stock": 0})
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, "sold", r.body["status"], "no stock left: sold")
	assert.Empty(t, a.get("listing-list", "/v1/listings?category=art").body["items"], "sold listings leave the browse feed")
	assert.Equal(t, http.StatusOK, a.get("listing-get", "/v1/listings/"+id).status, "but stay readable")
	assert.Equal(t, http.StatusConflict, a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil).status, "sold cannot be published")

	r = a.do("listing-archive", http.MethodPost, "/v1/listings/"+id+"/archive", s.access, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, http.StatusNotFound, a.get("listing-get", "/v1/listings/"+id).status)
	r = a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil)
	assert.Equal(t, http.StatusConflict, r.status, "archived with no stock cannot be published")
}

func TestCreateListingValidation(t *testing.T) {
	a := newAPI(t)
	s := a.seller("strict@example.com")
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range chair {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"short title", with("title", "ab"), "title"},
		{"long title", with("title", strings.Repeat("x", 121)), "title"},
		{"control character", with("title", "bad\x00title"), "title"},
		{"unknown category", with("category", "weapons"), "category"},
		{"zero price", with("price", map[string]any{"amount": 0, "currency": "EUR"}), "price.amount"},
		{"float price", with("price", map[string]any{"amount": 12.5, "currency": "EUR"}), "price.amount"},
		{"unknown currency", with("price", map[string]any{"amount": 100, "currency": "XXX"}), "price.currency"},
		{"negative stock", with("stock", -1), "stock"},
		{"owner in body", with("sellerId", "usr_someone_else"), "sellerId"},
		{"status in body", with("status", "published"), "status"},
		{"long description", with("description", strings.Repeat("y", 5001)), "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, tt.body)
			require.Equal(t, http.StatusBadRequest, r.status, r.raw)
			errs := r.body["errors"].([]any)
			assert.Equal(t, tt.field, errs[0].(map[string]any)["field"], r.raw)
		})
	}
}

func TestOnlyTheOwnerOrAnAdminChangesAListing(t *testing.T) {
	a := newAPI(t)
	owner, rival := a.seller("owner@example.com"), a.seller("rival@example.com")
	create := func() string {
		r := a.do("listing-create", http.MethodPost, "/v1/listings", owner.access, chair)
		require.Equal(t, http.StatusCreated, r.status, r.raw)
		return r.body["id"].(string)
	}
	draft, live := create(), create()
	require.Equal(t, http.StatusOK, a.do("listing-publish", http.MethodPost, "/v1/listings/"+live+"/publish", owner.access, nil).status)

	assert.Equal(t, http.StatusNotFound, a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+draft, rival.access, `"1"`, map[string]any{"title": "Mine now"}).status, "another seller's draft does not exist for them")
	assert.Equal(t, http.StatusForbidden, a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+live, rival.access, `"2"`, map[string]any{"title": "Mine now"}).status)
	assert.Equal(t, http.StatusForbidden, a.do("listing-archive", http.MethodPost, "/v1/listings/"+live+"/archive", rival.access, nil).status)
	assert.Equal(t, http.StatusNotFound, a.do("listing-publish", http.MethodPost, "/v1/listings/"+draft+"/publish", rival.access, nil).status)
	assert.Equal(t, http.StatusNotFound, a.do("listing-publish", http.MethodPost, "/v1/listings/lst_nope/publish", owner.access, nil).status)

	admin := a.admin()
	r := a.do("listing-archive", http.MethodPost, "/v1/listings/"+live+"/archive", admin.access, nil)
	assert.Equal(t, http.StatusOK, r.status, "admins moderate any listing")
	assert.Equal(t, owner.id, r.body["sellerId"], "and the owner stays the owner")
}

// TestConcurrentEditsOneWins sends two edits based on the same version at
// the same time: exactly one succeeds and the other gets 412, in every
// round, whichever interleaving DynamoDB sees.
func TestConcurrentEditsOneWins(t *testing.T) {
	a := newAPI(t)
	s := a.seller("race@example.com")
	r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, chair)
	require.Equal(t, http.StatusCreated, r.status)
	id := r.body["id"].(string)

	version := int64(1)
	for round := 0; round < 5; round++ {
		etag := `"` + itoa(version) + `"`
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest(http.MethodPatch, "/v1/listings/"+id, strings.NewReader(`{"title":"Edit `+itoa(int64(i))+`"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+s.access)
				req.Header.Set("If-Match", etag)
				rec := httptest.NewRecorder()
				<-start
				a.handler["listing-update"].ServeHTTP(rec, req)
				statuses[i] = rec.Code
			}()
		}
		close(start)
		wg.Wait()
		assert.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, statuses, "round %d", round)
		version++
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
