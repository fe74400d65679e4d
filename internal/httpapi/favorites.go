package httpapi

import (
	"net/http"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/listing"
)

// AddFavorite serves PUT /v1/listings/{id}/favorite. PUT, because adding a
// favourite twice is the same as adding it once.
func AddFavorite(f *listing.Favorites) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if err := f.Add(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// RemoveFavorite serves DELETE /v1/listings/{id}/favorite; idempotent too.
func RemoveFavorite(f *listing.Favorites) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if err := f.Remove(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// ListFavorites serves GET /v1/me/favorites (limit, cursor).
func ListFavorites(f *listing.Favorites) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		page, err := f.List(r.Context(), p, r.URL.Query())
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, private, page)
	})
}
