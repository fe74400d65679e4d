// Command health is the Lambda function behind GET /v1/health.
package main

import (
	"context"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("health", func(_ context.Context, cfg config.Config) (lambdahttp.App, error) {
		return lambdahttp.App{Handler: httpapi.Health(cfg.Stage, cfg.Release)}, nil
	})
}
