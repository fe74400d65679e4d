package listing

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/search"
)

// Limits of a browse query.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxPrice bounds price filters (minor units) to keep them meaningful.
	MaxPrice = 1_000_000_000_00
)

// Sort is the order of a browse query.
type Sort string

// The orders of a browse query. Browsing is by recency (the default) or
// price; keyword searches are by relevance.
const (
	Newest    Sort = "newest"
	PriceAsc  Sort = "price_asc"
	PriceDesc Sort = "price_desc"
	Relevance Sort = "relevance"
)

// ByPrice reports whether the query is ordered by price.
func (q Query) ByPrice() bool { return q.Sort == PriceAsc || q.Sort == PriceDesc }

// Query is a validated browse request.
type Query struct {
	// Terms are the normalised keywords of q; empty when browsing. Text is
	// q normalised but not reduced to terms, as reported to analytics.
	Terms    []string
	Text     string
	Category string
	MinPrice *int64
	MaxPrice *int64
	Sort     Sort
	Limit    int
	Cursor   string
}

// HasPriceFilter reports whether the query bounds the price.
func (q Query) HasPriceFilter() bool { return q.MinPrice != nil || q.MaxPrice != nil }

// scope is the canonical form of everything but the cursor and the limit:
// a cursor is only valid for the query that produced it, while the page
// size may change from page to page.
func (q Query) scope() string {
	p := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	return "listings|" + strings.Join(q.Terms, " ") + "|" + q.Category + "|" + p(q.MinPrice) + "|" + p(q.MaxPrice) + "|" + string(q.Sort)
}

var queryParams = []string{"q", "category", "minPrice", "maxPrice", "sort", "cursor", "limit"}

// ParseQuery validates the query string of GET /v1/listings. Every problem
// is reported as a field error, so a client can fix them all at once.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Sort: Newest, Limit: DefaultLimit}
	var errs []fault.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fault.Fieldf("query."+field, format, args...))
	}
	for name, vals := range v {
		if !slices.Contains(queryParams, name) {
			bad(name, "is not a known parameter; use one of %s", strings.Join(queryParams, ", "))
			continue
		}
		if len(vals) > 1 {
			bad(name, "must be given once")
		}
	}
	if c := v.Get("category"); c != "" {
		if ValidCategory(c) {
			q.Category = c
		} else {
			bad("category", "must be one of %s", strings.Join(categories, ", "))
		}
	}
	price := func(name string) *int64 {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > MaxPrice {
			bad(name, "must be a whole number of minor units between 0 and %d", int64(MaxPrice))
			return nil
		}
		return &n
	}
	q.MinPrice, q.MaxPrice = price("minPrice"), price("maxPrice")
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		bad("minPrice", "must not be greater than maxPrice")
	}
	if raw := v.Get("q"); raw != "" {
		terms, err := search.ParseQuery(raw)
		if fe, ok := fault.As(err); ok {
			errs = append(errs, fe.Fields...)
		}
		q.Terms = terms
		q.Text = strings.Join(strings.Fields(search.Normalize(raw)), " ")
		q.Sort = Relevance
	}
	if s := Sort(v.Get("sort")); s != "" {
		switch {
		case len(q.Terms) > 0 && s == Relevance:
		case len(q.Terms) > 0:
			bad("sort", "must be %s: keyword searches are ordered by relevance", Relevance)
		case s == Newest || s == PriceAsc || s == PriceDesc:
			q.Sort = s
		default:
			bad("sort", "must be %s, %s or %s", Newest, PriceAsc, PriceDesc)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			bad("limit", "must be a whole number between 1 and %d", MaxLimit)
		} else {
			q.Limit = n
		}
	}
	q.Cursor = v.Get("cursor")
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b fault.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return Query{}, fault.Validation("listing.ParseQuery", errs...)
	}
	return q, nil
}
