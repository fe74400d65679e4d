package httpapi

import (
	"net/http"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/listing"
)

// Deps are the services the handlers need; functions build only their part.
type Deps struct {
	Stage     string
	Release   string
	Listings  *listing.Service
	Editor    *listing.Editor
	Favorites *listing.Favorites
	Views     *listing.Views
	Images    *listing.Images
	Probes    map[string]Probe
	Accounts  *account.Service
	Keys      JWKSSource
	OpenIDDoc []byte
}

// Routes returns the handler of every HTTP registry function, by name. The
// dev server mounts them all; a test checks it matches the registry.
func Routes(d Deps) map[string]http.Handler {
	return map[string]http.Handler{
		"health":       Health(d.Stage, d.Release),
		"health-ready": Ready(d.Probes),
		"listing-get":  GetListing(d.Listings, d.Views),
		"listing-list": ListListings(d.Listings),

		"listing-create":  CreateListing(d.Editor),
		"listing-update":  UpdateListing(d.Editor),
		"listing-publish": PublishListing(d.Editor),
		"listing-archive": ArchiveListing(d.Editor),

		"listing-image-upload": RequestImageUpload(d.Images),
		"listing-image-delete": DeleteImage(d.Images),

		"favorite-add":    AddFavorite(d.Favorites),
		"favorite-remove": RemoveFavorite(d.Favorites),
		"favorite-list":   ListFavorites(d.Favorites),

		"auth-register":        Register(d.Accounts),
		"auth-login":           Login(d.Accounts),
		"auth-refresh":         Refresh(d.Accounts),
		"auth-logout":          Logout(d.Accounts),
		"me-get":               GetMe(d.Accounts),
		"me-update":            UpdateMe(d.Accounts),
		"me-seller":            BecomeSeller(d.Accounts),
		"admin-user-roles":     SetRoles(d.Accounts),
		"jwks":                 JWKS(d.Keys),
		"openid-configuration": OpenIDConfiguration(d.OpenIDDoc),
	}
}
