package deps_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/secrets/secretstest"
	"github.com/mountainhighway/marketplace/internal/token"
)

func keySet(t *testing.T) token.KeySet {
	t.Helper()
	k, err := token.NewKey(time.Now())
	require.NoError(t, err)
	return token.KeySet{Keys: []token.Key{k}}
}

// TestSignedInFunctionWiring builds what a signing function and a verifying
// function build from their configuration, over DynamoDB Local, and checks
// that a token one issues is accepted by the other.
func TestSignedInFunctionWiring(t *testing.T) {
	ctx := context.Background()
	endpoint := dynamotest.Endpoint(t)
	_, tableName := dynamotest.NewTable(t)
	ks := keySet(t)
	raw, err := ks.Marshal()
	require.NoError(t, err)
	cfg := config.Config{Region: "eu-west-1", TableName: tableName, DynamoEndpoint: endpoint, Issuer: "https://api.example.test", Audience: "mh", SigningKeys: raw}

	db, err := deps.Dynamo(ctx, cfg)
	require.NoError(t, err)
	jwks, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, dynamo.NewKeys(db, tableName).Put(ctx, jwks))

	issuer, err := deps.Issuer(ctx, cfg)
	require.NoError(t, err)
	tok, err := deps.Accounts(cfg, db, issuer).Register(ctx, account.Registration{Email: "wired@example.com", Password: "a carefully chosen passphrase", Name: "W"})
	require.NoError(t, err)
	p, err := deps.Verifier(cfg, db).Verify(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, tok.User.ID, p.UserID)

	l, err := deps.Editor(cfg, db).Create(ctx, auth.Principal{UserID: p.UserID, Roles: []auth.Role{auth.Seller}}, listing.New{
		Title: "Wired lamp", Category: "home", Price: listing.Money{Amount: 100, Currency: "EUR"},
	})
	require.NoError(t, err)
	assert.Equal(t, listing.Draft, l.Status)

	_, err = deps.Accounts(cfg, db, nil).Login(ctx, "wired@example.com", "a carefully chosen passphrase", "192.0.2.1")
	assert.Error(t, err, "a function built without an issuer cannot sign in")
}

func TestIssuerReadsSecretsManager(t *testing.T) {
	ctx := context.Background()
	sm := secretstest.NewServer(t)
	sm.Create("mh-test-signing-keys")
	ks := keySet(t)
	raw, err := ks.Marshal()
	require.NoError(t, err)
	require.NoError(t, secrets.New(sm.Client(t)).Put(ctx, "mh-test-signing-keys", raw))

	cfg := config.Config{Region: secretstest.Region, SecretsEndpoint: sm.URL, SigningKeysSecret: "mh-test-signing-keys", Issuer: "https://api.example.test", Audience: "mh"}
	issuer, err := deps.Issuer(ctx, cfg)
	require.NoError(t, err)
	tok, _, err := issuer.Issue("usr_01JF0000000000000000000001", []auth.Role{auth.Buyer})
	require.NoError(t, err)
	_, err = token.NewVerifier(ks, cfg.Issuer, cfg.Audience, time.Now).Verify(ctx, tok)
	assert.NoError(t, err, "signed with the key from the secret")

	cfg.SigningKeysSecret = "mh-test-missing"
	_, err = deps.Issuer(ctx, cfg)
	assert.ErrorContains(t, err, "signing keys")

	_, err = deps.Issuer(ctx, config.Config{Region: "eu-west-1"})
	assert.ErrorContains(t, err, "SIGNING_KEYS")

	_, err = deps.Issuer(ctx, config.Config{Region: "eu-west-1", SigningKeys: []byte(base64.StdEncoding.EncodeToString([]byte("nope")))})
	assert.ErrorContains(t, err, "signing keys")
}
