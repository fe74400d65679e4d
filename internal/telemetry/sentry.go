package telemetry

import (
	"fmt"

	"github.com/getsentry/sentry-go"

	"github.com/mountainhighway/marketplace/internal/config"
)

// NewSentry returns the Sentry client of a function, or nil when no DSN is
// set, which disables error reporting. Both wrappers (HTTP and queue) use
// it; each invocation gets its own hub on this client.
func NewSentry(cfg config.Config) (*sentry.Client, error) {
	if cfg.SentryDSN == "" {
		return nil, nil
	}
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         cfg.SentryDSN,
		Release:     cfg.Release,
		Environment: cfg.Stage,
		ServerName:  cfg.Function,
	})
	if err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	return c, nil
}
