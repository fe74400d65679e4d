package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	appconfig "github.com/mountainhighway/marketplace/internal/config"
)

// configNamespace prefixes every project setting: mountain-highway:stage.
const configNamespace = "mountain-highway"

// The stages the program deploys. Each is also the name of its stack.
const (
	stageStaging = "staging"
	stageProd    = "prod"
)

// defaultAudience is the aud of access tokens when the stack sets none; it
// is internal/config's default too, so functions and authorizer agree.
const defaultAudience = "mountain-highway"

// retentionDays are the only values CloudWatch Logs accepts; checking them here
// turns a failed deployment half-way through into an error before it starts.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// stackConfig is every setting of a stack, read and validated once so that the
// resource code never touches raw configuration.
type stackConfig struct {
	Stage            string   // staging or prod; part of every physical name
	LogRetentionDays int      // retention of every log group
	ThrottleRate     float64  // API default route steady-state requests per second
	ThrottleBurst    int      // API default route burst
	AlarmEmail       string   // optional email subscription to the alarm topic
	Release          string   // build identifier reported by the functions
	CORSOrigins      []string // browser origins allowed by CORS; none disables CORS
	Audience         string   // aud of access tokens, checked by the JWT authorizer and the functions

	// SentryDSN and CursorKey are secrets: they stay Outputs so Pulumi keeps
	// them encrypted in state and masked in previews.
	SentryDSN pulumi.StringOutput
	CursorKey pulumi.StringOutput
}

// loadConfig reads the stack configuration. It reports every missing or
// invalid value at once rather than the first, so one run fixes a new stack.
func loadConfig(ctx *pulumi.Context) (stackConfig, error) {
	c := config.New(ctx, configNamespace)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	cfg := stackConfig{
		AlarmEmail: c.Get("alarmEmail"),
		Release:    c.Get("release"),
		SentryDSN:  c.GetSecret("sentryDsn"),
	}
	if cfg.Release == "" {
		cfg.Release = "dev"
	}
	cfg.Audience = c.Get("audience")
	if cfg.Audience == "" {
		cfg.Audience = defaultAudience
	}
	// aud is compared byte for byte; a pasted space would have the
	// authorizer and the functions reject every token.
	if strings.ContainsFunc(cfg.Audience, unicode.IsSpace) {
		errs = append(errs, fmt.Errorf("%s:audience %q must not contain spaces", configNamespace, cfg.Audience))
	}

	var err error
	cfg.Stage, err = c.Try("stage")
	check(err)
	if err == nil {
		check(validateStage(cfg.Stage, ctx.Stack()))
	}

	cfg.LogRetentionDays, err = c.TryInt("logRetentionDays")
	if err == nil && !slices.Contains(retentionDays, cfg.LogRetentionDays) {
		err = fmt.Errorf("%s:logRetentionDays %d is not a CloudWatch Logs retention (one of %v)", configNamespace, cfg.LogRetentionDays, retentionDays)
	}
	check(err)

	cfg.ThrottleRate, err = c.TryFloat64("throttleRate")
	if err == nil && cfg.ThrottleRate <= 0 {
		err = fmt.Errorf("%s:throttleRate must be positive, got %g", configNamespace, cfg.ThrottleRate)
	}
	check(err)

	cfg.ThrottleBurst, err = c.TryInt("throttleBurst")
	if err == nil && cfg.ThrottleBurst <= 0 {
		err = fmt.Errorf("%s:throttleBurst must be positive, got %d", configNamespace, cfg.ThrottleBurst)
	}
	check(err)

	if err := c.GetObject("corsOrigins", &cfg.CORSOrigins); err != nil {
		check(fmt.Errorf("%s:corsOrigins must be a list of origins: %w", configNamespace, err))
	}

	cfg.CursorKey, err = cursorKey(ctx, c)
	check(err)

	return cfg, errors.Join(errs...)
}

// validateStage rejects unknown stages and a stage that differs from the stack:
// physical names are derived from the stage, so `pulumi up -s prod` with
// stage=staging would try to take over the staging resources.
func validateStage(stage, stack string) error {
	if stage != stageStaging && stage != stageProd {
		return fmt.Errorf("%s:stage must be %q or %q, got %q", configNamespace, stageStaging, stageProd, stage)
	}
	if stage != stack {
		return fmt.Errorf("%s:stage %q does not match stack %q", configNamespace, stage, stack)
	}
	return nil
}

// cursorKey reads the list-cursor HMAC key. The functions refuse to start with
// a key that is not base64 of at least appconfig.MinCursorKey bytes, so the
// same rule is applied here, before anything is deployed; and the key must be
// a stack secret so that it never sits in Pulumi.<stack>.yaml as plain text.
func cursorKey(ctx *pulumi.Context, c *config.Config) (pulumi.StringOutput, error) {
	const key = configNamespace + ":cursorKey"
	raw, err := c.Try("cursorKey")
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	if !ctx.IsConfigSecret(key) {
		return pulumi.StringOutput{}, fmt.Errorf("%s must be set with `pulumi config set --secret`", key)
	}
	decoded, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("%s must be base64", key)
	}
	if len(decoded) < appconfig.MinCursorKey {
		return pulumi.StringOutput{}, fmt.Errorf("%s must decode to at least %d bytes, got %d", key, appconfig.MinCursorKey, len(decoded))
	}
	return c.TrySecret("cursorKey")
}

// isProd reports whether the stack holds real customer data, which turns on
// the protections that would only get in the way in staging.
func (c stackConfig) isProd() bool { return c.Stage == stageProd }

// name returns the physical name of a resource of this stage, so that staging
// and prod can share an account without colliding: mh-staging-health.
func (c stackConfig) name(suffix string) string { return "mh-" + c.Stage + "-" + suffix }
