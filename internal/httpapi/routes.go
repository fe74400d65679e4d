package httpapi

import (
	"net/http"

	"github.com/mountainhighway/marketplace/internal/listing"
)

// Deps are the services the handlers need; functions build only their part.
type Deps struct {
	Stage    string
	Release  string
	Listings *listing.Service
}

// Routes returns the handler of every HTTP registry function, by name. The
// dev server mounts them all; a test checks it matches the registry.
func Routes(d Deps) map[string]http.Handler {
	return map[string]http.Handler{
		"health":       Health(d.Stage, d.Release),
		"listing-get":  GetListing(d.Listings),
		"listing-list": ListListings(d.Listings),
	}
}
