package dynamo_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/search"
)

var searchT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// searchEnv is a fresh table with the listing store and the search index
// on it, and the counter of the calls they make.
type searchEnv struct {
	db    *dynamodb.Client
	table string
	store *dynamo.Listings
	idx   *dynamo.SearchIndex
	calls *dynamo.Calls
}

func newSearchEnv(t *testing.T, opts ...dynamo.SearchOption) *searchEnv {
	t.Helper()
	calls := dynamo.NewCalls()
	db, name := dynamotest.NewTable(t, calls.Option())
	calls.Reset()
	return &searchEnv{db: db, table: name, store: dynamo.NewListings(db, name), idx: dynamo.NewSearchIndex(db, name, opts...), calls: calls}
}

// searchListing returns a published listing, published i minutes after
// searchT0, so a higher i is newer.
func searchListing(i int, title, desc, category string, price int64) listing.Listing {
	at := searchT0.Add(time.Duration(i) * time.Minute)
	pub := at
	return listing.Listing{
		ID: listing.NewID(at), SellerID: "usr_1", Title: title, Description: desc, Category: category,
		Price: listing.Money{Amount: price, Currency: "EUR"}, Status: listing.Published, Stock: 1,
		CreatedAt: at, UpdatedAt: at, PublishedAt: &pub, Version: 1,
	}
}

// add saves listings and indexes them, as the write path will.
func (e *searchEnv) add(t *testing.T, ls ...listing.Listing) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.store.Put(ctx, ls...))
	for i := range ls {
		require.NoError(t, e.idx.Reindex(ctx, nil, &ls[i]))
	}
	e.calls.Reset()
}

// find returns the ids of every listing the query finds, best first.
func (e *searchEnv) find(t *testing.T, query string, q listing.Query) []string {
	t.Helper()
	terms, err := search.ParseQuery(query)
	require.NoError(t, err, "ParseQuery(%q)", query)
	q.Limit = listing.MaxLimit
	hits, next, err := e.idx.Search(context.Background(), terms, q, nil)
	require.NoError(t, err, "Search(%q)", query)
	assert.Nil(t, next, "one page holds every result in these tests")
	return hitIDs(hits)
}

// termCount counts the index items under term, read directly.
func (e *searchEnv) termCount(t *testing.T, term string) int {
	t.Helper()
	out, err := e.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(e.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "TERM#" + term}},
		Select:                    types.SelectCount,
	})
	require.NoError(t, err)
	return int(out.Count)
}

func hitIDs(hits []dynamo.SearchHit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.ListingID)
	}
	return out
}

func requireCursorInvalid(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	fe, ok := fault.As(err)
	require.True(t, ok, "want a fault, got %v", err)
	assert.Equal(t, fault.Invalid, fe.Kind, msgAndArgs...)
	require.Len(t, fe.Fields, 1, msgAndArgs...)
	assert.Equal(t, "query.cursor", fe.Fields[0].Field, msgAndArgs...)
}

func TestSearchIsCaseAndAccentInsensitive(t *testing.T) {
	e := newSearchEnv(t)
	cafe := searchListing(1, "Café crème vintage", "Deux tasses en porcelaine", "home", 2500)
	e.add(t, cafe, searchListing(2, "Tea pot", "A vintage tea pot", "home", 1500))

	for _, q := range []string{"cafe", "CAFÉ", "Creme", "cafés crème", "Café, crème!", "porcelaine tasse"} {
		e.calls.Reset()
		assert.Equal(t, []string{cafe.ID}, e.find(t, q, listing.Query{}), "query %q", q)
		terms, err := search.ParseQuery(q)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"Query": len(terms)}, e.calls.Snapshot(), "query %q: one Query per term, nothing else", q)
	}
	assert.Len(t, e.find(t, "vintage", listing.Query{}), 2)
	assert.Empty(t, e.find(t, "coffee", listing.Query{}))
}

