// Package listing holds the marketplace's listings: what a listing is, which
// ones the public may see, and how buyers browse them. It declares the Store
// it needs and knows nothing of DynamoDB.
package listing

import (
	"context"
	"crypto/rand"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/search"
)

// Status is where a listing is in its lifecycle.
type Status string

// The lifecycle: a seller drafts, publishes, and archives; a listing is sold
// when its stock reaches zero.
const (
	Draft     Status = "draft"
	Published Status = "published"
	Archived  Status = "archived"
	Sold      Status = "sold"
)

// Money is an amount in integer minor units (cents) of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Listing is an item offered for sale.
type Listing struct {
	ID          string     `json:"id"`
	SellerID    string     `json:"sellerId"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Category    string     `json:"category"`
	Price       Money      `json:"price"`
	Status      Status     `json:"status"`
	Stock       int        `json:"stock"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	PublishedAt *time.Time `json:"publishedAt,omitempty"`
	Version     int64      `json:"version"`
	// Cover is the image lists show; nil until an image is ready.
	Cover *Cover `json:"cover,omitempty"`
	// Stats and Images are only filled in when one listing is read.
	Stats  *Stats  `json:"stats,omitempty"`
	Images []Image `json:"images,omitempty"`
}

// Visible reports whether the public may see the listing.
func (l Listing) Visible() bool { return l.Status == Published || l.Status == Sold }

// Categories is the fixed, documented set of categories, in display order.
var categories = []string{
	"electronics", "fashion", "home", "garden", "sports", "toys",
	"books", "music", "art", "collectibles", "vehicles", "other",
}

// Categories returns the category slugs a listing may have.
func Categories() []string { return append([]string(nil), categories...) }

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) bool {
	for _, x := range categories {
		if x == c {
			return true
		}
	}
	return false
}

var idPattern = regexp.MustCompile(`^lst_[0-9A-HJKMNP-TV-Z]{26}$`)

// NewID returns a fresh listing id: "lst_" and a ULID, so ids sort by
// creation time.
func NewID(at time.Time) string {
	return "lst_" + ulid.MustNew(ulid.Timestamp(at), rand.Reader).String()
}

// ValidID reports whether id has the shape of a listing id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Store is the persistence the listing service needs.
type Store interface {
	// Get returns the listing with id, or a fault.NotFound error.
	Get(ctx context.Context, id string) (Listing, error)
	// Browse returns up to q.Limit published listings matching q, newest
	// first, starting after position (nil for the first page), and the
	// position after the last one returned (nil at the end).
	Browse(ctx context.Context, q Query, after map[string]string) ([]Listing, map[string]string, error)
}

// Searcher is the keyword index of published listings.
type Searcher interface {
	// Search returns the listings matching every term and the filters of q,
	// most relevant first, after position (nil for the first page).
	Search(ctx context.Context, terms []string, q Query, after map[string]string) ([]search.Hit, map[string]string, error)
}

// Getter reads listings by id, keeping the order of ids and leaving out
// those missing or not visible.
type Getter interface {
	GetMany(ctx context.Context, ids []string) ([]Listing, error)
}

// EventSearch is emitted for every browse or search, with the normalised
// query and the number of results, for search analytics.
const EventSearch = "search"

