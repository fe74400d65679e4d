// Command me-get is the Lambda function behind GET /v1/me.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("me-get", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.GetMe(deps.Accounts(cfg, db, nil)), Verifier: deps.Verifier(cfg, db)}, nil
	})
}
