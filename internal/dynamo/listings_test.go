package dynamo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// mk returns a published listing, published i minutes after t0.
func mk(i int, cat string, price int64) listing.Listing {
	at := t0.Add(time.Duration(i) * time.Minute)
	pub := at
	return listing.Listing{
		ID: listing.NewID(at), SellerID: "usr_1", Title: fmt.Sprintf("item %d", i), Description: "d",
		Category: cat, Price: listing.Money{Amount: price, Currency: "EUR"}, Status: listing.Published,
		Stock: 1, CreatedAt: at, UpdatedAt: at, PublishedAt: &pub, Version: 1,
	}
}

func newStore(t *testing.T) (*dynamo.Listings, *dynamo.Calls) {
	calls := dynamo.NewCalls()
	db, name := dynamotest.NewTable(t, calls.Option())
	calls.Reset() // count only what the store does
	return dynamo.NewListings(db, name), calls
}

func ids(ls []listing.Listing) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func TestListingsGetRoundTrip(t *testing.T) {
	s, calls := newStore(t)
	ctx := context.Background()
	want := mk(1, "books", 1999)
	require.NoError(t, s.Put(ctx, want))

	got, err := s.Get(ctx, want.ID)
	require.NoError(t, err)
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.Price, got.Price)
	assert.True(t, want.CreatedAt.Equal(got.CreatedAt))
	require.NotNil(t, got.PublishedAt)
	assert.True(t, want.PublishedAt.Equal(*got.PublishedAt))
	assert.Equal(t, want.Title, got.Title)
	assert.Equal(t, listing.Published, got.Status)

	_, err = s.Get(ctx, listing.NewID(t0))
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "missing item: %v", err)
	assert.Equal(t, map[string]int{"BatchWriteItem": 1, "Query": 2}, calls.Snapshot(), "one Query reads a listing and its counters")
}

func TestListingsBrowsePagesNewestFirstWithoutGapsOrRepeats(t *testing.T) {
	s, calls := newStore(t)
	ctx := context.Background()
	var all []listing.Listing
	for i := 0; i < 57; i++ {
		all = append(all, mk(i, []string{"books", "art", "toys"}[i%3], int64(100*i)))
	}
	draft := mk(100, "books", 5)
	draft.Status, draft.PublishedAt = listing.Draft, nil
	require.NoError(t, s.Put(ctx, append(all, draft)...))

	var got []listing.Listing
	var after map[string]string
	pages := 0
	for {
		items, next, err := s.Browse(ctx, listing.Query{Limit: 10, Sort: listing.Newest}, after)
		require.NoError(t, err)
		pages++
		got = append(got, items...)
		if next == nil {
			break
		}
		assert.Len(t, items, 10)
		after = next
	}
	assert.Equal(t, 6, pages)
	require.Len(t, got, 57, "every published listing once, no draft")
	for i := range got {
		assert.Equal(t, all[56-i].ID, got[i].ID, "position %d", i)
	}
	assert.Equal(t, 6, calls.Snapshot()["Query"], "one query per page when nothing is filtered")
	assert.Zero(t, calls.Snapshot()["Scan"])
}

func TestListingsBrowseByCategoryAndPrice(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var books []string
	var all []listing.Listing
	for i := 0; i < 30; i++ {
		l := mk(i, []string{"books", "art"}[i%2], int64(100*i))
		all = append(all, l)
	}
	require.NoError(t, s.Put(ctx, all...))
	for i := 29; i >= 0; i-- {
		if i%2 == 0 && all[i].Price.Amount >= 1000 && all[i].Price.Amount <= 2000 {
			books = append(books, all[i].ID)
		}
	}
	lo, hi := int64(1000), int64(2000)
	items, next, err := s.Browse(ctx, listing.Query{Category: "books", MinPrice: &lo, MaxPrice: &hi, Limit: 3}, nil)
	require.NoError(t, err)
	assert.Equal(t, books[:3], ids(items))
	require.NotNil(t, next)
	items, next, err = s.Browse(ctx, listing.Query{Category: "books", MinPrice: &lo, MaxPrice: &hi, Limit: 3}, next)
	require.NoError(t, err)
	assert.Equal(t, books[3:], ids(items))
	assert.Nil(t, next)

	items, _, err = s.Browse(ctx, listing.Query{MinPrice: &lo, Limit: 100}, nil)
	require.NoError(t, err)
	assert.Len(t, items, 20, "prices 1000..2900")
	items, _, err = s.Browse(ctx, listing.Query{MaxPrice: &lo, Limit: 100}, nil)
	require.NoError(t, err)
	assert.Len(t, items, 11, "prices 0..1000")
}

