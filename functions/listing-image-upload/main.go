// Command listing-image-upload is the Lambda function behind POST /v1/listings/{id}/images.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("listing-image-upload", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		images, err := deps.Images(ctx, cfg, db)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.RequestImageUpload(images), Verifier: deps.Verifier(cfg, db)}, nil
	})
}
