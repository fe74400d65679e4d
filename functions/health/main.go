// Command health is the Lambda function behind GET /v1/health.
package main

import (
	"context"
	"net/http"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
)

func main() {
	lambdahttp.Main("health", func(_ context.Context, cfg config.Config) (http.Handler, error) {
		return httpapi.Health(cfg.Stage, cfg.Release), nil
	})
}