func TestSearchRequiresEveryTerm(t *testing.T) {
	e := newSearchEnv(t)
	redBike := searchListing(1, "Red bike", "", "sports", 100)
	blueBike := searchListing(2, "Blue bike", "", "sports", 100)
	redCar := searchListing(3, "Red car", "toy car, bike rack not included", "toys", 100)
	e.add(t, redBike, blueBike, redCar)

	assert.Equal(t, []string{redBike.ID, redCar.ID}, e.find(t, "red bike", listing.Query{}), "red car has bike only in its description: ranks below")
	assert.Equal(t, []string{blueBike.ID, redBike.ID, redCar.ID}, e.find(t, "bikes", listing.Query{}))
	assert.Equal(t, []string{redCar.ID, redBike.ID}, e.find(t, "red", listing.Query{}))
	assert.Empty(t, e.find(t, "green bike", listing.Query{}), "a term no listing has matches nothing")
	assert.Empty(t, e.find(t, "blue car", listing.Query{}))
}

func TestSearchRanksTitleOverDescriptionThenRecency(t *testing.T) {
	e := newSearchEnv(t)
	oldTitle := searchListing(1, "Brass lamp", "", "home", 100)
	newDesc := searchListing(3, "Desk light", "a brass lamp shade", "home", 100)
	newTitle := searchListing(2, "Lamp, brass", "", "home", 100)
	partial := searchListing(4, "Lamp", "", "home", 100)
	e.add(t, oldTitle, newDesc, newTitle, partial)

	terms, err := search.ParseQuery("brass lamp")
	require.NoError(t, err)
	hits, _, err := e.idx.Search(context.Background(), terms, listing.Query{Limit: 10}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{newTitle.ID, oldTitle.ID, newDesc.ID}, hitIDs(hits), "title first, newest first among equals; the partial match is not found")
	require.Len(t, hits, 3)
	assert.Equal(t, hits[0].Score, hits[1].Score)
	assert.Greater(t, hits[1].Score, hits[2].Score)
}

func TestSearchFiltersByCategoryAndPrice(t *testing.T) {
	e := newSearchEnv(t)
	cheapArt := searchListing(1, "Vintage poster", "", "art", 500)
	dearArt := searchListing(2, "Vintage poster", "", "art", 50_000)
	book := searchListing(3, "Vintage poster book", "", "books", 2_000)
	e.add(t, cheapArt, dearArt, book)

	lo, hi := int64(1_000), int64(10_000)
	assert.Equal(t, []string{dearArt.ID, cheapArt.ID}, e.find(t, "poster", listing.Query{Category: "art"}))
	assert.Equal(t, []string{book.ID}, e.find(t, "poster", listing.Query{MinPrice: &lo, MaxPrice: &hi}))
	assert.Equal(t, []string{book.ID, dearArt.ID}, e.find(t, "poster", listing.Query{MinPrice: &lo}))
	assert.Equal(t, []string{cheapArt.ID}, e.find(t, "poster", listing.Query{Category: "art", MaxPrice: &hi}))
	assert.Empty(t, e.find(t, "poster", listing.Query{Category: "toys"}))
}

func TestSearchPagesWithoutGapsOrRepeats(t *testing.T) {
	e := newSearchEnv(t)
	var all []listing.Listing
	for i := range 23 {
		all = append(all, searchListing(i, fmt.Sprintf("Oak chair %d", i), "", "home", 100))
	}
	e.add(t, all...)
	terms, err := search.ParseQuery("oak chairs")
	require.NoError(t, err)
	ctx := context.Background()

	var got []string
	var after map[string]string
	pages := 0
	for {
		hits, next, err := e.idx.Search(ctx, terms, listing.Query{Limit: 5}, after)
		require.NoError(t, err)
		pages++
		got = append(got, hitIDs(hits)...)
		if next == nil {
			assert.Len(t, hits, 3)
			break
		}
		assert.Len(t, hits, 5)
		after = next
	}
	assert.Equal(t, 5, pages)
	require.Len(t, got, 23)
	for i := range got {
		assert.Equal(t, all[22-i].ID, got[i], "position %d: newest first among equal scores", i)
	}
	assert.Equal(t, map[string]int{"Query": 2 * pages}, e.calls.Snapshot())

	// Same terms in another order and another page size: the same query.
	_, next, err := e.idx.Search(ctx, terms, listing.Query{Limit: 5}, nil)
	require.NoError(t, err)
	hits, _, err := e.idx.Search(ctx, []string{terms[1], terms[0]}, listing.Query{Limit: 2}, next)
	require.NoError(t, err)
	assert.Equal(t, got[5:7], hitIDs(hits))

	// Past the end (the results shrank): an empty last page.
	hits, more, err := e.idx.Search(ctx, terms, listing.Query{Limit: 5}, map[string]string{"o": "99", "k": next["k"]})
	require.NoError(t, err)
	assert.Empty(t, hits)
	assert.Nil(t, more)

	art := "art"
	edited := "1" + next["k"][1:]
	if edited == next["k"] {
		edited = "0" + next["k"][1:]
	}
	bad := []struct {
		name  string
		terms []string
		q     listing.Query
		pos   map[string]string
	}{
		{"another query", []string{"oak"}, listing.Query{}, next},
		{"another filter", terms, listing.Query{Category: art}, next},
		{"edited fingerprint", terms, listing.Query{}, map[string]string{"o": "5", "k": edited}},
		{"no fingerprint", terms, listing.Query{}, map[string]string{"o": "5"}},
		{"extra key", terms, listing.Query{}, map[string]string{"o": "5", "k": next["k"], "x": "1"}},
		{"not a number", terms, listing.Query{}, map[string]string{"o": "five", "k": next["k"]}},
		{"zero", terms, listing.Query{}, map[string]string{"o": "0", "k": next["k"]}},
		{"negative", terms, listing.Query{}, map[string]string{"o": "-5", "k": next["k"]}},
		{"not canonical", terms, listing.Query{}, map[string]string{"o": "05", "k": next["k"]}},
		{"a browse position", terms, listing.Query{}, map[string]string{"PK": "LISTING#x", "SK": "LISTING"}},
	}
	for _, b := range bad {
		e.calls.Reset()
		_, _, err := e.idx.Search(ctx, b.terms, b.q, b.pos)
		requireCursorInvalid(t, err, b.name)
		assert.Zero(t, e.calls.Total(), "%s: rejected before reading", b.name)
	}
}

