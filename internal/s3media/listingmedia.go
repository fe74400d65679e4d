package s3media

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mountainhighway/marketplace/internal/imaging"
	"github.com/mountainhighway/marketplace/internal/listing"
)

// ThumbnailCache is the Cache-Control of thumbnails: their keys never
// change content (a new image gets a new id), so caches may keep them
// forever.
const ThumbnailCache = "public, max-age=31536000, immutable"

// ListingMedia is the storage of listing images: presigned uploads into
// the uploads bucket and thumbnails in the media bucket, served from
// baseURL (CloudFront in AWS, the local S3 locally).
type ListingMedia struct {
	uploads       *Uploads
	objects       *Objects
	uploadsBucket string
	mediaBucket   string
	baseURL       string
}

var (
	_ listing.Uploader = (*ListingMedia)(nil)
	_ listing.Media    = (*ListingMedia)(nil)
)

// NewListingMedia returns the listing media store on client.
func NewListingMedia(client *s3.Client, uploadsBucket, mediaBucket, baseURL string) *ListingMedia {
	return &ListingMedia{
		uploads:       NewUploads(client, uploadsBucket),
		objects:       NewObjects(client, listing.MaxImageBytes+1),
		uploadsBucket: uploadsBucket,
		mediaBucket:   mediaBucket,
		baseURL:       strings.TrimSuffix(baseURL, "/"),
	}
}

// PresignUpload returns the form that uploads one image of a listing.
func (m *ListingMedia) PresignUpload(ctx context.Context, listingID, imageID, contentType string, maxBytes int64, expires time.Duration) (listing.Upload, error) {
	key, err := UploadKey(listingID, imageID)
	if err != nil {
		return listing.Upload{}, err
	}
	f, err := m.uploads.PresignImageUpload(ctx, key, maxBytes, contentType, expires)
	if err != nil {
		return listing.Upload{}, err
	}
	return listing.Upload{ImageID: imageID, URL: f.URL, Fields: f.Fields, ExpiresAt: f.ExpiresAt, MaxBytes: maxBytes}, nil
}

// ReadUpload returns the bytes of an upload.
func (m *ListingMedia) ReadUpload(ctx context.Context, listingID, imageID string) ([]byte, error) {
	key, err := UploadKey(listingID, imageID)
	if err != nil {
		return nil, err
	}
	data, _, err := m.objects.Get(ctx, m.uploadsBucket, key)
	return data, err
}

// WriteVariant stores one thumbnail.
func (m *ListingMedia) WriteVariant(ctx context.Context, listingID, imageID string, v imaging.Variant) error {
	key, err := MediaKey(listingID, imageID, v.Width, v.Ext())
	if err != nil {
		return err
	}
	return m.objects.Put(ctx, m.mediaBucket, key, v.Data, v.ContentType, ThumbnailCache)
}

// Quarantine moves a rejected upload out of the uploads prefix.
func (m *ListingMedia) Quarantine(ctx context.Context, listingID, imageID string) error {
	key, err := UploadKey(listingID, imageID)
	if err != nil {
		return err
	}
	return m.objects.Move(ctx, m.uploadsBucket, key, m.uploadsBucket, QuarantineKey(key))
}

// DeleteUpload removes a processed upload.
func (m *ListingMedia) DeleteUpload(ctx context.Context, listingID, imageID string) error {
	key, err := UploadKey(listingID, imageID)
	if err != nil {
		return err
	}
	return m.objects.Delete(ctx, m.uploadsBucket, key)
}

// DeleteVariants removes an image's thumbnails.
func (m *ListingMedia) DeleteVariants(ctx context.Context, listingID, imageID string, vs []listing.ImageVariant) error {
	for _, v := range vs {
		key, err := MediaKey(listingID, imageID, v.Width, v.Ext)
		if err != nil {
			return err
		}
		if err := m.objects.Delete(ctx, m.mediaBucket, key); err != nil {
			return err
		}
	}
	return nil
}

// URL returns where a thumbnail is served.
func (m *ListingMedia) URL(listingID, imageID string, v listing.ImageVariant) string {
	return BaseURL(m.baseURL).URL(listingID, imageID, v)
}

// BaseURL builds thumbnail URLs under a base (the CloudFront domain), with
// no S3 client: read paths need only the URLs.
type BaseURL string

var _ listing.MediaURLs = BaseURL("")

// URL returns where a thumbnail is served.
func (b BaseURL) URL(listingID, imageID string, v listing.ImageVariant) string {
	key, err := MediaKey(listingID, imageID, v.Width, v.Ext)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "/") + "/" + key
}
