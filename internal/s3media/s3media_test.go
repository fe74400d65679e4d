package s3media_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/s3media/s3mediatest"
)

func TestNewClient(t *testing.T) {
	local, err := s3media.NewClient(t.Context(), "eu-west-1", "http://127.0.0.1:9000", "", "")
	require.NoError(t, err)
	o := local.Options()
	assert.True(t, o.UsePathStyle, "127.0.0.1 has no bucket subdomains")
	assert.Equal(t, "http://127.0.0.1:9000", aws.ToString(o.BaseEndpoint))
	assert.Equal(t, aws.RequestChecksumCalculationWhenRequired, o.RequestChecksumCalculation)
	assert.Equal(t, aws.ResponseChecksumValidationWhenRequired, o.ResponseChecksumValidation)
	creds, err := o.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "local", creds.AccessKeyID, "gofakes3 needs some credentials, checks none")

	local, err = s3media.NewClient(t.Context(), "eu-west-1", "http://127.0.0.1:9000", "AK", "SK",
		func(o *s3.Options) { o.Region = "us-east-1" })
	require.NoError(t, err)
	creds, err = local.Options().Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "AK", creds.AccessKeyID)
	assert.Equal(t, "us-east-1", local.Options().Region, "the caller's options apply last")

	aws3, err := s3media.NewClient(t.Context(), "eu-west-1", "", "", "")
	require.NoError(t, err)
	assert.False(t, aws3.Options().UsePathStyle)
	assert.Nil(t, aws3.Options().BaseEndpoint)
	assert.Equal(t, "eu-west-1", aws3.Options().Region)
}

func TestKeys(t *testing.T) {
	key, err := s3media.UploadKey("01JL1", "01JI1")
	require.NoError(t, err)
	assert.Equal(t, "uploads/01JL1/01JI1", key)
	l, i, err := s3media.ParseUploadKey(key)
	require.NoError(t, err)
	assert.Equal(t, []string{"01JL1", "01JI1"}, []string{l, i}, "round trip")

	media, err := s3media.MediaKey("01JL1", "01JI1", 640, "jpg")
	require.NoError(t, err)
	assert.Equal(t, "listings/01JL1/01JI1/640.jpg", media)
	prefix, err := s3media.MediaImagePrefix("01JL1", "01JI1")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(media, prefix))
	assert.Equal(t, "quarantine/uploads/01JL1/01JI1", s3media.QuarantineKey(key))
}

func TestKeysRejectBadIDs(t *testing.T) {
	bad := []string{"", "a/b", "..", "a b", "é", "a.b", strings.Repeat("a", 65)}
	for _, id := range bad {
		_, err := s3media.UploadKey(id, "I1")
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "UploadKey(%q, I1)", id)
		_, err = s3media.UploadKey("L1", id)
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "UploadKey(L1, %q)", id)
		_, err = s3media.MediaKey(id, "I1", 320, "jpg")
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "MediaKey(%q, …)", id)
		_, err = s3media.MediaKey("L1", "I1", 320, id)
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "MediaKey ext %q", id)
		_, err = s3media.MediaImagePrefix("L1", id)
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "MediaImagePrefix(L1, %q)", id)
	}
	_, err := s3media.MediaKey("L1", "I1", 0, "jpg")
	assert.Equal(t, fault.Invalid, fault.KindOf(err), "width 0")
	_, err = s3media.UploadKey("L1", strings.Repeat("a", 64))
	assert.NoError(t, err, "64 characters are allowed")
}

func TestParseUploadKey(t *testing.T) {
	bad := []string{"", "uploads/", "uploads/L1", "uploads/L1/", "uploads/L1/I1/x", "quarantine/uploads/L1/I1",
		"listings/L1/I1/320.jpg", "uploads//I1", "uploads/L1/I1 ", "Uploads/L1/I1"}
	for _, key := range bad {
		_, _, err := s3media.ParseUploadKey(key)
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "ParseUploadKey(%q)", key)
	}
}

func TestBucketName(t *testing.T) {
	tests := []string{"TestX", "TestMinIOPresignedPostPolicy/key_changed_to_another_image_of_the_same_listing_is_refused", "---", "Ünïcode/ä"}
	for _, name := range tests {
		got := s3mediatest.BucketName(name, 12345)
		assert.LessOrEqual(t, len(got), 63, got)
		assert.GreaterOrEqual(t, len(got), 3, got)
		assert.Regexp(t, `^[a-z0-9][a-z0-9-]*[a-z0-9]$`, got)
	}
	assert.NotEqual(t, s3mediatest.BucketName("T", 1), s3mediatest.BucketName("T", 2))
}
