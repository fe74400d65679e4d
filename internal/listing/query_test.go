package listing

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
)

func ptr(n int64) *int64 { return &n }

// MustParseValues parses a raw query string, failing the test if it is
// malformed.
func MustParseValues(tb testing.TB, raw string) url.Values {
	tb.Helper()
	v, err := url.ParseQuery(raw)
	require.NoError(tb, err)
	return v
}

func TestParseQueryValid(t *testing.T) {
	def := Query{Sort: Newest, Limit: DefaultLimit}
	with := func(edit func(*Query)) Query {
		q := def
		edit(&q)
		return q
	}
	tests := []struct {
		name string
		raw  string
		want Query
	}{
		{"defaults", "", def},
		{"empty values are defaults", "category=&minPrice=&maxPrice=&sort=&limit=&cursor=", def},
		{"category", "category=books", with(func(q *Query) { q.Category = "books" })},
		{"last category", "category=other", with(func(q *Query) { q.Category = "other" })},
		{"min price", "minPrice=1500", with(func(q *Query) { q.MinPrice = ptr(1500) })},
		{"min price zero", "minPrice=0", with(func(q *Query) { q.MinPrice = ptr(0) })},
		{"max price at bound", "maxPrice=" + strconv.Itoa(MaxPrice), with(func(q *Query) { q.MaxPrice = ptr(MaxPrice) })},
		{"min equals max", "minPrice=500&maxPrice=500", with(func(q *Query) { q.MinPrice, q.MaxPrice = ptr(500), ptr(500) })},
		{"min below max", "minPrice=1&maxPrice=2", with(func(q *Query) { q.MinPrice, q.MaxPrice = ptr(1), ptr(2) })},
		{"sort newest", "sort=newest", def},
		{"sort by price, cheapest first", "sort=price_asc", func() Query { q := def; q.Sort = PriceAsc; return q }()},
		{"sort by price, dearest first", "sort=price_desc", func() Query { q := def; q.Sort = PriceDesc; return q }()},
		{"limit 1", "limit=1", with(func(q *Query) { q.Limit = 1 })},
		{"limit 100", "limit=100", with(func(q *Query) { q.Limit = 100 })},
		{"limit with leading zero", "limit=007", with(func(q *Query) { q.Limit = 7 })},
		{"cursor kept verbatim", "cursor=abc-_123", with(func(q *Query) { q.Cursor = "abc-_123" })},
		{
			"everything",
			"category=art&minPrice=100&maxPrice=9900&sort=newest&limit=50&cursor=xyz",
			Query{Category: "art", MinPrice: ptr(100), MaxPrice: ptr(9900), Sort: Newest, Limit: 50, Cursor: "xyz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseQuery(MustParseValues(t, tt.raw))
			require.NoErrorf(t, err, "ParseQuery(%q)", tt.raw)
			assert.Equalf(t, tt.want, got, "ParseQuery(%q) = %+v, want %+v", tt.raw, got, tt.want)
		})
	}
}

func TestParseQueryInvalid(t *testing.T) {
	const (
		price    = "must be a whole number of minor units between 0 and 100000000000"
		limit    = "must be a whole number between 1 and 100"
		once     = "must be given once"
		unknown  = "is not a known parameter; use one of q, category, minPrice, maxPrice, sort, cursor, limit"
		category = "must be one of electronics, fashion, home, garden, sports, toys, books, music, art, collectibles, vehicles, other"
	)
	tests := []struct {
		name string
		raw  string
		want []fault.FieldError
	}{
		{"unknown category", "category=cars", []fault.FieldError{{Field: "query.category", Message: category}}},
		{"category is case-sensitive", "category=Books", []fault.FieldError{{Field: "query.category", Message: category}}},
		{"negative min price", "minPrice=-1", []fault.FieldError{{Field: "query.minPrice", Message: price}}},
		{"fractional min price", "minPrice=1.50", []fault.FieldError{{Field: "query.minPrice", Message: price}}},
		{"min price not a number", "minPrice=cheap", []fault.FieldError{{Field: "query.minPrice", Message: price}}},
		{"max price above bound", "maxPrice=" + strconv.Itoa(MaxPrice+1), []fault.FieldError{{Field: "query.maxPrice", Message: price}}},
		{"max price overflows int64", "maxPrice=99999999999999999999", []fault.FieldError{{Field: "query.maxPrice", Message: price}}},
		{"min greater than max", "minPrice=501&maxPrice=500", []fault.FieldError{{Field: "query.minPrice", Message: "must not be greater than maxPrice"}}},
		{"unknown sort", "sort=cheapest", []fault.FieldError{{Field: "query.sort", Message: "must be newest, price_asc or price_desc"}}},
		{"limit 0", "limit=0", []fault.FieldError{{Field: "query.limit", Message: limit}}},
		{"limit 101", "limit=101", []fault.FieldError{{Field: "query.limit", Message: limit}}},
		{"limit negative", "limit=-1", []fault.FieldError{{Field: "query.limit", Message: limit}}},
		{"limit abc", "limit=abc", []fault.FieldError{{Field: "query.limit", Message: limit}}},
		{"limit fractional", "limit=2.5", []fault.FieldError{{Field: "query.limit", Message: limit}}},
		{"unknown parameter", "colour=red", []fault.FieldError{{Field: "query.colour", Message: unknown}}},
		{"parameter names are case-sensitive", "Limit=5", []fault.FieldError{{Field: "query.Limit", Message: unknown}}},
		{"unknown parameter repeated is reported once", "colour=red&colour=blue", []fault.FieldError{{Field: "query.colour", Message: unknown}}},
		{"repeated parameter", "limit=5&limit=6", []fault.FieldError{{Field: "query.limit", Message: once}}},
		{"repeated cursor", "cursor=a&cursor=b", []fault.FieldError{{Field: "query.cursor", Message: once}}},
		{
			"several errors sorted by field",
			"sort=oldest&zeta=1&limit=0&category=cars&alpha=2&maxPrice=x",
			[]fault.FieldError{
				{Field: "query.alpha", Message: unknown},
				{Field: "query.category", Message: category},
				{Field: "query.limit", Message: limit},
				{Field: "query.maxPrice", Message: price},
				{Field: "query.sort", Message: "must be newest, price_asc or price_desc"},
				{Field: "query.zeta", Message: unknown},
			},
		},
		{
			"bad prices are not also compared",
			"minPrice=x&maxPrice=-3",
			[]fault.FieldError{{Field: "query.maxPrice", Message: price}, {Field: "query.minPrice", Message: price}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Map order is random; parse several times so the sorting is exercised.
			for range 5 {
				got, err := ParseQuery(MustParseValues(t, tt.raw))
				require.Errorf(t, err, "ParseQuery(%q) = %+v, want an error", tt.raw, got)
				assert.Equal(t, Query{}, got, "no partial query on error")
				fe, ok := fault.As(err)
				require.Truef(t, ok, "ParseQuery(%q) error %v is not a *fault.Error", tt.raw, err)
				assert.Equal(t, fault.Invalid, fe.Kind)
				assert.Equal(t, "listing.ParseQuery", fe.Op)
				require.Equalf(t, tt.want, fe.Fields, "ParseQuery(%q) fields", tt.raw)
				if len(tt.want) == 1 {
					assert.Equal(t, tt.want[0].Field+": "+tt.want[0].Message, fe.Message)
				}
			}
		})
	}
}

func TestQueryScope(t *testing.T) {
	parse := func(raw string) Query {
		t.Helper()
		q, err := ParseQuery(MustParseValues(t, raw))
		require.NoError(t, err)
		return q
	}
	base := parse("category=art&minPrice=100&maxPrice=200")
	assert.Equal(t, "listings||art|100|200|newest", base.scope())
	assert.Equal(t, "listings|||||newest", parse("").scope())
	assert.Equal(t, "listings|oak chair||||relevance", parse("q=Oak+chairs").scope(), "the scope holds the normalised terms")

	same := []string{
		"category=art&minPrice=100&maxPrice=200&limit=5",
		"category=art&minPrice=100&maxPrice=200&cursor=abc",
		"maxPrice=200&category=art&minPrice=100&sort=newest",
	}
	for _, raw := range same {
		assert.Equalf(t, base.scope(), parse(raw).scope(), "scope(%q) differs; cursor and limit must not change it", raw)
	}
	different := []string{
		"category=books&minPrice=100&maxPrice=200",
		"category=art&minPrice=101&maxPrice=200",
		"category=art&minPrice=100",
		"category=art&maxPrice=200",
		"category=art&minPrice=200&maxPrice=200",
	}
	for _, raw := range different {
		assert.NotEqualf(t, base.scope(), parse(raw).scope(), "scope(%q) equals another query's", raw)
	}
	// A min bound and a max bound of the same value are not confused.
	assert.NotEqual(t, parse("minPrice=5").scope(), parse("maxPrice=5").scope())
}

