package httpapi

import (
	"net/http"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/listing"
)

type uploadBody struct {
	ContentType string `json:"contentType"`
}

// RequestImageUpload serves POST /v1/listings/{id}/images: a presigned POST
// the seller's client uploads the file with, straight to storage.
func RequestImageUpload(images *listing.Images) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var body uploadBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		up, err := images.RequestUpload(r.Context(), p, r.PathValue("id"), body.ContentType)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, private, up)
	})
}

// DeleteImage serves DELETE /v1/listings/{id}/images/{imageId}.
func DeleteImage(images *listing.Images) http.Handler {
	return withPrincipal(func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if err := images.Delete(r.Context(), p, r.PathValue("id"), r.PathValue("imageId")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
