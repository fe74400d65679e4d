// Package s3mediatest gives integration tests a fresh bucket on MinIO, the
// faithful stand-in `make test` starts (see mh stack): the only local S3
// that checks signatures and presigned POST policies.
package s3mediatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mountainhighway/marketplace/internal/s3media"
)

// The variables mh stack sets to MinIO's URL and root credentials.
const (
	EndpointEnv  = "MH_TEST_S3_ENDPOINT"
	AccessKeyEnv = "MH_TEST_S3_ACCESS_KEY"
	SecretKeyEnv = "MH_TEST_S3_SECRET_KEY"
)

// Region is the region test clients sign for. MinIO, started without a
// region of its own, accepts any.
const Region = "us-east-1"

var seq atomic.Int64

// Server is where the tests' S3 is and how to sign for it.
type Server struct {
	Endpoint, AccessKey, SecretKey string
}

// Endpoint returns MinIO's URL and credentials. Without them the test is
// skipped locally, and fails under CI=true: CI must never pass by
// skipping.
func Endpoint(tb testing.TB) Server {
	tb.Helper()
	s := Server{os.Getenv(EndpointEnv), os.Getenv(AccessKeyEnv), os.Getenv(SecretKeyEnv)}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s, %s and %s must be set: run the tests through `make test` (mh stack)", EndpointEnv, AccessKeyEnv, SecretKeyEnv)
		}
		tb.Skipf("%s, %s and %s are not set: run `make test` to start MinIO", EndpointEnv, AccessKeyEnv, SecretKeyEnv)
	}
	return s
}

// NewClient returns a client for the tests' MinIO (with optFns applied).
func NewClient(tb testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	tb.Helper()
	s := Endpoint(tb)
	client, err := s3media.NewClient(context.Background(), Region, s.Endpoint, s.AccessKey, s.SecretKey, optFns...)
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// NewBucket creates a uniquely named, empty bucket and, when the test
// ends, deletes it with everything in it. It returns a client (with optFns
// applied) and the bucket's name.
func NewBucket(tb testing.TB, optFns ...func(*s3.Options)) (*s3.Client, string) {
	tb.Helper()
	client := NewClient(tb, optFns...)
	name := BucketName(tb.Name(), seq.Add(1))
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := removeBucket(context.Background(), client, name); err != nil {
			tb.Errorf("remove bucket %s: %v", name, err)
		}
	})
	return client, name
}

// BucketName returns a valid, unique bucket name for the test named
// test: lower-case letters, digits and hyphens, 3 to 63 characters,
// starting and ending with a letter or digit.
func BucketName(test string, n int64) string {
	suffix := fmt.Sprintf("-%d-%d", time.Now().UnixNano()%1e9, n)
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		default:
			return '-'
		}
	}, test)
	base = "t-" + strings.Trim(base, "-")
	if limit := 63 - len(suffix); len(base) > limit {
		base = strings.TrimRight(base[:limit], "-")
	}
	return base + suffix
}

// removeBucket deletes every object in the bucket and then the bucket.
func removeBucket(ctx context.Context, client *s3.Client, name string) error {
	var errs []error
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, obj := range page.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: obj.Key}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	return err
}
