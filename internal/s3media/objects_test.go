package s3media_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/s3media/s3mediatest"
)

func TestObjectsPutGet(t *testing.T) {
	client, bucket := s3mediatest.NewBucket(t)
	objs := s3media.NewObjects(client, 1<<20)
	key := "listings/L1/I1/320.jpg"
	data := bytes.Repeat([]byte{0xFF, 0xD8}, 1000)
	require.NoError(t, objs.Put(t.Context(), bucket, key, data, "image/jpeg", "public, max-age=31536000, immutable"))

	got, contentType, err := objs.Get(t.Context(), bucket, key)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, "image/jpeg", contentType)
	head, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	assert.Equal(t, "public, max-age=31536000, immutable", aws.ToString(head.CacheControl))

	require.NoError(t, objs.Put(t.Context(), bucket, "no-cache-control", []byte("x"), "image/png", ""))
	head, err = client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("no-cache-control")})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(head.CacheControl))
}

func TestObjectsGetLimits(t *testing.T) {
	client, bucket := s3mediatest.NewBucket(t)
	objs := s3media.NewObjects(client, 100)
	require.NoError(t, objs.Put(t.Context(), bucket, "exactly", bytes.Repeat([]byte{1}, 100), "image/png", ""))
	require.NoError(t, objs.Put(t.Context(), bucket, "over", bytes.Repeat([]byte{1}, 101), "image/png", ""))

	got, _, err := objs.Get(t.Context(), bucket, "exactly")
	require.NoError(t, err)
	assert.Len(t, got, 100)

	_, _, err = objs.Get(t.Context(), bucket, "over")
	assert.Equal(t, fault.TooLarge, fault.KindOf(err), "error %v", err)

	_, _, err = objs.Get(t.Context(), bucket, "missing")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "error %v", err)
	_, _, err = objs.Get(t.Context(), bucket+"-missing", "exactly")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "error %v", err)
}

func TestObjectsDelete(t *testing.T) {
	client, bucket := s3mediatest.NewBucket(t)
	objs := s3media.NewObjects(client, 100)
	require.NoError(t, objs.Put(t.Context(), bucket, "k", []byte("x"), "image/png", ""))
	require.NoError(t, objs.Delete(t.Context(), bucket, "k"))
	_, _, err := objs.Get(t.Context(), bucket, "k")
	assert.Equal(t, fault.NotFound, fault.KindOf(err))
	assert.NoError(t, objs.Delete(t.Context(), bucket, "k"), "deleting again is harmless")
	assert.Equal(t, fault.NotFound, fault.KindOf(objs.Delete(t.Context(), bucket+"-missing", "k")))
	assert.Equal(t, fault.NotFound, fault.KindOf(objs.Put(t.Context(), bucket+"-missing", "k", []byte("x"), "image/png", "")))
}

func TestObjectsMoveToQuarantine(t *testing.T) {
	client, uploads := s3mediatest.NewBucket(t)
	_, other := s3mediatest.NewBucket(t)
	objs := s3media.NewObjects(client, 1<<20)
	src := "uploads/L1/I1"
	require.NoError(t, objs.Put(t.Context(), uploads, src, []byte("<html>"), "image/jpeg", "no-store"))

	dst := s3media.QuarantineKey(src)
	require.NoError(t, objs.Move(t.Context(), uploads, src, uploads, dst))
	_, _, err := objs.Get(t.Context(), uploads, src)
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "the upload is gone")
	got, contentType, err := objs.Get(t.Context(), uploads, dst)
	require.NoError(t, err)
	assert.Equal(t, "<html>", string(got))
	assert.Equal(t, "image/jpeg", contentType, "the metadata moves with the object")

	// Across buckets, and with a key that needs escaping in the copy source.
	odd := "quarantine/odd key+ü/%41"
	require.NoError(t, objs.Move(t.Context(), uploads, dst, other, odd))
	got, _, err = objs.Get(t.Context(), other, odd)
	require.NoError(t, err)
	assert.Equal(t, "<html>", string(got))

	err = objs.Move(t.Context(), uploads, src, uploads, dst)
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "moving a moved object: %v", err)
}

func TestCopySource(t *testing.T) {
	tests := []struct{ bucket, key, want string }{
		{"b", "uploads/L1/I1", "b/uploads/L1/I1"},
		{"b", "a b/c+d/ü/%41", "b/a%20b/c+d/%C3%BC/%2541"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s3media.CopySourceForTest(tt.bucket, tt.key), "copySource(%q, %q)", tt.bucket, tt.key)
	}
}

// brokenAPI is an ObjectAPI whose answers are set by the test, for the
// failures MinIO cannot be made to produce: a missing or lying
// Content-Length, a body that breaks off, a connection that fails.
type brokenAPI struct {
	get *s3.GetObjectOutput
	err error
}

func (b brokenAPI) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return b.get, b.err
}

func (b brokenAPI) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, b.err
}

func (b brokenAPI) CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	return &s3.CopyObjectOutput{}, nil
}

func (b brokenAPI) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return nil, b.err
}

// body is a response body whose read and close results are set by the test.
type body struct {
	io.Reader
	closeErr error
}

func (b body) Close() error { return b.closeErr }

func TestObjectsFailures(t *testing.T) {
	errNet := errors.New("connection reset")
	tests := []struct {
		name string
		api  brokenAPI
		kind fault.Kind
	}{
		{"length not announced, body too long", brokenAPI{get: &s3.GetObjectOutput{
			Body: body{Reader: bytes.NewReader(make([]byte, 11))}}}, fault.TooLarge},
		{"length understated", brokenAPI{get: &s3.GetObjectOutput{
			ContentLength: aws.Int64(5), Body: body{Reader: bytes.NewReader(make([]byte, 11))}}}, fault.TooLarge},
		{"body breaks off", brokenAPI{get: &s3.GetObjectOutput{
			Body: body{Reader: io.MultiReader(bytes.NewReader([]byte("ab")), iotestErr{errNet})}}}, fault.Internal},
		{"close fails", brokenAPI{get: &s3.GetObjectOutput{
			Body: body{Reader: bytes.NewReader([]byte("ab")), closeErr: errNet}}}, fault.Internal},
		{"request fails", brokenAPI{err: errNet}, fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s3media.NewObjects(tt.api, 10).Get(t.Context(), "b", "k")
			assert.Equal(t, tt.kind, fault.KindOf(err), "error %v", err)
		})
	}
	objs := s3media.NewObjects(brokenAPI{err: errNet}, 10)
	assert.ErrorIs(t, objs.Put(t.Context(), "b", "k", nil, "image/png", ""), errNet)
	assert.ErrorIs(t, objs.Delete(t.Context(), "b", "k"), errNet)
	err := objs.Move(t.Context(), "b", "k", "b", "q")
	assert.ErrorIs(t, err, errNet, "the copy succeeded, the delete failed")
	assert.Equal(t, fault.Internal, fault.KindOf(err))
}

// iotestErr is a reader that fails with err.
type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }
