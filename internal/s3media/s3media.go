// Package s3media stores listing images in S3: presigned POST uploads and
// the media bucket.
//
// An image travels through two buckets. A seller's app uploads the file
// straight to the uploads bucket with a presigned POST (Uploads), under
// uploads/<listingId>/<imageId>; S3 then tells the image worker, which
// reads the upload (Objects.Get), and either writes the re-encoded variants
// to the media bucket under listings/<listingId>/<imageId>/<width>.<ext>
// (Objects.Put), served by CloudFront, or moves a file that is not an
// image aside under quarantine/ (Objects.Move). Keys are built and parsed
// only here, so that the API, the worker and the infra's notification
// filter agree on them.
package s3media

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// NewClient returns an S3 client for region. A non-empty endpoint points
// it at a local S3 (MinIO in tests, gofakes3 under mh dev) with the given
// static credentials ("local" if empty, which gofakes3 accepts since it
// checks no signature), so nothing ever looks for real AWS credentials
// locally. A local client addresses buckets by path, because
// 127.0.0.1 has no bucket subdomains, and sends and checks checksums only
// where S3 requires them: the SDK's default CRC32 trailers (aws-chunked
// bodies) are stored as part of the object by gofakes3 over TLS and are
// not needed against a local server. Against AWS, the SDK's defaults
// apply.
func NewClient(ctx context.Context, region, endpoint, accessKey, secretKey string, optFns ...func(*s3.Options)) (*s3.Client, error) {
	loads := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if endpoint != "" {
		if accessKey == "" {
			accessKey, secretKey = "local", "local"
		}
		loads = append(loads,
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("s3media: aws config: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*s3.Options){func(o *s3.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}}, optFns...)
	}
	return s3.NewFromConfig(cfg, optFns...), nil
}

// The key prefixes. The uploads bucket's event notification must filter
// on UploadsPrefix, so that moving a file to QuarantinePrefix does not
// notify the worker again.
const (
	UploadsPrefix    = "uploads/"
	QuarantinePrefix = "quarantine/"
	MediaPrefix      = "listings/"
)

// maxIDLen bounds an id in a key; ULIDs have 26 characters.
const maxIDLen = 64

// validID reports whether id can be one segment of a key: letters,
// digits, '-' and '_' only, so that a key never needs escaping, never
// contains "..", and splits back into the same ids.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// UploadKey returns the key in the uploads bucket of image imageID of
// listing listingID: uploads/<listingId>/<imageId>. It returns a
// fault.Invalid error if either id is empty, longer than 64 characters or
// has characters other than letters, digits, '-' and '_'.
func UploadKey(listingID, imageID string) (string, error) {
	if !validID(listingID) || !validID(imageID) {
		return "", fault.E("s3media.UploadKey", fault.Invalid, "invalid listing or image id")
	}
	return UploadsPrefix + listingID + "/" + imageID, nil
}

// ParseUploadKey returns the listing and image ids of an uploads-bucket
// key, as S3 event notifications report it once URL-decoded. It returns a
// fault.Invalid error for any other key, such as one written outside the
// presigned form's key by some other means.
func ParseUploadKey(key string) (listingID, imageID string, err error) {
	rest, ok := strings.CutPrefix(key, UploadsPrefix)
	listingID, imageID, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !validID(listingID) || !validID(imageID) {
		return "", "", fault.E("s3media.ParseUploadKey", fault.Invalid, "not an image upload key")
	}
	return listingID, imageID, nil
}

// MediaKey returns the key in the media bucket of the variant width pixels
// wide, with file name extension ext ("jpg", "png"), of image imageID of
// listing listingID: listings/<listingId>/<imageId>/<width>.<ext>. It
// returns a fault.Invalid error for invalid ids, a width that is not
// positive or an extension that is not an id.
func MediaKey(listingID, imageID string, width int, ext string) (string, error) {
	if !validID(listingID) || !validID(imageID) || width <= 0 || !validID(ext) {
		return "", fault.E("s3media.MediaKey", fault.Invalid, "invalid media key parts")
	}
	return MediaPrefix + listingID + "/" + imageID + "/" + strconv.Itoa(width) + "." + ext, nil
}

// MediaImagePrefix returns the prefix under which every variant of an
// image lies in the media bucket, for deleting them all.
func MediaImagePrefix(listingID, imageID string) (string, error) {
	if !validID(listingID) || !validID(imageID) {
		return "", fault.E("s3media.MediaImagePrefix", fault.Invalid, "invalid listing or image id")
	}
	return MediaPrefix + listingID + "/" + imageID + "/", nil
}

// QuarantineKey returns where Move puts a rejected upload: the same key
// under QuarantinePrefix, so that an operator can find it by its upload
// key and no notification filtered on UploadsPrefix fires for it.
func QuarantineKey(uploadKey string) string { return QuarantinePrefix + uploadKey }
