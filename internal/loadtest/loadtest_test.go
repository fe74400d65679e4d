package loadtest_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mountainhighway/marketplace/internal/loadtest"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestSummarizeNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		s = append(s, ms(i))
	}
	r := loadtest.Summarize(s)
	assert.Equal(t, 100, r.Requests)
	assert.Equal(t, ms(50), r.P50)
	assert.Equal(t, ms(95), r.P95)
	assert.Equal(t, ms(99), r.P99)
	assert.Equal(t, ms(100), r.Max)
	assert.Equal(t, ms(100), s[0], "the caller's slice is not reordered")

	one := loadtest.Summarize([]time.Duration{ms(7)})
	assert.Equal(t, ms(7), one.P50)
	assert.Equal(t, ms(7), one.P99)
	assert.Zero(t, loadtest.Summarize(nil).P50)
	assert.Zero(t, loadtest.Result{}.Throughput())
}

func TestRunCountsSuccessesAndErrorsAndStops(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Bool, 4)
	r := loadtest.Run(context.Background(), 4, 150*time.Millisecond, func(ctx context.Context, worker, i int) error {
		seen[worker].Store(true)
		calls.Add(1)
		time.Sleep(time.Millisecond)
		if i%2 == 1 {
			return errors.New("boom")
		}
		return nil
	})
	for w := range seen {
		assert.True(t, seen[w].Load(), "worker %d ran", w)
	}
	assert.Positive(t, r.Requests)
	assert.Positive(t, r.Errors)
	assert.LessOrEqual(t, int64(r.Requests+r.Errors), calls.Load())
	assert.InDelta(t, r.Requests, r.Errors, float64(4*2), "half the calls fail")
	assert.GreaterOrEqual(t, r.P50, time.Millisecond)
	assert.GreaterOrEqual(t, r.Elapsed, 150*time.Millisecond)
	assert.Positive(t, r.Throughput())
}

func TestRunHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := loadtest.Run(ctx, 2, time.Hour, func(ctx context.Context, _, _ int) error { return nil })
	assert.Zero(t, r.Requests)
}
