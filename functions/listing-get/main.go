// Command listing-get is the Lambda function behind GET /v1/listings/{id}.
package main

import (
	"context"
	"net/http"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/listing"
)

func main() {
	lambdahttp.Main("listing-get", func(ctx context.Context, cfg config.Config) (http.Handler, error) {
		db, err := dynamo.NewClient(ctx, cfg.Region, cfg.DynamoEndpoint)
		if err != nil {
			return nil, err
		}
		store := dynamo.NewListings(db, cfg.TableName)
		return httpapi.GetListing(listing.NewService(store, cursor.New(cfg.CursorKey))), nil
	})
}
