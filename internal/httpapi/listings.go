package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Browse responses are public and change when listings are published, so
// shared caches may keep them briefly.
const (
	listingCache = "public, max-age=30"
	browseCache  = "public, max-age=10"
)

// GetListing serves GET /v1/listings/{id}, and counts the view.
func GetListing(svc *listing.Service, views *listing.Views) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		l, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := views.Record(r.Context(), l.ID); err != nil {
			// A lost view count must not cost the buyer the page.
			telemetry.FromContext(r.Context()).Logger.Warn("recording views failed", slog.String("error", err.Error()))
		}
		w.Header().Set("ETag", etag(l))
		if r.Header.Get("If-None-Match") == etag(l) {
			w.Header().Set("Cache-Control", listingCache)
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return writeJSON(w, http.StatusOK, listingCache, l)
	})
}

// ListListings serves GET /v1/listings.
func ListListings(svc *listing.Service) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q, err := listing.ParseQuery(r.URL.Query())
		if err != nil {
			return err
		}
		page, err := svc.Browse(r.Context(), q)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, browseCache, page)
	})
}
