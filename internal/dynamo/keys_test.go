package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/token"
)

func newKeysStore(t *testing.T) (*dynamo.Keys, *dynamodb.Client, string, *dynamo.Calls) {
	t.Helper()
	calls := dynamo.NewCalls()
	db, name := dynamotest.NewTable(t, calls.Option())
	calls.Reset()
	return dynamo.NewKeys(db, name), db, name, calls
}

func rotatedKeySet(t *testing.T, rotations int) token.KeySet {
	t.Helper()
	var ks token.KeySet
	for i := range rotations {
		var err error
		ks, err = token.Rotate(ks, t0.Add(time.Duration(i)*time.Hour))
		require.NoError(t, err)
	}
	return ks
}

func TestKeysPutThenRead(t *testing.T) {
	keys, db, name, calls := newKeysStore(t)
	ctx := context.Background()

	_, err := keys.JWKS(ctx)
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "nothing published yet: %v", err)
	_, err = keys.PublicKeys(ctx)
	assert.Equal(t, fault.NotFound, fault.KindOf(err))

	ks := rotatedKeySet(t, 2)
	jwks, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, keys.Put(ctx, jwks))

	got, err := keys.JWKS(ctx)
	require.NoError(t, err)
	assert.Equal(t, string(jwks), string(got))
	pubs, err := keys.PublicKeys(ctx)
	require.NoError(t, err)
	require.Len(t, pubs, 2)
	for _, k := range ks.Keys {
		assert.True(t, k.Public.Equal(pubs[k.ID]), k.ID)
	}
	assert.Equal(t, map[string]int{"GetItem": 4, "PutItem": 1}, calls.Snapshot())

	// The item layout other readers (docs/data-model.md, the JWKS route) rely on.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(name),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "KEYS"},
			"SK": &types.AttributeValueMemberS{Value: "JWKS"},
		},
	})
	require.NoError(t, err)
	require.NotEmpty(t, out.Item)
	assert.Equal(t, &types.AttributeValueMemberS{Value: string(jwks)}, out.Item["jwks"])
	updated, ok := out.Item["updatedAt"].(*types.AttributeValueMemberS)
	require.True(t, ok, "updatedAt is a string")
	at, err := time.Parse(time.RFC3339Nano, updated.Value)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), at, time.Minute)
}

func TestKeysPutReplacesTheSet(t *testing.T) {
	keys, _, _, _ := newKeysStore(t)
	ctx := context.Background()
	ks := rotatedKeySet(t, 1)
	first, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, keys.Put(ctx, first))

	ks, err = token.Rotate(ks, t0.Add(time.Hour))
	require.NoError(t, err)
	second, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, keys.Put(ctx, second))

	pubs, err := keys.PublicKeys(ctx)
	require.NoError(t, err)
	assert.Len(t, pubs, 2)
	assert.Contains(t, pubs, ks.Keys[0].ID)
}

func TestKeysPutRefusesAnInvalidSetWithoutWriting(t *testing.T) {
	keys, _, _, calls := newKeysStore(t)
	ctx := context.Background()
	for _, bad := range []string{``, `{"keys":[]}`, `{"keys":[{"kty":"RSA","kid":"k"}]}`, `not json`} {
		err := keys.Put(ctx, []byte(bad))
		assert.Equal(t, fault.Invalid, fault.KindOf(err), "Put(%q) = %v", bad, err)
	}
	assert.Zero(t, calls.Total(), "nothing reached the table")
}

func TestKeysVerifyTokensFromTheTable(t *testing.T) {
	keys, _, _, calls := newKeysStore(t)
	ctx := context.Background()
	ks := rotatedKeySet(t, 2)
	jwks, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, keys.Put(ctx, jwks))
	calls.Reset()

	now := func() time.Time { return t0 }
	iss, err := token.NewIssuer(ks, "https://api.example.test", "marketplace", 15*time.Minute, now)
	require.NoError(t, err)
	tok, _, err := iss.Issue("usr_1", []auth.Role{auth.Seller})
	require.NoError(t, err)

	v := token.NewVerifier(keys, "https://api.example.test", "marketplace", now)
	for range 3 {
		p, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "usr_1", p.UserID)
		assert.True(t, p.Has(auth.Seller))
	}
	assert.Equal(t, map[string]int{"GetItem": 1}, calls.Snapshot(), "the verifier reads the keys once")
}

func TestKeysUnreadableTableIsUnavailableToVerifiers(t *testing.T) {
	_, db, _, _ := newKeysStore(t)
	keys := dynamo.NewKeys(db, "no-such-table")
	_, err := keys.JWKS(context.Background())
	assert.Equal(t, fault.Internal, fault.KindOf(err))

	v := token.NewVerifier(keys, "https://api.example.test", "marketplace", nil)
	ks := rotatedKeySet(t, 1)
	iss, err := token.NewIssuer(ks, "https://api.example.test", "marketplace", time.Minute, nil)
	require.NoError(t, err)
	tok, _, err := iss.Issue("usr_1", []auth.Role{auth.Buyer})
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	assert.Equal(t, fault.Unavailable, fault.KindOf(err), "%v", err)
}
