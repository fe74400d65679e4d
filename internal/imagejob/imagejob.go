// Package imagejob is the image worker's queue handler: it reads the S3
// event notifications the uploads bucket sends to the images queue and
// processes each uploaded image.
package imagejob

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Upload names one uploaded image.
type Upload struct {
	ListingID string
	ImageID   string
}

// Uploads returns the uploads an S3 event notification reports. The test
// event S3 sends when a notification is configured reports none. Keys that
// are not image upload keys are an error: only presigned forms write there.
func Uploads(body string) ([]Upload, error) {
	var probe struct {
		Event string `json:"Event"`
	}
	if err := json.Unmarshal([]byte(body), &probe); err == nil && probe.Event == "s3:TestEvent" {
		return nil, nil
	}
	var ev events.S3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return nil, fault.E("imagejob.Uploads", fault.Invalid, "not an S3 event notification")
	}
	var out []Upload
	for _, r := range ev.Records {
		// S3 event keys are URL-encoded, with '+' for spaces.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fault.E("imagejob.Uploads", fault.Invalid, "undecodable key")
		}
		lid, iid, err := s3media.ParseUploadKey(key)
		if err != nil {
			return nil, err
		}
		out = append(out, Upload{ListingID: lid, ImageID: iid})
	}
	return out, nil
}

// Handler returns the queue handler: every upload of the message is
// processed. A malformed message is logged and dropped: retrying cannot
// fix it, and only S3 writes to this queue.
func Handler(images *listing.Images) func(ctx context.Context, msg events.SQSMessage) error {
	return func(ctx context.Context, msg events.SQSMessage) error {
		ups, err := Uploads(msg.Body)
		if fault.KindOf(err) == fault.Invalid {
			telemetry.FromContext(ctx).Logger.Warn("dropping a message that is not an image upload event", slog.String("error", err.Error()))
			return nil
		}
		if err != nil {
			return err
		}
		var errs []error
		for _, u := range ups {
			errs = append(errs, images.Process(ctx, u.ListingID, u.ImageID))
		}
		return errors.Join(errs...)
	}
}
