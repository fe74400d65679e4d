// Command listing-get is the Lambda function behind GET /v1/listings/{id}.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/listing"
)

func main() {
	lambdahttp.Main("listing-get", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := dynamo.NewClient(ctx, cfg.Region, cfg.DynamoEndpoint)
		if err != nil {
			return lambdahttp.App{}, err
		}
		store := dynamo.NewListings(db, cfg.TableName)
		return lambdahttp.App{Handler: httpapi.GetListing(listing.NewService(store, cursor.New(cfg.CursorKey)))}, nil
	})
}