func TestHasPriceFilter(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"", false},
		{"category=art&limit=5", false},
		{"minPrice=0", true},
		{"maxPrice=10", true},
		{"minPrice=1&maxPrice=10", true},
	}
	for _, tt := range tests {
		q, err := ParseQuery(MustParseValues(t, tt.raw))
		require.NoError(t, err)
		assert.Equalf(t, tt.want, q.HasPriceFilter(), "ParseQuery(%q).HasPriceFilter() = %v, want %v", tt.raw, q.HasPriceFilter(), tt.want)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, raw := range []string{
		"", "limit=20", "limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1&limit=2",
		"category=books", "category=cars", "category=",
		"minPrice=10&maxPrice=5", "minPrice=5&maxPrice=10", "minPrice=-1", "maxPrice=99999999999999999999",
		"sort=newest", "sort=oldest", "cursor=abc", "q=lamp", "a=1&b=2&c=3",
		"category=art&minPrice=100&maxPrice=9900&sort=newest&limit=50&cursor=xyz",
		"%zz", "limit=%2B5", "minPrice=+0&maxPrice=-0", "limit=1e2", ";;&&==",
	} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // keeps the pairs it could parse
		q, err := ParseQuery(v)
		if err != nil {
			fe, ok := fault.As(err)
			require.Truef(t, ok, "ParseQuery(%q) error %v is not a *fault.Error", raw, err)
			require.Equalf(t, fault.Invalid, fe.Kind, "ParseQuery(%q) error kind %s, want invalid", raw, fe.Kind)
			require.NotEmpty(t, fe.Fields)
			for _, f := range fe.Fields {
				require.Truef(t, strings.HasPrefix(f.Field, "query."), "field %q lacks the query. prefix", f.Field)
			}
			require.True(t, slices.IsSortedFunc(fe.Fields, func(a, b fault.FieldError) int { return strings.Compare(a.Field, b.Field) }), "fields not sorted: %v", fe.Fields)
			return
		}
		require.GreaterOrEqualf(t, q.Limit, 1, "ParseQuery(%q).Limit", raw)
		require.LessOrEqualf(t, q.Limit, MaxLimit, "ParseQuery(%q).Limit", raw)
		require.Truef(t, q.Category == "" || ValidCategory(q.Category), "ParseQuery(%q).Category = %q", raw, q.Category)
		if len(q.Terms) > 0 {
			require.Equal(t, Relevance, q.Sort, "keyword searches are ordered by relevance")
		} else {
			require.Equal(t, Newest, q.Sort)
		}
		for _, p := range []*int64{q.MinPrice, q.MaxPrice} {
			if p != nil {
				require.GreaterOrEqual(t, *p, int64(0))
				require.LessOrEqual(t, *p, int64(MaxPrice))
			}
		}
		if q.MinPrice != nil && q.MaxPrice != nil {
			require.LessOrEqualf(t, *q.MinPrice, *q.MaxPrice, "ParseQuery(%q) min > max", raw)
		}
		require.Equal(t, v.Get("cursor"), q.Cursor)
	})
}

func TestCategories(t *testing.T) {
	cats := Categories()
	require.Len(t, cats, 12)
	for _, c := range cats {
		assert.Truef(t, ValidCategory(c), "ValidCategory(%q) = false for a listed category", c)
		q, err := ParseQuery(url.Values{"category": {c}})
		require.NoError(t, err)
		assert.Equal(t, c, q.Category)
	}
	for _, c := range []string{"", "Books", "book", " books", "books ", "other,art"} {
		assert.Falsef(t, ValidCategory(c), "ValidCategory(%q) = true", c)
	}
	cats[0] = "mutated"
	assert.Equal(t, "electronics", Categories()[0], "Categories returns a copy")
	assert.False(t, ValidCategory("mutated"))
}
