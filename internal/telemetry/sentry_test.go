package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

func TestNewSentry(t *testing.T) {
	c, err := telemetry.NewSentry(config.Config{})
	require.NoError(t, err)
	assert.Nil(t, c, "no DSN disables Sentry")

	c, err = telemetry.NewSentry(config.Config{SentryDSN: "not a dsn"})
	require.Error(t, err)
	assert.Nil(t, c)
	assert.Contains(t, err.Error(), "sentry:")

	c, err = telemetry.NewSentry(config.Config{
		SentryDSN: "https://public@example.com/1", Stage: "prod", Release: "r42", Function: "health",
	})
	require.NoError(t, err)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	opts := c.Options()
	assert.Equal(t, "prod", opts.Environment)
	assert.Equal(t, "r42", opts.Release)
	assert.Equal(t, "health", opts.ServerName)
}
