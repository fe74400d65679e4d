// Command me-seller is the Lambda function behind POST /v1/me/seller.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("me-seller", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.BecomeSeller(deps.Accounts(cfg, db, nil)), Verifier: deps.Verifier(cfg, db)}, nil
	})
}
