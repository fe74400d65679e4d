package listing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/listing"
)

// sums is a ViewStore that adds what it is given, like DynamoDB's ADD, and
// can be made to fail.
type sums struct {
	mu     sync.Mutex
	total  map[string]int64
	writes int
	fail   bool
}

func (s *sums) AddViews(_ context.Context, counts map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("throttled")
	}
	s.writes++
	for k, v := range counts {
		s.total[k] += v
	}
	return nil
}

func TestViewsAggregateBetweenFlushes(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	store := &sums{total: map[string]int64{}}
	v := listing.NewViews(store, 30*time.Second, func() time.Time { return now })
	ctx := context.Background()

	for range 100 {
		require.NoError(t, v.Record(ctx, "a"))
	}
	require.NoError(t, v.Record(ctx, "b"))
	assert.Zero(t, store.writes, "no write per view")
	assert.Equal(t, int64(101), v.Pending())

	now = now.Add(30 * time.Second)
	require.NoError(t, v.Record(ctx, "a"))
	assert.Equal(t, 1, store.writes, "one write for the whole interval")
	assert.Equal(t, map[string]int64{"a": 101, "b": 1}, store.total)
	assert.Zero(t, v.Pending())

	store.fail = true
	now = now.Add(30 * time.Second)
	assert.Error(t, v.Record(ctx, "c"))
	assert.Equal(t, int64(1), v.Pending(), "a failed write keeps the counts")
	store.fail = false
	now = now.Add(30 * time.Second)
	require.NoError(t, v.Record(ctx, "c"))
	assert.Equal(t, int64(2), store.total["c"])
}

func TestViewsBoundTheWorkOfOneFlush(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	store := &sums{total: map[string]int64{}}
	v := listing.NewViews(store, time.Second, func() time.Time { return now })
	for i := range 40 {
		require.NoError(t, v.Record(context.Background(), string(rune('A'+i))))
	}
	now = now.Add(time.Second)
	require.NoError(t, v.Record(context.Background(), "A"))
	assert.Len(t, store.total, 25, "at most 25 listings per flush")
	assert.Equal(t, int64(15), v.Pending(), "the other 15 listings wait for the next flush")
}