func TestSearchReindexFollowsEditsAndArchive(t *testing.T) {
	e := newSearchEnv(t)
	ctx := context.Background()
	before := searchListing(1, "Oak table", "solid wood, seats four", "home", 30_000)
	e.add(t, before)
	require.Equal(t, []string{before.ID}, e.find(t, "oak", listing.Query{}))

	after := before
	after.Title, after.Version = "Pine table", 2
	e.calls.Reset()
	require.NoError(t, e.idx.Reindex(ctx, &before, &after))
	assert.Equal(t, map[string]int{"BatchWriteItem": 1}, e.calls.Snapshot(), "one delete and one put, one call")
	assert.Empty(t, e.find(t, "oak", listing.Query{}), "the old title word is gone")
	assert.Equal(t, []string{before.ID}, e.find(t, "pine table", listing.Query{}))
	assert.Equal(t, []string{before.ID}, e.find(t, "wood", listing.Query{}), "unchanged terms stay")

	// A price change rewrites every term: the filters must see it.
	priced := after
	priced.Price.Amount = 5_000
	require.NoError(t, e.idx.Reindex(ctx, &after, &priced))
	hi := int64(10_000)
	assert.Equal(t, []string{before.ID}, e.find(t, "wood table", listing.Query{MaxPrice: &hi}))

	// A change to nothing searchable (stock) costs no call.
	e.calls.Reset()
	stocked := priced
	stocked.Stock = 7
	require.NoError(t, e.idx.Reindex(ctx, &priced, &stocked))
	assert.Zero(t, e.calls.Total())

	archived := stocked
	archived.Status = listing.Archived
	require.NoError(t, e.idx.Reindex(ctx, &stocked, &archived))
	for _, term := range search.Terms(stocked.Title, stocked.Description) {
		assert.Zero(t, e.termCount(t, term.Text), "term %q left in the index", term.Text)
		assert.Empty(t, e.find(t, term.Text, listing.Query{}))
	}

	// Published again later: indexed under the new publication time only.
	republished := archived
	republished.Status = listing.Published
	at := searchT0.Add(time.Hour)
	republished.PublishedAt = &at
	require.NoError(t, e.idx.Reindex(ctx, &archived, &republished))
	pine := search.Terms("Pine", "")[0].Text
	assert.Equal(t, 1, e.termCount(t, pine))
	sold := republished
	sold.Status, sold.Stock = listing.Sold, 0
	require.NoError(t, e.idx.Reindex(ctx, &republished, &sold))
	assert.Zero(t, e.termCount(t, pine), "a sold listing is not searchable")
}

