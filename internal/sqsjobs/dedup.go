package sqsjobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/table"
)

// DedupAPI is the part of the DynamoDB client a Deduper calls.
type DedupAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ DedupAPI = (*dynamodb.Client)(nil)

// Deduper records the keys of jobs done, one item per key:
//
//	PK = DEDUP#<key>   SK = DEDUP   expiresAt (TTL, unix s)
//
// A conditional put makes the record and the check one atomic step, so two
// consumers handling duplicates of a job at the same moment cannot both
// win. TTL deletes records lazily (up to days late), so an item whose
// expiresAt has passed counts as absent.
type Deduper struct {
	db    DedupAPI
	table string
	now   func() time.Time
}

var _ lambdasqs.Deduper = (*Deduper)(nil)

// NewDeduper returns a Deduper keeping its records in table name.
func NewDeduper(db DedupAPI, name string) *Deduper {
	return &Deduper{db: db, table: name, now: time.Now}
}

// ErrEmptyKey is returned for an empty deduplication key, which would make
// unrelated jobs duplicates of each other.
var ErrEmptyKey = errors.New("sqsjobs: empty deduplication key")

// dedupKey returns the primary key of key's record.
func dedupKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		table.PK: &types.AttributeValueMemberS{Value: "DEDUP#" + key},
		table.SK: &types.AttributeValueMemberS{Value: "DEDUP"},
	}
}

// FirstTime records key until ttl from now and reports whether no live
// record of it existed. It returns ErrEmptyKey for an empty key.
func (d *Deduper) FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, ErrEmptyKey
	}
	now := d.now()
	item := dedupKey(key)
	// Whole seconds, rounded up, so that a sub-second ttl still records.
	item[table.TTL] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(ttl+time.Second-1).Unix(), 10)}
	_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(d.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#pk":  table.PK,
			"#exp": table.TTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("sqsjobs.Deduper.FirstTime: %w", err)
	}
	return true, nil
}

// Forget deletes key's record, so that the job runs again when it is
// delivered again. Forgetting a key that is not recorded is not an error.
func (d *Deduper) Forget(ctx context.Context, key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.table), Key: dedupKey(key)})
	if err != nil {
		return fmt.Errorf("sqsjobs.Deduper.Forget: %w", err)
	}
	return nil
}
