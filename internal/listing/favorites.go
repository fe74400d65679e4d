package listing

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// Stats are a listing's counters, kept apart from the listing so that
// counting never races an edit.
type Stats struct {
	Favorites int64 `json:"favorites"`
	Views     int64 `json:"views"`
}

// FavoriteStore keeps who favourited what, and the counts.
type FavoriteStore interface {
	// AddFavorite marks listing id a favourite of user, once: adding it
	// again changes nothing. fault.NotFound when the listing is not visible.
	AddFavorite(ctx context.Context, userID, listingID string, now time.Time) (added bool, err error)
	// RemoveFavorite unmarks it; removing a non-favourite changes nothing.
	RemoveFavorite(ctx context.Context, userID, listingID string) (removed bool, err error)
	// Favorites pages through a user's favourites, most recent first.
	Favorites(ctx context.Context, userID string, limit int, after map[string]string) ([]Listing, map[string]string, error)
}

// Events receives business events, each emitted once when it happens.
type Events interface {
	Emit(ctx context.Context, name string, fields map[string]any)
}

// The business events of listings.
const (
	EventFavorited   = "listing_favorited"
	EventUnfavorited = "listing_unfavorited"
)

// Favorites is the favourites use case.
type Favorites struct {
	store   FavoriteStore
	cursors *cursor.Codec
	events  Events
	now     func() time.Time
	media   MediaURLs
}

// WithMedia returns the service filling in cover URLs from media.
func (f *Favorites) WithMedia(media MediaURLs) *Favorites {
	c := *f
	c.media = media
	return &c
}

// NewFavorites returns the favourites service.
func NewFavorites(store FavoriteStore, cursors *cursor.Codec, events Events, now func() time.Time) *Favorites {
	if now == nil {
		now = time.Now
	}
	return &Favorites{store: store, cursors: cursors, events: events, now: now}
}

// Add makes a listing one of the caller's favourites. It is idempotent.
func (f *Favorites) Add(ctx context.Context, p auth.Principal, id string) error {
	const op = "listing.Favorites.Add"
	if !ValidID(id) {
		return fault.E(op, fault.NotFound, "no listing with id "+quote(id))
	}
	added, err := f.store.AddFavorite(ctx, p.UserID, id, f.now().UTC())
	if err != nil {
		return passOn(op, err)
	}
	if added {
		f.events.Emit(ctx, EventFavorited, map[string]any{"userId": p.UserID, "listingId": id})
	}
	return nil
}

// Remove takes a listing off the caller's favourites. It is idempotent.
func (f *Favorites) Remove(ctx context.Context, p auth.Principal, id string) error {
	const op = "listing.Favorites.Remove"
	if !ValidID(id) {
		return nil // nothing of that name can be a favourite
	}
	removed, err := f.store.RemoveFavorite(ctx, p.UserID, id)
	if err != nil {
		return passOn(op, err)
	}
	if removed {
		f.events.Emit(ctx, EventUnfavorited, map[string]any{"userId": p.UserID, "listingId": id})
	}
	return nil
}

// List returns a page of the caller's favourites. The cursor is bound to
// the caller, so it cannot page through someone else's.
func (f *Favorites) List(ctx context.Context, p auth.Principal, v url.Values) (Page, error) {
	const op = "listing.Favorites.List"
	limit := DefaultLimit
	var errs []fault.FieldError
	for name := range v {
		if name != "limit" && name != "cursor" {
			errs = append(errs, fault.Fieldf("query."+name, "is not a known parameter; use limit or cursor"))
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			errs = append(errs, fault.Fieldf("query.limit", "must be a whole number between 1 and %d", MaxLimit))
		}
		limit = n
	}
	if len(errs) > 0 {
		return Page{}, fault.Validation(op, errs...)
	}
	scope := "favorites|" + p.UserID
	var after map[string]string
	if c := v.Get("cursor"); c != "" {
		pos, err := f.cursors.Decode(scope, c)
		if err != nil {
			return Page{}, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "is not a cursor issued for this list; start again without it"})
		}
		after = pos
	}
	items, next, err := f.store.Favorites(ctx, p.UserID, limit, after)
	if err != nil {
		return Page{}, passOn(op, err)
	}
	for i := range items {
		coverURLs(f.media, &items[i])
	}
	page := Page{Items: items}
	if page.Items == nil {
		page.Items = []Listing{}
	}
	if next != nil {
		if page.NextCursor, err = f.cursors.Encode(scope, next); err != nil {
			return Page{}, fault.Wrap(op, err)
		}
	}
	return page, nil
}
