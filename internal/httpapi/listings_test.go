package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/listing"
)

func seed(t *testing.T, s *dynamo.Listings, n int, cat string) []listing.Listing {
	t.Helper()
	var ls []listing.Listing
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * time.Hour)
		l := listing.Listing{
			ID: listing.NewID(at), SellerID: "usr_1", Title: "Oak chair", Description: "Sturdy",
			Category: cat, Price: listing.Money{Amount: int64(1000 + i), Currency: "EUR"},
			Status: listing.Published, Stock: 1, CreatedAt: at, UpdatedAt: at, PublishedAt: &at, Version: 1,
		}
		ls = append(ls, l)
	}
	require.NoError(t, s.Put(context.Background(), ls...))
	return ls
}

func TestGetListing(t *testing.T) {
	a := newAPI(t)
	ls := seed(t, a.store, 1, "home")
	draft := ls[0]
	draft.ID, draft.Status, draft.PublishedAt = listing.NewID(time.Now()), listing.Draft, nil
	require.NoError(t, a.store.Put(context.Background(), draft))

	r := a.get("listing-get", "/v1/listings/"+ls[0].ID)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, ls[0].ID, r.body["id"])
	assert.Equal(t, map[string]any{"amount": 1000.0, "currency": "EUR"}, r.body["price"])
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, "public, max-age=30", r.header.Get("Cache-Control"))
	assert.NotEmpty(t, r.header.Get(lambdahttp.CorrelationHeader))

	tests := []struct{ name, id string }{
		{"unknown id", listing.NewID(time.Now())},
		{"draft is private", draft.ID},
		{"malformed id", "lst_nope"},
		{"injection attempt", url.PathEscape(`" OR 1=1`)},
	}
	a.calls.Reset()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.get("listing-get", "/v1/listings/"+tt.id)
			assert.Equal(t, http.StatusNotFound, r.status)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.Equal(t, r.header.Get(lambdahttp.CorrelationHeader), r.body["instance"])
			assert.Contains(t, r.body["detail"], "no listing with id")
		})
	}
	assert.Equal(t, 2, a.calls.Total(), "malformed ids are rejected without a DynamoDB call")
}

func TestListListingsPagination(t *testing.T) {
	a := newAPI(t)
	seed(t, a.store, 25, "books")
	seed(t, a.store, 5, "art")

	var seen []string
	target := "/v1/listings?category=books&limit=10"
	for target != "" {
		r := a.get("listing-list", target)
		require.Equal(t, http.StatusOK, r.status, r.body)
		for _, it := range r.body["items"].([]any) {
			item := it.(map[string]any)
			assert.Equal(t, "books", item["category"])
			seen = append(seen, item["id"].(string))
		}
		target = ""
		if c, ok := r.body["nextCursor"].(string); ok {
			target = "/v1/listings?category=books&limit=10&cursor=" + c
		}
	}
	assert.Len(t, seen, 25)
	for i := 1; i < len(seen); i++ {
		assert.Greater(t, seen[i-1], seen[i], "newest first")
	}

	r := a.get("listing-list", "/v1/listings?category=garden")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, []any{}, r.body["items"], "an empty page is an empty list, not null")
	assert.NotContains(t, r.body, "nextCursor")
}

func TestListListingsRejectsBadInput(t *testing.T) {
	a := newAPI(t)
	seed(t, a.store, 3, "books")
	first := a.get("listing-list", "/v1/listings?category=books&limit=1")
	require.Equal(t, http.StatusOK, first.status)
	cur := first.body["nextCursor"].(string)
	tampered := []byte(cur)
	tampered[len(tampered)/2] ^= 1
	if tampered[len(tampered)/2] == '_' || tampered[len(tampered)/2] == '-' {
		tampered[len(tampered)/2] = 'A'
	}

	tests := []struct {
		name, query, field string
	}{
		{"unknown parameter", "colour=red", "query.colour"},
		{"unknown category", "category=weapons", "query.category"},
		{"negative price", "minPrice=-1", "query.minPrice"},
		{"price not a number", "maxPrice=cheap", "query.maxPrice"},
		{"min above max", "minPrice=10&maxPrice=5", "query.minPrice"},
		{"limit too large", "limit=1000", "query.limit"},
		{"unknown sort", "sort=random", "query.sort"},
		{"tampered cursor", "category=books&limit=1&cursor=" + string(tampered), "query.cursor"},
		{"cursor of another query", "category=art&limit=1&cursor=" + cur, "query.cursor"},
		{"garbage cursor", "cursor=" + strings.Repeat("x", 3000), "query.cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.get("listing-list", "/v1/listings?"+tt.query)
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			errs, _ := r.body["errors"].([]any)
			require.NotEmpty(t, errs, r.body)
			assert.Equal(t, tt.field, errs[0].(map[string]any)["field"])
		})
	}
}

func TestHealth(t *testing.T) {
	a := newAPI(t)
	r := a.get("health", "/v1/health")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, map[string]any{"status": "ok", "stage": "test", "release": "r1"}, r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
}