// Page is one page of a listing query.
type Page struct {
	Items      []Listing `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

// Service is the read side of listings.
type Service struct {
	store   Store
	cursors *cursor.Codec
	index   Searcher
	getter  Getter
	events  Events
	media   MediaURLs
}

// WithMedia returns the service filling in image URLs from media.
func (s *Service) WithMedia(media MediaURLs) *Service {
	c := *s
	c.media = media
	return &c
}

// WithSearch returns the service able to answer keyword queries through
// index, reading the matches with getter and reporting every query to
// events.
func (s *Service) WithSearch(index Searcher, getter Getter, events Events) *Service {
	c := *s
	c.index, c.getter, c.events = index, getter, events
	return &c
}

// NewService returns a Service over store, signing cursors with cursors.
func NewService(store Store, cursors *cursor.Codec) *Service {
	return &Service{store: store, cursors: cursors}
}

// Get returns a listing the public may see. Drafts and archived listings are
// reported as not found, exactly like ids that do not exist.
func (s *Service) Get(ctx context.Context, id string) (Listing, error) {
	const op = "listing.Get"
	notFound := fault.E(op, fault.NotFound, "no listing with id "+quote(id))
	if !ValidID(id) {
		return Listing{}, notFound
	}
	l, err := s.store.Get(ctx, id)
	if fault.KindOf(err) == fault.NotFound {
		return Listing{}, notFound
	}
	if err != nil {
		return Listing{}, fault.Wrap(op, err)
	}
	if !l.Visible() {
		return Listing{}, notFound
	}
	// The public sees ready images only; rejected uploads are the seller's
	// business.
	ready := l.Images[:0:0]
	for _, img := range l.Images {
		if img.Status == ImageReady {
			img.URLs = variantURLs(s.media, l.ID, img.ID, img.Variants)
			ready = append(ready, img)
		}
	}
	l.Images = ready
	s.coverURLs(&l)
	return l, nil
}

func (s *Service) coverURLs(l *Listing) { coverURLs(s.media, l) }

// coverURLs fills in the URLs of a listing's cover.
func coverURLs(media MediaURLs, l *Listing) {
	if l.Cover != nil {
		l.Cover.URLs = variantURLs(media, l.ID, l.Cover.ImageID, l.Cover.Variants)
	}
}

// variantURLs maps thumbnail width to URL; nil without media.
func variantURLs(media MediaURLs, listingID, imageID string, vs []ImageVariant) map[string]string {
	if media == nil {
		return nil
	}
	urls := make(map[string]string, len(vs))
	for _, v := range vs {
		urls[strconv.Itoa(v.Width)] = media.URL(listingID, imageID, v)
	}
	return urls
}

// Browse returns one page of published listings for q.
func (s *Service) Browse(ctx context.Context, q Query) (Page, error) {
	const op = "listing.Browse"
	var after map[string]string
	if q.Cursor != "" {
		pos, err := s.cursors.Decode(q.scope(), q.Cursor)
		if err != nil {
			return Page{}, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "is not a cursor issued for this query; start again without it"})
		}
		after = pos
	}
	var (
		items []Listing
		next  map[string]string
		err   error
	)
	switch {
	case len(q.Terms) > 0 && s.index == nil:
		return Page{}, fault.Validation(op, fault.FieldError{Field: "query.q", Message: "keyword search is not available here"})
	case len(q.Terms) > 0:
		items, next, err = s.search(ctx, q, after)
	default:
		items, next, err = s.store.Browse(ctx, q, after)
	}
	if s.events != nil && err == nil {
		s.events.Emit(ctx, EventSearch, map[string]any{
			"query": q.Text, "terms": strings.Join(q.Terms, " "), "category": q.Category, "results": len(items), "page": q.Cursor != "",
		})
	}
	if err != nil {
		if fe, ok := fault.As(err); ok && fe.Kind != fault.Internal {
			return Page{}, err
		}
		return Page{}, fault.Wrap(op, err)
	}
	for i := range items {
		s.coverURLs(&items[i])
	}
	page := Page{Items: items}
	if page.Items == nil {
		page.Items = []Listing{}
	}
	if next != nil {
		c, err := s.cursors.Encode(q.scope(), next)
		if err != nil {
			return Page{}, fault.Wrap(op, err)
		}
		page.NextCursor = c
	}
	return page, nil
}

func (s *Service) search(ctx context.Context, q Query, after map[string]string) ([]Listing, map[string]string, error) {
	hits, next, err := s.index.Search(ctx, q.Terms, q, after)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ListingID
	}
	items, err := s.getter.GetMany(ctx, ids)
	return items, next, err
}

// quote shortens and quotes untrusted input for a message.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
