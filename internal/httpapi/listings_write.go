package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
)

// etag is a listing's entity tag: its version, which every change bumps.
func etag(l listing.Listing) string { return `"` + strconv.FormatInt(l.Version, 10) + `"` }

// writeListing answers with a listing the caller just changed.
func writeListing(w http.ResponseWriter, status int, l listing.Listing) error {
	w.Header().Set("ETag", etag(l))
	return writeJSON(w, status, private, l)
}

// CreateListing serves POST /v1/listings: a new draft owned by the caller.
func CreateListing(ed *listing.Editor) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var body listing.New
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		l, err := ed.Create(r.Context(), p, body)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/listings/"+l.ID)
		return writeListing(w, http.StatusCreated, l)
	})
}

// UpdateListing serves PATCH /v1/listings/{id}. It needs If-Match with the
// version the client read (the ETag of GET /v1/listings/{id}), so that two
// editors cannot overwrite each other: the second gets 412.
func UpdateListing(ed *listing.Editor) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		version, err := ifMatch(r)
		if err != nil {
			return err
		}
		var body listing.Patch
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		l, err := ed.Update(r.Context(), p, r.PathValue("id"), version, body)
		if err != nil {
			return err
		}
		return writeListing(w, http.StatusOK, l)
	})
}

// PublishListing serves POST /v1/listings/{id}/publish.
func PublishListing(ed *listing.Editor) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		l, err := ed.Publish(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeListing(w, http.StatusOK, l)
	})
}

// ArchiveListing serves POST /v1/listings/{id}/archive.
func ArchiveListing(ed *listing.Editor) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		l, err := ed.Archive(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeListing(w, http.StatusOK, l)
	})
}

// ifMatch reads the version a client expects from If-Match: a strong entity
// tag ("3"), or the bare number for clients that cannot quote.
func ifMatch(r *http.Request) (int64, error) {
	const op = "httpapi.ifMatch"
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, fault.E(op, fault.PreconditionRequired, `send If-Match with the listing's ETag (for example If-Match: "3") so concurrent edits cannot overwrite each other`)
	}
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 1 || strings.HasPrefix(h, "W/") {
		return 0, fault.Validation(op, fault.FieldError{Field: "header.If-Match", Message: `must be the listing's ETag, like "3"`})
	}
	return v, nil
}
