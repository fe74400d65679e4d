// Command openid-configuration is the Lambda function behind GET /.well-known/openid-configuration.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/token"
)

func main() {
	lambdahttp.Main("openid-configuration", func(ctx context.Context, cfg config.Config) (lambdahttp.App, error) {
		doc, err := token.OpenIDConfiguration(cfg.Issuer)
		if err != nil {
			return lambdahttp.App{}, err
		}
		return lambdahttp.App{Handler: httpapi.OpenIDConfiguration(doc)}, nil
	})
}
