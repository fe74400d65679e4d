// Command jwks is the Lambda function behind GET /.well-known/jwks.json.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("jwks", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.JWKS(dynamo.NewKeys(db, cfg.TableName))}, nil
	})
}