func TestListingsBrowseSelectiveFilterStopsWithinBudget(t *testing.T) {
	s, calls := newStore(t)
	ctx := context.Background()
	var all []listing.Listing
	for i := 0; i < 560; i++ {
		all = append(all, mk(i, "art", 100))
	}
	rare := mk(-1, "art", 99_999) // the oldest: beyond five rounds of 100
	require.NoError(t, s.Put(ctx, append(all, rare)...))

	lo := int64(50_000)
	items, next, err := s.Browse(ctx, listing.Query{Category: "art", MinPrice: &lo, Limit: 10}, nil)
	require.NoError(t, err)
	assert.Empty(t, items)
	require.NotNil(t, next, "a short page must hand back where it stopped")
	assert.Equal(t, 5, calls.Snapshot()["Query"])

	items, next, err = s.Browse(ctx, listing.Query{Category: "art", MinPrice: &lo, Limit: 10}, next)
	require.NoError(t, err)
	assert.Equal(t, []string{rare.ID}, ids(items))
	assert.Nil(t, next)
}

func TestListingsBrowseRejectsPositionOfAnotherPartition(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, mk(1, "art", 1), mk(2, "art", 1), mk(3, "books", 1)))
	_, next, err := s.Browse(ctx, listing.Query{Category: "art", Limit: 1}, nil)
	require.NoError(t, err)
	require.NotNil(t, next)

	_, _, err = s.Browse(ctx, listing.Query{Category: "books", Limit: 1}, next)
	assert.Equal(t, fault.Invalid, fault.KindOf(err))
	delete(next, "SK")
	next["other"] = "x"
	_, _, err = s.Browse(ctx, listing.Query{Category: "art", Limit: 1}, next)
	assert.Equal(t, fault.Invalid, fault.KindOf(err))
}

func TestListingsPutBatchesOf25(t *testing.T) {
	s, calls := newStore(t)
	var all []listing.Listing
	for i := 0; i < 60; i++ {
		all = append(all, mk(i, "toys", 1))
	}
	require.NoError(t, s.Put(context.Background(), all...))
	assert.Equal(t, 3, calls.Snapshot()["BatchWriteItem"])
	assert.Equal(t, 3, calls.Total())
	calls.Reset()
	assert.Zero(t, calls.Total())
}

func TestListingsReportsStoreFailureAsInternal(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, listing.NewID(t0))
	assert.Equal(t, fault.Internal, fault.KindOf(err))
	_, _, err = s.Browse(ctx, listing.Query{Limit: 1}, nil)
	assert.Equal(t, fault.Internal, fault.KindOf(err))
	assert.Equal(t, fault.Internal, fault.KindOf(s.Put(ctx, mk(1, "art", 1))))
}

func TestListingsBrowseByPrice(t *testing.T) {
	s, calls := newStore(t)
	ctx := context.Background()
	prices := []int64{500, 99, 12000, 2500, 99, 7000, 100_000}
	var all []listing.Listing
	for i, p := range prices {
		all = append(all, mk(i, []string{"art", "books"}[i%2], p))
	}
	require.NoError(t, s.Put(ctx, all...))

	collect := func(q listing.Query) []int64 {
		var got []int64
		var after map[string]string
		for {
			items, next, err := s.Browse(ctx, q, after)
			require.NoError(t, err)
			for _, l := range items {
				got = append(got, l.Price.Amount)
			}
			if next == nil {
				return got
			}
			after = next
		}
	}
	assert.Equal(t, []int64{99, 99, 500, 2500, 7000, 12000, 100_000}, collect(listing.Query{Sort: listing.PriceAsc, Limit: 3}))
	assert.Equal(t, []int64{100_000, 12000, 7000, 2500, 500, 99, 99}, collect(listing.Query{Sort: listing.PriceDesc, Limit: 2}))
	assert.Equal(t, []int64{99, 500, 12000, 100_000}, collect(listing.Query{Sort: listing.PriceAsc, Category: "art", Limit: 10}))

	lo, hi := int64(99), int64(7000)
	calls.Reset()
	assert.Equal(t, []int64{7000, 2500, 500, 99, 99}, collect(listing.Query{Sort: listing.PriceDesc, MinPrice: &lo, MaxPrice: &hi, Limit: 10}))
	assert.Equal(t, 1, calls.Snapshot()["Query"], "on a price index the range is a key condition: one query, nothing filtered out")
	assert.Equal(t, []int64{12000, 100_000}, collect(listing.Query{Sort: listing.PriceAsc, MinPrice: &[]int64{7001}[0], Limit: 10}))
	assert.Equal(t, []int64{99, 99}, collect(listing.Query{Sort: listing.PriceAsc, MaxPrice: &[]int64{99}[0], Limit: 10}))
}
