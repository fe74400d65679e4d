// Command auth-register is the Lambda function behind POST /v1/auth/register.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("auth-register", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		db, err := deps.Dynamo(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		issuer, err := deps.Issuer(ctx, cfg)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.Register(deps.Accounts(cfg, db, issuer))}, nil
	})
}
