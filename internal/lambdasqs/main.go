package lambdasqs

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Build constructs a consumer's Handler from its configuration. It runs
// once per execution environment, so clients it creates are reused across
// batches.
type Build func(ctx context.Context, cfg config.Config) (Handler, error)

// Main is the body of every queue consumer's main: it loads the
// configuration, builds the handler and serves SQS batches until the
// execution environment is shut down. Start-up failures are printed and
// end the process, which Lambda reports as an init error.
func Main(name string, build Build) {
	h, err := Setup(context.Background(), name, os.Getenv, build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// Setup resolves the registry entry, reads the configuration through getenv
// and returns the wrapped handler of function name, logging to stdout. The
// dev stack's dispatcher can run the same handler.
func Setup(ctx context.Context, name string, getenv func(string) string, build Build) (BatchHandler, error) {
	fn, ok := registry.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no function %q in the registry", name)
	}
	if fn.Queue == nil {
		return nil, fmt.Errorf("%s is not a queue consumer in the registry", name)
	}
	return setup(ctx, fn, getenv, build, os.Stdout)
}

// setup is Setup for a resolved registry entry, writing logs and metrics to
// out.
func setup(ctx context.Context, fn registry.Function, getenv func(string) string, build Build, out io.Writer) (BatchHandler, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Function = fn.Name
	client, err := telemetry.NewSentry(cfg)
	if err != nil {
		return nil, err
	}
	h, err := build(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	w := New(Options{
		Function:    fn,
		Stage:       cfg.Stage,
		LogLevel:    cfg.LogLevel,
		DebugSample: cfg.DebugSample,
		Out:         out,
		Sentry:      client,
	})
	return w.Handler(h), nil
}
