package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeywordSearch(t *testing.T) {
	a := newAPI(t)
	s := a.seller("searcher@example.com")
	publish := func(title, desc, cat string, price int) string {
		r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, map[string]any{
			"title": title, "description": desc, "category": cat, "price": map[string]any{"amount": price, "currency": "EUR"},
		})
		require.Equal(t, http.StatusCreated, r.status, r.raw)
		id := r.body["id"].(string)
		require.Equal(t, http.StatusOK, a.do("listing-publish", http.MethodPost, "/v1/listings/"+id+"/publish", s.access, nil).status)
		return id
	}
	armchair := publish("Café crème armchair", "Velvet, restored.", "home", 24900)
	table := publish("Oak table", "Seats six; pairs well with a café chair.", "home", 30000)
	lamp := publish("Brass lamp", "Art deco.", "home", 5000)
	r := a.do("listing-create", http.MethodPost, "/v1/listings", s.access, map[string]any{
		"title": "Secret café prototype", "category": "home", "price": map[string]any{"amount": 100, "currency": "EUR"},
	})
	require.Equal(t, http.StatusCreated, r.status)

	ids := func(r response) []string {
		var out []string
		for _, it := range r.body["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"accents and case", "q=CAFE", []string{armchair, table}},
		{"title matches first", "q=cafe", []string{armchair, table}},
		{"every term must match", "q=creme+armchair", []string{armchair}},
		{"accented query", "q=Crème", []string{armchair}},
		{"price filter", "q=cafe&maxPrice=25000", []string{armchair}},
		{"category filter", "q=lamp&category=art", nil},
		{"no match", "q=submarine", nil},
		{"drafts are not searchable", "q=prototype", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.get("listing-list", "/v1/listings?"+tt.query)
			require.Equal(t, http.StatusOK, r.status, r.raw)
			assert.Equal(t, tt.want, ids(r))
		})
	}
	_ = lamp

	page := a.get("listing-list", "/v1/listings?q=cafe&limit=1")
	require.Equal(t, []string{armchair}, ids(page))
	next := a.get("listing-list", "/v1/listings?q=cafe&limit=1&cursor="+page.body["nextCursor"].(string))
	assert.Equal(t, []string{table}, ids(next))
	assert.Equal(t, http.StatusBadRequest, a.get("listing-list", "/v1/listings?q=lamp&limit=1&cursor="+page.body["nextCursor"].(string)).status, "a cursor belongs to its query")

	for _, bad := range []string{"q=%20%21%21", "q=cafe&sort=newest", "sort=relevance"} {
		assert.Equal(t, http.StatusBadRequest, a.get("listing-list", "/v1/listings?"+bad).status, bad)
	}

	// Renaming moves it in the index; archiving removes it.
	r = a.doIf("listing-update", http.MethodPatch, "/v1/listings/"+lamp, s.access, `"2"`, map[string]any{"title": "Brass sconce"})
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Empty(t, ids(a.get("listing-list", "/v1/listings?q=lamp")))
	assert.Equal(t, []string{lamp}, ids(a.get("listing-list", "/v1/listings?q=sconce")))
	require.Equal(t, http.StatusOK, a.do("listing-archive", http.MethodPost, "/v1/listings/"+lamp+"/archive", s.access, nil).status)
	assert.Empty(t, ids(a.get("listing-list", "/v1/listings?q=sconce")))

	var searches []map[string]any
	for _, e := range a.logs.lines("event") {
		if e["event"] == "search" {
			searches = append(searches, e)
		}
	}
	require.NotEmpty(t, searches)
	assert.Equal(t, "cafe", searches[0]["query"], "the normalised query is reported")
	assert.Equal(t, 2.0, searches[0]["results"])
	assert.Zero(t, a.calls.Snapshot()["Scan"], "no Scan anywhere")
}
