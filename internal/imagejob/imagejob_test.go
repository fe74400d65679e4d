package imagejob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/imagejob"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/s3media/s3mediatest"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

func s3Event(keys ...string) string {
	var ev events.S3Event
	for _, k := range keys {
		ev.Records = append(ev.Records, events.S3EventRecord{EventSource: "aws:s3", S3: events.S3Entity{Object: events.S3Object{Key: k}}})
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func TestUploads(t *testing.T) {
	got, err := imagejob.Uploads(s3Event("uploads/lst_1/img_1", url.QueryEscape("uploads/lst_2/img_2")))
	require.NoError(t, err)
	assert.Equal(t, []imagejob.Upload{{"lst_1", "img_1"}, {"lst_2", "img_2"}}, got, "keys arrive URL-encoded")

	got, err = imagejob.Uploads(`{"Service":"Amazon S3","Event":"s3:TestEvent"}`)
	require.NoError(t, err)
	assert.Empty(t, got)

	for _, bad := range []string{`not json`, s3Event("listings/lst_1/img_1/320.jpg"), s3Event("uploads/../etc"), s3Event("%zz")} {
		_, err := imagejob.Uploads(bad)
		assert.Equal(t, fault.Invalid, fault.KindOf(err), bad)
	}
}

type fixture struct {
	images  *listing.Images
	store   *dynamo.Listings
	objects *s3media.Objects
	bucket  string
	seller  auth.Principal
	id      string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db, table := dynamotest.NewTable(t)
	client, bucket := s3mediatest.NewBucket(t)
	media := s3media.NewListingMedia(client, bucket, bucket, "https://media.example.test")
	f := fixture{store: dynamo.NewListings(db, table), objects: s3media.NewObjects(client, 20<<20), bucket: bucket,
		seller: auth.Principal{UserID: "usr_seller", Roles: []auth.Role{auth.Buyer, auth.Seller}}}
	f.images = listing.NewImages(f.store, media, media, telemetry.Events{}, time.Now)
	l, err := listing.NewEditor(f.store, time.Now).Create(context.Background(), f.seller, listing.New{
		Title: "Lamp", Category: "home", Price: listing.Money{Amount: 100, Currency: "EUR"},
	})
	require.NoError(t, err)
	f.id = l.ID
	return f
}

func photo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 700, 500))
	for x := 0; x < 700; x++ {
		img.Set(x, x%500, color.RGBA{200, 10, 10, 255})
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

// TestProcessAgainstMinIO runs the worker's handler on real objects: a
// photo becomes thumbnails and leaves the uploads prefix; a non-image is
// quarantined and recorded as rejected; a second delivery changes nothing.
func TestProcessAgainstMinIO(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := imagejob.Handler(f.images)

	put := func(imageID string, data []byte) string {
		key, err := s3media.UploadKey(f.id, imageID)
		require.NoError(t, err)
		require.NoError(t, f.objects.Put(ctx, f.bucket, key, data, "image/jpeg", ""))
		return key
	}
	good := put("img_01JF0000000000000000000001", photo(t))
	bad := put("img_01JF0000000000000000000002", []byte("<script>alert(1)</script>"))

	msg := events.SQSMessage{Body: s3Event(good, bad)}
	require.NoError(t, h(ctx, msg))
	require.NoError(t, h(ctx, msg), "a duplicate delivery is harmless")

	l, err := f.store.Get(ctx, f.id)
	require.NoError(t, err)
	require.Len(t, l.Images, 2)
	ready, rejected := l.Images[0], l.Images[1]
	assert.Equal(t, listing.ImageReady, ready.Status)
	assert.Equal(t, 700, ready.Width)
	assert.Len(t, ready.Variants, 3, "320, 640 and 700")
	assert.Equal(t, listing.ImageRejected, rejected.Status)
	assert.NotEmpty(t, rejected.Reason)

	_, _, err = f.objects.Get(ctx, f.bucket, good)
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "processed uploads are removed")
	_, _, err = f.objects.Get(ctx, f.bucket, s3media.QuarantineKey(bad))
	assert.NoError(t, err, "rejected uploads are kept in quarantine")
	thumb, err := s3media.MediaKey(f.id, ready.ID, 320, "jpg")
	require.NoError(t, err)
	data, ct, err := f.objects.Get(ctx, f.bucket, thumb)
	require.NoError(t, err)
	assert.Equal(t, "image/jpeg", ct)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, 320, cfg.Width)

	require.NotNil(t, l.Cover, "the first ready image becomes the cover")
	assert.Equal(t, ready.ID, l.Cover.ImageID)
	assert.Equal(t, int64(2), l.Version, "setting the cover changes the listing's version")

	third := put("img_01JF0000000000000000000004", photo(t))
	require.NoError(t, h(ctx, events.SQSMessage{Body: s3Event(third)}))
	l, err = f.store.Get(ctx, f.id)
	require.NoError(t, err)
	assert.Equal(t, ready.ID, l.Cover.ImageID, "a later image does not replace the cover")

	require.NoError(t, f.images.Delete(ctx, f.seller, f.id, ready.ID))
	l, err = f.store.Get(ctx, f.id)
	require.NoError(t, err)
	require.NotNil(t, l.Cover)
	assert.Equal(t, "img_01JF0000000000000000000004", l.Cover.ImageID, "the next ready image becomes the cover")
	_, _, err = f.objects.Get(ctx, f.bucket, thumb)
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "deleting an image deletes its thumbnails")
	require.NoError(t, f.images.Delete(ctx, f.seller, f.id, ready.ID), "and is idempotent")
}

func TestRequestUploadRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	up, err := f.images.RequestUpload(ctx, f.seller, f.id, "image/webp")
	require.NoError(t, err)
	assert.True(t, listing.ValidImageID(up.ImageID))
	assert.Equal(t, int64(listing.MaxImageBytes), up.MaxBytes)
	assert.NotEmpty(t, up.Fields["policy"])

	rival := auth.Principal{UserID: "usr_rival", Roles: []auth.Role{auth.Seller}}
	_, err = f.images.RequestUpload(ctx, rival, f.id, "image/png")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "another seller's draft")
	_, err = f.images.RequestUpload(ctx, f.seller, f.id, "image/svg+xml")
	assert.Equal(t, fault.Invalid, fault.KindOf(err))

	for i := range listing.MaxImages {
		require.NoError(t, f.store.SaveImage(ctx, f.id, listing.Image{ID: "img_01JF00000000000000000000" + string(rune('A'+i)) + "0", Status: listing.ImageReady, CreatedAt: time.Now()}))
	}
	_, err = f.images.RequestUpload(ctx, f.seller, f.id, "image/png")
	assert.Equal(t, fault.Conflict, fault.KindOf(err), "at most 10 images")
}

func TestProcessForgetsUploadsOfDeletedListings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key, err := s3media.UploadKey("lst_01JF0000000000000000000099", "img_01JF0000000000000000000003")
	require.NoError(t, err)
	require.NoError(t, f.objects.Put(ctx, f.bucket, key, photo(t), "image/jpeg", ""))
	require.NoError(t, imagejob.Handler(f.images)(ctx, events.SQSMessage{Body: s3Event(key)}))
	_, _, err = f.objects.Get(ctx, f.bucket, key)
	assert.Equal(t, fault.NotFound, fault.KindOf(err))
	require.NoError(t, imagejob.Handler(f.images)(ctx, events.SQSMessage{Body: "garbage"}), "malformed messages are dropped, not retried")
}
