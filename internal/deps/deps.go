// Package deps builds, from a function's configuration, the adapters and
// services its handler needs. Mains call only what they use, once per
// execution environment, so clients are reused across invocations.
package deps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/password"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/telemetry"
	"github.com/mountainhighway/marketplace/internal/token"
)

// AccessTokenTTL is the life of an access token: short, because a token
// cannot be revoked before it expires; refresh tokens carry the session.
const AccessTokenTTL = 15 * time.Minute

// Dynamo returns the DynamoDB client of the configuration.
func Dynamo(ctx context.Context, cfg config.Config) (*dynamodb.Client, error) {
	return dynamo.NewClient(ctx, cfg.Region, cfg.DynamoEndpoint)
}

// Verifier returns the access-token verifier, reading the public keys from
// the table (and caching them).
func Verifier(cfg config.Config, db *dynamodb.Client) *token.Verifier {
	return token.NewVerifier(dynamo.NewKeys(db, cfg.TableName), cfg.Issuer, cfg.Audience, time.Now)
}

// Issuer returns the access-token issuer. The private keys come from the
// configuration locally and from Secrets Manager in AWS, read once at start.
func Issuer(ctx context.Context, cfg config.Config) (*token.Issuer, error) {
	raw := cfg.SigningKeys
	if len(raw) == 0 {
		if cfg.SigningKeysSecret == "" {
			return nil, errors.New("deps: neither SIGNING_KEYS nor SIGNING_KEYS_SECRET is set")
		}
		client, err := secrets.NewClient(ctx, cfg.Region, cfg.SecretsEndpoint)
		if err != nil {
			return nil, fmt.Errorf("deps: %w", err)
		}
		raw, err = secrets.New(client).Get(ctx, cfg.SigningKeysSecret)
		if err != nil {
			return nil, fmt.Errorf("deps: signing keys: %w", err)
		}
	}
	ks, err := token.ParseKeySet(raw)
	if err != nil {
		return nil, fmt.Errorf("deps: signing keys: %w", err)
	}
	return token.NewIssuer(ks, cfg.Issuer, cfg.Audience, AccessTokenTTL, time.Now)
}

// Accounts returns the account service over the table. Functions that sign
// in pass their issuer; the others pass nil and never reach the paths that
// need it.
func Accounts(cfg config.Config, db *dynamodb.Client, issuer *token.Issuer) *account.Service {
	d := account.Deps{
		Store:    dynamo.NewUsers(db, cfg.TableName),
		Sessions: dynamo.NewSessions(db, cfg.TableName),
		Hasher:   password.Argon2id{},
		Guard:    dynamo.NewLoginGuard(db, cfg.TableName, dynamo.DefaultGuardPolicy()),
		Events:   telemetry.Events{},
	}
	if issuer != nil {
		d.Issuer = issuer
	}
	return account.NewService(d)
}

// Editor returns the write side of listings over the table, keeping the
// keyword index current.
func Editor(cfg config.Config, db *dynamodb.Client) *listing.Editor {
	store := dynamo.NewListings(db, cfg.TableName).WithIndex(dynamo.NewSearchIndex(db, cfg.TableName))
	return listing.NewEditor(store, time.Now)
}

// Favorites returns the favourites service over the table.
func Favorites(cfg config.Config, db *dynamodb.Client) *listing.Favorites {
	return listing.NewFavorites(dynamo.NewFavorites(db, cfg.TableName), cursor.New(cfg.CursorKey), telemetry.Events{}, time.Now).
		WithMedia(s3media.BaseURL(cfg.MediaBaseURL))
}

// ViewFlushInterval is how often a process writes the views it counted.
const ViewFlushInterval = 30 * time.Second

// Views returns the aggregating view counter over the table.
func Views(cfg config.Config, db *dynamodb.Client) *listing.Views {
	return listing.NewViews(dynamo.NewFavorites(db, cfg.TableName), ViewFlushInterval, time.Now)
}

// Listings returns the read side of listings over the table, with keyword
// search.
func Listings(cfg config.Config, db *dynamodb.Client) *listing.Service {
	store := dynamo.NewListings(db, cfg.TableName)
	return listing.NewService(store, cursor.New(cfg.CursorKey)).
		WithSearch(dynamo.NewSearchIndex(db, cfg.TableName), store, telemetry.Events{}).
		WithMedia(s3media.BaseURL(cfg.MediaBaseURL))
}

// Images returns the image service over the table and the buckets.
func Images(ctx context.Context, cfg config.Config, db *dynamodb.Client) (*listing.Images, error) {
	client, err := s3media.NewClient(ctx, cfg.Region, cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey)
	if err != nil {
		return nil, fmt.Errorf("deps: s3: %w", err)
	}
	media := s3media.NewListingMedia(client, cfg.UploadsBucket, cfg.MediaBucket, cfg.MediaBaseURL)
	return listing.NewImages(dynamo.NewListings(db, cfg.TableName), media, media, telemetry.Events{}, time.Now), nil
}

// Probes returns the readiness checks of the dependencies every request
// path needs: one GetItem on the table (a missing item still proves it
// answers).
func Probes(cfg config.Config, db *dynamodb.Client) map[string]httpapi.Probe {
	keys := dynamo.NewKeys(db, cfg.TableName)
	return map[string]httpapi.Probe{
		"dynamodb": func(ctx context.Context) error {
			_, err := keys.JWKS(ctx)
			return err
		},
	}
}
