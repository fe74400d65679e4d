package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// published creates and publishes a listing as seller s.
func (a *api) published(s session) string {
	a.t.Helper()
	r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, chair)
	require.Equal(a.t, http.StatusCreated, r.status, r.raw)
	id := r.body["id"].(string)
	require.Equal(a.t, http.StatusOK, a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil).status)
	return id
}

func TestFavoritesAreIdempotentAndCounted(t *testing.T) {
	a := newAPI(t)
	s := a.seller("fav-seller@example.com")
	buyer, other := a.register("fan@example.com"), a.register("other-fan@example.com")
	first, second := a.published(s), a.published(s)

	for range 2 {
		assert.Equal(t, http.StatusNoContent, a.do("favorite-add", http.MethodPut, "/v1/listings/"+first+"/favorite", buyer.access, nil).status)
	}
	assert.Equal(t, http.StatusNoContent, a.do("favorite-add", http.MethodPut, "/v1/listings/"+second+"/favorite", buyer.access, nil).status)
	assert.Equal(t, http.StatusNoContent, a.do("favorite-add", http.MethodPut, "/v1/listings/"+first+"/favorite", other.access, nil).status)

	got := a.get("listing-get", "/v1/listings/"+first)
	require.Equal(t, http.StatusOK, got.status)
	stats := got.body["stats"].(map[string]any)
	assert.Equal(t, 2.0, stats["favorites"], "two people, one of them twice")

	list := a.do("favorite-list", http.MethodGet, "/v1/me/favorites?limit=1", buyer.access, nil)
	require.Equal(t, http.StatusOK, list.status, list.raw)
	items := list.body["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, second, items[0].(map[string]any)["id"], "most recent first")
	cur := list.body["nextCursor"].(string)
	list = a.do("favorite-list", http.MethodGet, "/v1/me/favorites?limit=1&cursor="+cur, buyer.access, nil)
	require.Equal(t, http.StatusOK, list.status, list.raw)
	assert.Equal(t, first, list.body["items"].([]any)[0].(map[string]any)["id"])
	assert.NotContains(t, list.body, "nextCursor")

	stolen := a.do("favorite-list", http.MethodGet, "/v1/me/favorites?limit=1&cursor="+cur, other.access, nil)
	assert.Equal(t, http.StatusBadRequest, stolen.status, "a cursor is bound to its owner")
	assert.Equal(t, http.StatusBadRequest, a.do("favorite-list", http.MethodGet, "/v1/me/favorites?limit=0", buyer.access, nil).status)
	assert.Equal(t, http.StatusBadRequest, a.do("favorite-list", http.MethodGet, "/v1/me/favorites?sort=x", buyer.access, nil).status)

	for range 2 {
		assert.Equal(t, http.StatusNoContent, a.do("favorite-remove", http.MethodDelete, "/v1/listings/"+first+"/favorite", buyer.access, nil).status)
	}
	stats = a.get("listing-get", "/v1/listings/"+first).body["stats"].(map[string]any)
	assert.Equal(t, 1.0, stats["favorites"], "removing twice uncounts once")

	events := map[string]int{}
	for _, e := range a.logs.lines("event") {
		events[e["event"].(string)]++
	}
	assert.Equal(t, 3, events["listing_favorited"])
	assert.Equal(t, 1, events["listing_unfavorited"])
}

func TestFavoritesOnlyForVisibleListings(t *testing.T) {
	a := newAPI(t)
	s := a.seller("hidden@example.com")
	buyer := a.register("curious@example.com")
	r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, chair)
	draft := r.body["id"].(string)
	assert.Equal(t, http.StatusNotFound, a.do("favorite-add", http.MethodPut, "/v1/listings/"+draft+"/favorite", buyer.access, nil).status, "drafts cannot be favourited")
	assert.Equal(t, http.StatusNotFound, a.do("favorite-add", http.MethodPut, "/v1/listings/lst_nope/favorite", buyer.access, nil).status)
	assert.Equal(t, http.StatusNoContent, a.do("favorite-remove", http.MethodDelete, "/v1/listings/lst_nope/favorite", buyer.access, nil).status)

	live := a.published(s)
	require.Equal(t, http.StatusNoContent, a.do("favorite-add", http.MethodPut, "/v1/listings/"+live+"/favorite", buyer.access, nil).status)
	require.Equal(t, http.StatusOK, a.do("listing-archive", http.MethodPost, "/v1/listings/"+live+"/archive", s.access, nil).status)
	list := a.do("favorite-list", http.MethodGet, "/v1/me/favorites", buyer.access, nil)
	assert.Equal(t, []any{}, list.body["items"], "archived favourites drop out of the list")
}

func TestViewsAreCounted(t *testing.T) {
	a := newAPI(t)
	id := a.published(a.seller("viewed@example.com"))
	for range 3 {
		require.Equal(t, http.StatusOK, a.get("listing-get", "/v1/listings/"+id).status)
	}
	stats := a.get("listing-get", "/v1/listings/"+id).body["stats"].(map[string]any)
	assert.Equal(t, 3.0, stats["views"], "the fourth read sees the three before it (the fixture flushes every view)")
}
