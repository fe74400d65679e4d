package dynamo

import (
	"context"
	"crypto/ecdsa"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/table"
	"github.com/mountainhighway/marketplace/internal/token"
)

// KeysAPI is the part of the DynamoDB client the key store calls.
type KeysAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Keys stores the public JWK Set that verifies access tokens, in one item:
//
//	PK = KEYS  SK = JWKS  jwks = <the JWK Set as JSON>  updatedAt = <RFC 3339>
//
// It lives in the table, not only in Secrets Manager next to the private
// keys, because every function that verifies tokens already reads the
// table, the set is public, and so only the functions that sign need to be
// allowed to read the secret.
type Keys struct {
	db    KeysAPI
	table string
	now   func() time.Time
}

var _ token.KeySource = (*Keys)(nil)

// NewKeys returns the key store on table name.
func NewKeys(db KeysAPI, name string) *Keys {
	return &Keys{db: db, table: name, now: time.Now}
}

const (
	keysPK = "KEYS"
	keysSK = "JWKS"
)

type keysItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	JWKS      string `dynamodbav:"jwks"`
	UpdatedAt string `dynamodbav:"updatedAt"`
}

func keysKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		table.PK: &types.AttributeValueMemberS{Value: keysPK},
		table.SK: &types.AttributeValueMemberS{Value: keysSK},
	}
}

// Put replaces the stored JWK Set. It refuses a set token.ParseJWKS would
// reject (fault.Invalid), so that a bad write cannot lock every user out.
func (k *Keys) Put(ctx context.Context, jwks []byte) error {
	const op = "dynamo.Keys.Put"
	if _, err := token.ParseJWKS(jwks); err != nil {
		return &fault.Error{Op: op, Kind: fault.Invalid, Message: "not a valid JWK Set", Err: err}
	}
	item, err := attributevalue.MarshalMap(keysItem{
		PK: keysPK, SK: keysSK, Type: "jwks", JWKS: string(jwks),
		UpdatedAt: k.now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fault.Wrap(op, err)
	}
	if _, err := k.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(k.table), Item: item}); err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// JWKS returns the stored JWK Set as written, or a fault.NotFound error
// when none has been stored. The read is strongly consistent: verifiers
// read it when a token names a kid they have not seen, which happens right
// after a rotation, when an eventually consistent read may still miss it.
func (k *Keys) JWKS(ctx context.Context) ([]byte, error) {
	const op = "dynamo.Keys.JWKS"
	out, err := k.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(k.table), Key: keysKey(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fault.Wrap(op, err)
	}
	if len(out.Item) == 0 { // minidyn returns an empty map for a missing item
		return nil, fault.E(op, fault.NotFound, "no signing keys have been published")
	}
	var it keysItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fault.Wrap(op, err)
	}
	return []byte(it.JWKS), nil
}

// PublicKeys returns the stored keys by kid, for token.Verifier. A missing
// or unparsable set is an error, which the verifier reports as unavailable
// rather than as a bad token.
func (k *Keys) PublicKeys(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	const op = "dynamo.Keys.PublicKeys"
	b, err := k.JWKS(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := token.ParseJWKS(b)
	if err != nil {
		return nil, fault.Wrap(op, err)
	}
	return keys, nil
}
