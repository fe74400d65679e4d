package listing

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/imaging"
)

// Limits of listing images.
const (
	MaxImages     = 10
	MaxImageBytes = 10 << 20
	UploadExpiry  = 15 * time.Minute
)

// ImageStatus says whether an uploaded image can be shown.
type ImageStatus string

// An image is ready once its thumbnails exist, or rejected (and kept in
// quarantine, never served) when the upload was not a usable image.
const (
	ImageReady    ImageStatus = "ready"
	ImageRejected ImageStatus = "rejected"
)

// Image is a processed upload of a listing.
type Image struct {
	ID        string            `json:"id"`
	Status    ImageStatus       `json:"status"`
	Width     int               `json:"width,omitempty"`
	Height    int               `json:"height,omitempty"`
	URLs      map[string]string `json:"urls,omitempty"` // thumbnail width → URL
	Reason    string            `json:"reason,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	// Variants are the stored thumbnails, from which URLs are built.
	Variants []ImageVariant `json:"-"`
}

// Cover is the image shown for a listing in lists: its first ready image.
type Cover struct {
	ImageID  string            `json:"imageId"`
	URLs     map[string]string `json:"urls,omitempty"`
	Variants []ImageVariant    `json:"-"`
}

// ImageVariant is one stored thumbnail.
type ImageVariant struct {
	Width int    `dynamodbav:"width"`
	Ext   string `dynamodbav:"ext"`
}

// Upload is what a seller needs to upload one image straight to storage:
// a presigned POST form whose policy bounds size, type and key.
type Upload struct {
	ImageID   string            `json:"imageId"`
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt time.Time         `json:"expiresAt"`
	MaxBytes  int64             `json:"maxBytes"`
}

// Uploader presigns uploads and stores processed media.
type Uploader interface {
	PresignUpload(ctx context.Context, listingID, imageID, contentType string, maxBytes int64, expires time.Duration) (Upload, error)
}

// Media is the storage of uploads and thumbnails.
type Media interface {
	// ReadUpload returns an upload's bytes; fault.NotFound once it is gone.
	ReadUpload(ctx context.Context, listingID, imageID string) ([]byte, error)
	WriteVariant(ctx context.Context, listingID, imageID string, v imaging.Variant) error
	Quarantine(ctx context.Context, listingID, imageID string) error
	DeleteUpload(ctx context.Context, listingID, imageID string) error
	DeleteVariants(ctx context.Context, listingID, imageID string, vs []ImageVariant) error
	MediaURLs
}

// MediaURLs says where thumbnails are served (CloudFront, or a local S3).
type MediaURLs interface {
	URL(listingID, imageID string, v ImageVariant) string
}

// ImageStore records images on listings.
type ImageStore interface {
	// Owned reads a listing for a change by actor, with the same errors as
	// Writer.Update (NotFound, Forbidden), including its images.
	Owned(ctx context.Context, id string, by Actor) (Listing, error)
	SaveImage(ctx context.Context, listingID string, img Image) error
	// SetCover makes img the listing's cover if it has none (or, with
	// replace, whatever it has). Changing the cover changes the listing's
	// version, like any other change of what buyers see.
	SetCover(ctx context.Context, listingID string, c *Cover, replace bool) error
	// DeleteImage removes an image record and returns it, if it existed.
	DeleteImage(ctx context.Context, listingID, imageID string) (Image, bool, error)
	// Exists reports whether the listing still exists (any status).
	Exists(ctx context.Context, listingID string) (bool, error)
}

// Images is the image use case: uploads, processing, removal.
type Images struct {
	store  ImageStore
	up     Uploader
	media  Media
	events Events
	now    func() time.Time
}

// NewImages returns the image service.
func NewImages(store ImageStore, up Uploader, media Media, events Events, now func() time.Time) *Images {
	if now == nil {
		now = time.Now
	}
	return &Images{store: store, up: up, media: media, events: events, now: now}
}

var imageIDPattern = regexp.MustCompile(`^img_[0-9A-HJKMNP-TV-Z]{26}$`)

// ValidImageID reports whether id has the shape of an image id.
func ValidImageID(id string) bool { return imageIDPattern.MatchString(id) }

// RequestUpload returns a presigned POST for one more image of the
// caller's listing, of the given content type.
func (m *Images) RequestUpload(ctx context.Context, p auth.Principal, listingID, contentType string) (Upload, error) {
	const op = "listing.Images.RequestUpload"
	if !slices.Contains([]string{"image/jpeg", "image/png", "image/webp"}, contentType) {
		return Upload{}, fault.Validation(op, fault.FieldError{Field: "contentType", Message: "must be image/jpeg, image/png or image/webp"})
	}
	if !ValidID(listingID) {
		return Upload{}, fault.E(op, fault.NotFound, "no listing with id "+quote(listingID))
	}
	l, err := m.store.Owned(ctx, listingID, ActorOf(p))
	if err != nil {
		return Upload{}, passOn(op, err)
	}
	if len(l.Images) >= MaxImages {
		return Upload{}, fault.E(op, fault.Conflict, fmt.Sprintf("a listing has at most %d images; delete one first", MaxImages))
	}
	imageID := "img_" + ulid.MustNew(ulid.Timestamp(m.now()), rand.Reader).String()
	up, err := m.up.PresignUpload(ctx, listingID, imageID, contentType, MaxImageBytes, UploadExpiry)
	if err != nil {
		return Upload{}, fault.Wrap(op, err)
	}
	return up, nil
}

// Process turns an upload into thumbnails (worker side). It is idempotent:
// an upload already processed is gone, and processing it again is a no-op.
// Uploads that are not usable images are quarantined and recorded as
// rejected, so the seller can see why.
func (m *Images) Process(ctx context.Context, listingID, imageID string) error {
	const op = "listing.Images.Process"
	data, err := m.media.ReadUpload(ctx, listingID, imageID)
	if fault.KindOf(err) == fault.NotFound {
		return nil // processed by an earlier delivery
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	exists, err := m.store.Exists(ctx, listingID)
	if err != nil {
		return fault.Wrap(op, err)
	}
	if !exists {
		return m.media.DeleteUpload(ctx, listingID, imageID)
	}
	now := m.now().UTC()
	res, err := imaging.Process(data)
	if fault.KindOf(err) == fault.Invalid {
		fe, _ := fault.As(err)
		if qerr := m.media.Quarantine(ctx, listingID, imageID); qerr != nil {
			return fault.Wrap(op, qerr)
		}
		if serr := m.store.SaveImage(ctx, listingID, Image{ID: imageID, Status: ImageRejected, Reason: fe.Message, CreatedAt: now}); serr != nil {
			return fault.Wrap(op, serr)
		}
		m.events.Emit(ctx, "image_rejected", map[string]any{"listingId": listingID, "imageId": imageID, "reason": fe.Message})
		return nil
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	img := Image{ID: imageID, Status: ImageReady, Width: res.Width, Height: res.Height, CreatedAt: now}
	for _, v := range res.Variants {
		if err := m.media.WriteVariant(ctx, listingID, imageID, v); err != nil {
			return fault.Wrap(op, err)
		}
		img.Variants = append(img.Variants, ImageVariant{Width: v.Width, Ext: v.Ext()})
	}
	if err := m.store.SaveImage(ctx, listingID, img); err != nil {
		return fault.Wrap(op, err)
	}
	if err := m.store.SetCover(ctx, listingID, &Cover{ImageID: imageID, Variants: img.Variants}, false); err != nil {
		return fault.Wrap(op, err)
	}
	if err := m.media.DeleteUpload(ctx, listingID, imageID); err != nil {
		return fault.Wrap(op, err)
	}
	m.events.Emit(ctx, "image_processed", map[string]any{"listingId": listingID, "imageId": imageID, "variants": len(img.Variants)})
	return nil
}

// Delete removes an image of the caller's listing and its thumbnails. It is
// idempotent.
func (m *Images) Delete(ctx context.Context, p auth.Principal, listingID, imageID string) error {
	const op = "listing.Images.Delete"
	if !ValidID(listingID) {
		return fault.E(op, fault.NotFound, "no listing with id "+quote(listingID))
	}
	l, err := m.store.Owned(ctx, listingID, ActorOf(p))
	if err != nil {
		return passOn(op, err)
	}
	if !ValidImageID(imageID) {
		return nil
	}
	img, ok, err := m.store.DeleteImage(ctx, listingID, imageID)
	if err != nil || !ok {
		return passOn(op, err)
	}
	if l.Cover != nil && l.Cover.ImageID == imageID {
		// The next ready image, if any, becomes the cover.
		var next *Cover
		for _, other := range l.Images {
			if other.ID != imageID && other.Status == ImageReady {
				next = &Cover{ImageID: other.ID, Variants: other.Variants}
				break
			}
		}
		if err := m.store.SetCover(ctx, listingID, next, true); err != nil {
			return fault.Wrap(op, err)
		}
	}
	if err := m.media.DeleteVariants(ctx, listingID, imageID, img.Variants); err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}
