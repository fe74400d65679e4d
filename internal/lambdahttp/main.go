package lambdahttp

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// App is what a function's build returns: its handler and, for functions
// that are not public, the verifier of access tokens.
type App struct {
	Handler  http.Handler
	Verifier auth.Verifier
}

// Build constructs a function's handler from its configuration. It runs
// once per execution environment, so clients it creates are reused.
type Build func(ctx context.Context, cfg config.Config) (App, error)

// Main is the body of every HTTP function's main: it loads the
// configuration, builds the handler and serves API Gateway v2 events until
// the execution environment is shut down. Start-up failures are printed and
// end the process, which Lambda reports as an init error.
func Main(name string, build Build) {
	h, err := Setup(context.Background(), name, os.Getenv, build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.NewV2(h).ProxyWithContext)
}

// Setup resolves the registry entry, reads the configuration through getenv
// and returns the wrapped handler of function name.
func Setup(ctx context.Context, name string, getenv func(string) string, build Build) (http.Handler, error) {
	fn, ok := registry.Lookup(name)
	if !ok || fn.HTTP == nil {
		return nil, fmt.Errorf("no HTTP function %q in the registry", name)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Function = name
	client, err := telemetry.NewSentry(cfg)
	if err != nil {
		return nil, err
	}
	app, err := build(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if fn.Auth != registry.Public && app.Verifier == nil {
		return nil, fmt.Errorf("%s is %s-only but its build returned no token verifier", name, fn.Auth)
	}
	w := New(Options{
		Function:    fn,
		Stage:       cfg.Stage,
		LogLevel:    cfg.LogLevel,
		DebugSample: cfg.DebugSample,
		Out:         os.Stdout,
		Sentry:      client,
		Verifier:    app.Verifier,
	})
	return w.Handler(app.Handler), nil
}
