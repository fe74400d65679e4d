// Command image-worker consumes the images queue: S3 notifications of new
// uploads, each turned into thumbnails or quarantined.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/imagejob"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
)

func main() {
	lambdasqs.Main("image-worker", func(ctx context.Context, cfg config.Config) (lambdasqs.Handler, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return nil, err
		}
		images, err := deps.Images(ctx, cfg, db)
		if err != nil {
			return nil, err
		}
		// Processing is idempotent (a processed upload is gone), so
		// duplicate deliveries need no dedup record.
		return imagejob.Handler(images), nil
	})
}
