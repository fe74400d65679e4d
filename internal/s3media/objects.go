package s3media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// ObjectAPI is the part of the S3 API that Objects calls; *s3.Client
// implements it.
type ObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ ObjectAPI = (*s3.Client)(nil)

// Objects reads, writes, moves and deletes whole objects in any bucket,
// for the image worker, which reads from the uploads bucket and writes to
// the media bucket.
type Objects struct {
	api    ObjectAPI
	maxGet int64
}

// NewObjects returns Objects calling api. Get refuses objects larger than
// maxGetBytes, so that a file that reached the bucket by some way other
// than the presigned form cannot exhaust the worker's memory.
func NewObjects(api ObjectAPI, maxGetBytes int64) *Objects {
	return &Objects{api: api, maxGet: maxGetBytes}
}

// Get returns the contents and content type of the object at key in
// bucket. It returns a fault.NotFound error if there is no such object
// (or bucket), a fault.TooLarge error if it is larger than the limit given
// to NewObjects, and a fault.Internal error otherwise.
func (o *Objects) Get(ctx context.Context, bucket, key string) (data []byte, contentType string, err error) {
	const op = "s3media.Get"
	out, err := o.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, "", classify(op, err)
	}
	defer func() {
		if cerr := out.Body.Close(); cerr != nil && err == nil {
			err = fault.Wrap(op, cerr)
		}
	}()
	// The length S3 announces is checked first, so that an oversized object
	// is refused without reading it; the read is bounded all the same,
	// because a length is only a header.
	if n := aws.ToInt64(out.ContentLength); n > o.maxGet {
		return nil, "", o.tooLarge(op)
	}
	data, err = io.ReadAll(io.LimitReader(out.Body, o.maxGet+1))
	if err != nil {
		return nil, "", fault.Wrap(op, err)
	}
	if int64(len(data)) > o.maxGet {
		return nil, "", o.tooLarge(op)
	}
	return data, aws.ToString(out.ContentType), nil
}

// tooLarge reports an object larger than Get accepts.
func (o *Objects) tooLarge(op string) error {
	return fault.E(op, fault.TooLarge, fmt.Sprintf("the object is larger than %d bytes", o.maxGet))
}

// Put writes data to key in bucket with the given Content-Type and
// Cache-Control headers, which S3 and CloudFront serve with it. It
// returns a fault.NotFound error if the bucket does not exist and a
// fault.Internal error otherwise.
func (o *Objects) Put(ctx context.Context, bucket, key string, data []byte, contentType, cacheControl string) error {
	in := &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(data),
		ContentType: aws.String(contentType),
	}
	if cacheControl != "" {
		in.CacheControl = aws.String(cacheControl)
	}
	if _, err := o.api.PutObject(ctx, in); err != nil {
		return classify("s3media.Put", err)
	}
	return nil
}

// Delete removes the object at key in bucket. Deleting an object that does
// not exist succeeds, as it does in S3, so that retried deletes are
// harmless. It returns a fault.NotFound error if the bucket does not exist
// and a fault.Internal error otherwise.
func (o *Objects) Delete(ctx context.Context, bucket, key string) error {
	if _, err := o.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return classify("s3media.Delete", err)
	}
	return nil
}

// Move copies the object at srcKey in srcBucket, with its metadata, to
// dstKey in dstBucket and then deletes the original; the image worker uses
// it to quarantine a rejected upload (see QuarantineKey). S3 has no rename,
// so a failure between the two steps leaves both copies; calling Move
// again finishes the move, and if the source is already gone Move returns
// a fault.NotFound error, which a retried move can take as done.
func (o *Objects) Move(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string) error {
	const op = "s3media.Move"
	_, err := o.api.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(dstBucket),
		Key:        aws.String(dstKey),
		CopySource: aws.String(copySource(srcBucket, srcKey)),
	})
	if err != nil {
		return classify(op, err)
	}
	if _, err := o.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(srcKey)}); err != nil {
		return classify(op, err)
	}
	return nil
}

// copySource returns the x-amz-copy-source value for key in bucket: the
// bucket and the key, URL-encoded segment by segment as S3 requires.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// classify turns an S3 error into a fault: a missing object or bucket is
// NotFound, anything else Internal. It goes by the error code rather than
// by the SDK's error types, because the SDK has a type for NoSuchKey only
// where the API model lists it (GetObject), not for CopyObject's missing
// source; HeadObject reports a missing key as NotFound.
func classify(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return &fault.Error{Op: op, Kind: fault.NotFound, Message: "no such object", Err: err}
		}
	}
	return fault.Wrap(op, err)
}
