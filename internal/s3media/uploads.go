package s3media

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// imageContentTypes are the content types an image upload may declare, in
// the order error messages list them.
var imageContentTypes = []string{"image/jpeg", "image/png", "image/webp"}

// MaxUploadExpiry is the longest an upload form may stay valid: SigV4
// signatures, which sign the policy, are valid for at most seven days.
const MaxUploadExpiry = 7 * 24 * time.Hour

// UploadForm is a presigned POST: an HTML form, or a multipart/form-data
// request, that uploads one file to one key without AWS credentials.
//
// A client sends a POST to URL whose body is multipart/form-data with
// every one of Fields as a form field and then the file in a field named
// "file", which must come last: S3 ignores fields after the file. S3
// answers 204 No Content when the upload is accepted, 400 EntityTooLarge
// or EntityTooSmall when the size is out of bounds, and 403 AccessDenied
// when a field differs from the policy or the form has expired.
type UploadForm struct {
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
	// ExpiresAt is when S3 stops accepting the form, to the second.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Uploads presigns image uploads into one bucket.
type Uploads struct {
	presigner *s3.PresignClient
	bucket    string
}

// NewUploads returns Uploads for bucket, signing with client's
// credentials. Presigning is local computation: it makes no request.
func NewUploads(client *s3.Client, bucket string) *Uploads {
	return &Uploads{presigner: s3.NewPresignClient(client), bucket: bucket}
}

// PresignImageUpload returns a form that uploads one image to key (see
// UploadKey) in the uploads bucket, and nothing else: S3 checks the
// form's signed policy and refuses a file larger than maxBytes or empty,
// a Content-Type field other than contentType, any other key, and any
// upload after expires has passed.
//
// It returns a fault.Invalid error for the field "contentType" if
// contentType is not image/jpeg, image/png or image/webp, and a
// fault.Internal error if maxBytes is not positive, expires is not
// between one second and MaxUploadExpiry, key is not an upload key (see
// UploadKey), or the credentials cannot be had.
//
// The declared type is a promise, not a fact: the image worker checks the
// bytes.
func (u *Uploads) PresignImageUpload(ctx context.Context, key string, maxBytes int64, contentType string, expires time.Duration) (UploadForm, error) {
	const op = "s3media.PresignImageUpload"
	if !isImageContentType(contentType) {
		return UploadForm{}, fault.Validation(op,
			fault.Fieldf("contentType", "must be one of %s", strings.Join(imageContentTypes, ", ")))
	}
	// The other arguments come from the program, not from the client, so
	// a bad one is a bug to log rather than a mistake to show the client.
	// The policy's expiration has a resolution of one second.
	if maxBytes < 1 || expires < time.Second || expires > MaxUploadExpiry {
		return UploadForm{}, fault.Wrap(op, fmt.Errorf("maxBytes %d or expires %v out of range", maxBytes, expires))
	}
	if _, _, err := ParseUploadKey(key); err != nil {
		return UploadForm{}, fault.Wrap(op, err)
	}
	req, err := u.presigner.PresignPostObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(u.bucket),
		Key:    aws.String(key),
	}, func(o *s3.PresignPostOptions) {
		o.Expires = expires
		o.Conditions = []any{
			// S3 counts the file's bytes only, not the form's.
			[]any{"content-length-range", 1, maxBytes},
			map[string]string{"Content-Type": contentType},
			// The SDK would add this condition itself; written here so
			// that the exact-key rule is visible where the policy is.
			map[string]string{"key": key},
		}
	})
	if err != nil {
		return UploadForm{}, fault.Wrap(op, err)
	}
	expiresAt, err := policyExpiration(req.Values["policy"])
	if err != nil {
		return UploadForm{}, fault.Wrap(op, err)
	}
	form := UploadForm{URL: req.URL, Fields: maps.Clone(req.Values), ExpiresAt: expiresAt}
	// The policy requires the field; sending it with the others spares
	// every client from knowing that.
	form.Fields["Content-Type"] = contentType
	return form, nil
}

// isImageContentType reports whether ct is one of imageContentTypes.
func isImageContentType(ct string) bool { return slices.Contains(imageContentTypes, ct) }

// policyExpiration returns the expiration written in a POST policy
// (base64 JSON), which is the only exact record of it: the SDK computes it
// from its own clock when it signs.
func policyExpiration(policy string) (time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(policy)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode the policy: %w", err)
	}
	var doc struct {
		Expiration time.Time `json:"expiration"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return time.Time{}, fmt.Errorf("decode the policy: %w", err)
	}
	if doc.Expiration.IsZero() {
		return time.Time{}, errors.New("the policy has no expiration")
	}
	return doc.Expiration, nil
}
