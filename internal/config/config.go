// Package config is the typed configuration every function and the dev
// server read once at start, from environment variables set by the Pulumi
// program (or by mh dev and the tests locally).
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// MinCursorKey is the shortest accepted HMAC key for list cursors.
const MinCursorKey = 32

// Config holds every setting. Secrets are masked by String.
type Config struct {
	Stage          string     // dev, staging or prod
	Function       string     // registry name of the running function
	Release        string     // build identifier reported to Sentry and logs
	Region         string     // AWS region
	TableName      string     // the single DynamoDB table
	DynamoEndpoint string     // non-empty only against a local DynamoDB
	SentryDSN      string     // empty disables Sentry
	CursorKey      []byte     // HMAC key that makes list cursors tamper-evident
	LogLevel       slog.Level // minimum level written
	DebugSample    float64    // fraction of invocations logged at debug level
	Issuer         string     // iss of access tokens: the API's base URL
	Audience       string     // aud of access tokens
	// SigningKeys is the private key set itself (local stacks); in AWS the
	// signing functions read it from the Secrets Manager secret named by
	// SigningKeysSecret instead.
	SigningKeys       []byte
	SigningKeysSecret string
	SecretsEndpoint   string // non-empty only against a local Secrets Manager
	UploadsBucket     string // receives presigned image uploads
	MediaBucket       string // holds thumbnails
	MediaBaseURL      string // where thumbnails are served (CloudFront)
	// S3Endpoint and its keys are set only against a local S3 (MinIO).
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
}

// Load reads the configuration through getenv (os.Getenv in production).
// Every missing or malformed value is reported, not just the first.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Stage:          or(getenv("STAGE"), "dev"),
		Function:       getenv("FUNCTION_NAME"),
		Release:        or(getenv("RELEASE"), "dev"),
		Region:         or(getenv("AWS_REGION"), "eu-west-1"),
		TableName:      getenv("TABLE_NAME"),
		DynamoEndpoint: getenv("DYNAMODB_ENDPOINT"),
		SentryDSN:      getenv("SENTRY_DSN"),
		LogLevel:       slog.LevelInfo,
		Issuer:         or(getenv("ISSUER"), "http://127.0.0.1:8080"),
		Audience:       or(getenv("AUDIENCE"), "mountain-highway"),

		SigningKeysSecret: getenv("SIGNING_KEYS_SECRET"),
		SecretsEndpoint:   getenv("SECRETS_ENDPOINT"),
		UploadsBucket:     getenv("UPLOADS_BUCKET"),
		MediaBucket:       getenv("MEDIA_BUCKET"),
		MediaBaseURL:      getenv("MEDIA_BASE_URL"),
		S3Endpoint:        getenv("S3_ENDPOINT"),
		S3AccessKey:       getenv("S3_ACCESS_KEY"),
		S3SecretKey:       getenv("S3_SECRET_KEY"),
	}
	var errs []error
	if c.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME is required"))
	}
	key, err := base64.StdEncoding.DecodeString(getenv("CURSOR_KEY"))
	switch {
	case err != nil:
		errs = append(errs, errors.New("CURSOR_KEY must be base64"))
	case len(key) < MinCursorKey:
		errs = append(errs, fmt.Errorf("CURSOR_KEY must decode to at least %d bytes", MinCursorKey))
	}
	c.CursorKey = key
	if v := getenv("SIGNING_KEYS"); v != "" {
		keys, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			errs = append(errs, errors.New("SIGNING_KEYS must be base64"))
		}
		c.SigningKeys = keys
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL %q is not debug, info, warn or error", v))
		}
	}
	if v := getenv("LOG_DEBUG_SAMPLE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) { // written so that NaN fails too
			errs = append(errs, fmt.Errorf("LOG_DEBUG_SAMPLE %q must be a number between 0 and 1", v))
		}
		c.DebugSample = f
	}
	return c, errors.Join(errs...)
}

// String prints the configuration with secrets masked, for the start-up log.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stage=%s function=%s release=%s region=%s table=%s", c.Stage, c.Function, c.Release, c.Region, c.TableName)
	if c.DynamoEndpoint != "" {
		fmt.Fprintf(&b, " dynamodb=%s", c.DynamoEndpoint)
	}
	fmt.Fprintf(&b, " uploads=%s media=%s mediaBaseURL=%s s3=%s s3Secret=%s", c.UploadsBucket, c.MediaBucket, c.MediaBaseURL, c.S3Endpoint, mask(c.S3SecretKey))
	fmt.Fprintf(&b, " sentry=%s cursorKey=%s signingKeys=%s log=%s debugSample=%g issuer=%s audience=%s",
		mask(c.SentryDSN), mask(string(c.CursorKey)), mask(string(c.SigningKeys)), c.LogLevel, c.DebugSample, c.Issuer, c.Audience)
	if c.SigningKeysSecret != "" {
		fmt.Fprintf(&b, " signingKeysSecret=%s", c.SigningKeysSecret)
	}
	return b.String()
}

// LogValue makes slog print the masked form too.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func mask(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