func TestSearchReindexIsIdempotent(t *testing.T) {
	e := newSearchEnv(t)
	ctx := context.Background()
	l := searchListing(1, "Leather boots", "brown leather, size 42, barely worn", "fashion", 8_000)
	e.add(t, l)
	require.NoError(t, e.idx.Reindex(ctx, nil, &l), "indexing twice")
	edited := l
	edited.Description = "black leather"
	require.NoError(t, e.idx.Reindex(ctx, &l, &edited))
	require.NoError(t, e.idx.Reindex(ctx, &l, &edited), "the same change twice")

	for _, term := range search.Terms(edited.Title, edited.Description) {
		assert.Equal(t, 1, e.termCount(t, term.Text), "term %q", term.Text)
	}
	assert.Zero(t, e.termCount(t, "brown"))
	assert.Equal(t, []string{l.ID}, e.find(t, "black leather boot", listing.Query{}))
	require.NoError(t, e.idx.Reindex(ctx, &edited, nil), "a deleted listing")
	require.NoError(t, e.idx.Reindex(ctx, &edited, nil), "deleted twice")
	assert.Zero(t, e.termCount(t, "leather"))
}

func TestSearchNeverIndexesUnpublishedListings(t *testing.T) {
	e := newSearchEnv(t)
	ctx := context.Background()
	draft := searchListing(1, "Secret prototype", "", "electronics", 100)
	draft.Status, draft.PublishedAt = listing.Draft, nil
	noDate := searchListing(2, "Secret gadget", "", "electronics", 100)
	noDate.PublishedAt = nil
	sold := searchListing(3, "Secret sauce", "", "home", 100)
	sold.Status = listing.Sold
	require.NoError(t, e.store.Put(ctx, draft, noDate, sold))
	e.calls.Reset()
	for _, l := range []listing.Listing{draft, noDate, sold} {
		require.NoError(t, e.idx.Reindex(ctx, nil, &l))
	}
	assert.Zero(t, e.calls.Total(), "nothing to write")
	assert.Empty(t, e.find(t, "secret", listing.Query{}))
	assert.Zero(t, e.termCount(t, "secret"))
}

func TestSearchFindsOldListingsBeyondTheCandidateCap(t *testing.T) {
	e := newSearchEnv(t, dynamo.WithSearchCandidates(3))
	rare := searchListing(1, "Vintage cafe chair", "", "home", 100)
	oldCafe := searchListing(2, "Cafe table", "", "home", 100)
	var common []listing.Listing
	for i := range 6 {
		common = append(common, searchListing(10+i, fmt.Sprintf("Vintage radio %d", i), "", "electronics", 100))
	}
	e.add(t, append(common, rare, oldCafe)...)

	assert.Equal(t, []string{rare.ID}, e.find(t, "vintage cafe", listing.Query{}),
		"the rare term drives; the cut common term is checked with a point read")
	assert.Equal(t, map[string]int{"Query": 2, "BatchGetItem": 1}, e.calls.Snapshot())

	e.calls.Reset()
	assert.Empty(t, e.find(t, "radio cafe", listing.Query{}))
	assert.Equal(t, map[string]int{"Query": 2, "BatchGetItem": 1}, e.calls.Snapshot(), "both cafe listings checked, neither has radio")

	e.calls.Reset()
	assert.Equal(t, []string{common[5].ID, common[4].ID, common[3].ID}, e.find(t, "vintage radio", listing.Query{}),
		"when every term is common, results come from the newest of the driver")
	assert.Equal(t, map[string]int{"Query": 2}, e.calls.Snapshot(), "candidates within both cut lists need no point read")
}

