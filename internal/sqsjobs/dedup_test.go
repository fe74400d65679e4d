package sqsjobs

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/table"
)

func TestDeduper(t *testing.T) {
	db, name := dynamotest.NewTable(t)
	d := NewDeduper(db, name)
	ctx := t.Context()

	first, err := d.FirstTime(ctx, "upload/a.png#etag1", time.Hour)
	require.NoError(t, err)
	assert.True(t, first, "a new key")
	first, err = d.FirstTime(ctx, "upload/a.png#etag1", time.Hour)
	require.NoError(t, err)
	assert.False(t, first, "the same key again")
	first, err = d.FirstTime(ctx, "upload/a.png#etag2", time.Hour)
	require.NoError(t, err)
	assert.True(t, first, "another key")

	require.NoError(t, d.Forget(ctx, "upload/a.png#etag1"))
	first, err = d.FirstTime(ctx, "upload/a.png#etag1", time.Hour)
	require.NoError(t, err)
	assert.True(t, first, "a forgotten key is new again")
	require.NoError(t, d.Forget(ctx, "never-recorded"), "forgetting an unknown key")
}

func TestDeduperItem(t *testing.T) {
	db, name := dynamotest.NewTable(t)
	d := NewDeduper(db, name)
	now := time.Unix(1_800_000_000, 0)
	d.now = func() time.Time { return now }
	_, err := d.FirstTime(t.Context(), "k", 90*time.Minute)
	require.NoError(t, err)
	got, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(name), Key: dedupKey("k")})
	require.NoError(t, err)
	assert.Equal(t, map[string]types.AttributeValue{
		table.PK:  &types.AttributeValueMemberS{Value: "DEDUP#k"},
		table.SK:  &types.AttributeValueMemberS{Value: "DEDUP"},
		table.TTL: &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(90*time.Minute).Unix(), 10)},
	}, got.Item)
}

func TestDeduperExpiredRecordCountsAsAbsent(t *testing.T) {
	db, name := dynamotest.NewTable(t)
	d := NewDeduper(db, name)
	now := time.Unix(1_800_000_000, 0)
	d.now = func() time.Time { return now }
	first, err := d.FirstTime(t.Context(), "k", time.Minute)
	require.NoError(t, err)
	require.True(t, first)

	now = now.Add(59 * time.Second)
	first, err = d.FirstTime(t.Context(), "k", time.Minute)
	require.NoError(t, err)
	assert.False(t, first, "still recorded")

	// TTL has not deleted the item yet (it can be days late), but it has
	// expired.
	now = now.Add(time.Second)
	first, err = d.FirstTime(t.Context(), "k", time.Minute)
	require.NoError(t, err)
	assert.True(t, first, "expired")
}

func TestDeduperConcurrentDuplicates(t *testing.T) {
	db, name := dynamotest.NewTable(t)
	d := NewDeduper(db, name)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			first, err := d.FirstTime(t.Context(), "race", time.Hour)
			assert.NoError(t, err)
			if first {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load(), "exactly one of the concurrent duplicates does the work")
}

func TestDeduperErrors(t *testing.T) {
	db, name := dynamotest.NewTable(t)
	d := NewDeduper(db, name)
	_, err := d.FirstTime(t.Context(), "", time.Hour)
	require.ErrorIs(t, err, ErrEmptyKey)
	require.ErrorIs(t, d.Forget(t.Context(), ""), ErrEmptyKey)

	missing := NewDeduper(db, name+"-missing")
	_, err = missing.FirstTime(t.Context(), "k", time.Hour)
	var notFound *types.ResourceNotFoundException
	require.ErrorAs(t, err, &notFound)
	assert.ErrorContains(t, err, "sqsjobs.Deduper.FirstTime:")
	err = missing.Forget(t.Context(), "k")
	require.ErrorAs(t, err, &notFound)
	assert.ErrorContains(t, err, "sqsjobs.Deduper.Forget:")
}