func TestSearchRejectsEmptyTerms(t *testing.T) {
	e := newSearchEnv(t)
	for _, terms := range [][]string{nil, {""}, {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"}} {
		_, _, err := e.idx.Search(context.Background(), terms, listing.Query{}, nil)
		fe, ok := fault.As(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, fault.Invalid, fe.Kind)
		assert.Equal(t, "query.q", fe.Fields[0].Field)
	}
	assert.Zero(t, e.calls.Total())
}

func TestGetListingsKeepsOrderAndSkipsUnpublished(t *testing.T) {
	e := newSearchEnv(t)
	ctx := context.Background()
	var all []listing.Listing
	for i := range 150 {
		all = append(all, searchListing(i, "Item "+strconv.Itoa(i), "", "other", 100))
	}
	all[10].Status = listing.Archived
	all[20].Status, all[20].PublishedAt = listing.Draft, nil
	all[30].Status = listing.Sold
	require.NoError(t, e.store.Put(ctx, all...))
	e.calls.Reset()

	var ids, want []string
	for i := 149; i >= 0; i-- { // an order the table does not keep
		ids = append(ids, all[i].ID)
		if i != 10 && i != 20 && i != 30 {
			want = append(want, all[i].ID)
		}
	}
	missing := listing.NewID(searchT0)
	ids = append([]string{missing}, ids...)
	ids = append(ids, all[0].ID) // a repeat is returned once

	got, err := dynamo.GetListings(ctx, e.db, e.table, ids)
	require.NoError(t, err)
	assert.Equal(t, want, listingIDs(got))
	assert.Equal(t, map[string]int{"BatchGetItem": 2}, e.calls.Snapshot(), "151 distinct ids: two calls of at most 100")
	assert.Equal(t, all[149].Title, got[0].Title, "whole listings")

	got, err = dynamo.GetListings(ctx, e.db, e.table, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func listingIDs(ls []listing.Listing) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

// throttled is the real client, except that its first n batch calls
// process nothing, as DynamoDB does under throttling.
type throttled struct {
	dynamo.SearchAPI
	writes, gets int
}

func (c *throttled) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if c.writes > 0 {
		c.writes--
		return &dynamodb.BatchWriteItemOutput{UnprocessedItems: in.RequestItems}, nil
	}
	return c.SearchAPI.BatchWriteItem(ctx, in, opts...)
}

func (c *throttled) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if c.gets > 0 {
		c.gets--
		return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
	}
	return c.SearchAPI.BatchGetItem(ctx, in, opts...)
}

func TestSearchRetriesUnprocessedBatches(t *testing.T) {
	e := newSearchEnv(t)
	ctx := context.Background()
	db := &throttled{SearchAPI: e.db, writes: 2, gets: 2}
	idx := dynamo.NewSearchIndex(db, e.table)
	l := searchListing(1, "Retro camera", "", "electronics", 100)
	require.NoError(t, e.store.Put(ctx, l))
	e.calls.Reset()

	require.NoError(t, idx.Reindex(ctx, nil, &l))
	assert.Equal(t, map[string]int{"BatchWriteItem": 1}, e.calls.Snapshot(), "written on the third attempt")
	assert.Equal(t, []string{l.ID}, e.find(t, "retro camera", listing.Query{}))

	got, err := dynamo.GetListings(ctx, db, e.table, []string{l.ID})
	require.NoError(t, err)
	assert.Equal(t, []string{l.ID}, listingIDs(got))

	// Throttled for good: a bounded number of attempts, then an error.
	db.writes = 100
	archived := l
	archived.Status = listing.Archived
	err = idx.Reindex(ctx, &l, &archived)
	assert.Equal(t, fault.Internal, fault.KindOf(err))
	assert.ErrorContains(t, err, "after 8 attempts")
	assert.Equal(t, 92, db.writes, "eight attempts")

	// A request that ends while waiting stops waiting.
	db.gets = 100
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err = dynamo.GetListings(short, db, e.table, []string{l.ID})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, fault.Internal, fault.KindOf(err))
}

func TestSearchReportsStoreFailureAsInternal(t *testing.T) {
	e := newSearchEnv(t, dynamo.WithSearchCandidates(1))
	l := searchListing(1, "Blue vase", "", "home", 100)
	e.add(t, l, searchListing(2, "Blue cup", "", "home", 100))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := e.idx.Search(ctx, []string{"blue"}, listing.Query{}, nil)
	assert.Equal(t, fault.Internal, fault.KindOf(err))
	assert.Equal(t, fault.Internal, fault.KindOf(e.idx.Reindex(ctx, nil, &l)))
	_, err = dynamo.GetListings(ctx, e.db, e.table, []string{l.ID})
	assert.Equal(t, fault.Internal, fault.KindOf(err))

	// A point read that fails fails the search.
	db := &throttled{SearchAPI: e.db, gets: 100}
	short, stop := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer stop()
	terms, err := search.ParseQuery("vase blue")
	require.NoError(t, err)
	_, _, err = dynamo.NewSearchIndex(db, e.table, dynamo.WithSearchCandidates(1)).Search(short, terms, listing.Query{}, nil)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, e.calls.Snapshot()["Scan"])
}
