package listing

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// ViewStore adds view counts in bulk.
type ViewStore interface {
	AddViews(ctx context.Context, counts map[string]int64) error
}

// Views counts listing views without a write per view: it aggregates them
// in the process and writes the sums at most once per interval, during a
// request (a Lambda process is frozen between requests, so there is no
// background flush). A process that ends loses at most one interval of
// counts — acceptable for a popularity signal, never for money.
type Views struct {
	store ViewStore
	every time.Duration
	max   int // ids written per flush, so one request's extra work is bounded
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]int64
	last    time.Time
}

// NewViews returns a counter that flushes to store every interval.
func NewViews(store ViewStore, every time.Duration, now func() time.Time) *Views {
	if now == nil {
		now = time.Now
	}
	return &Views{store: store, every: every, max: 25, now: now, pending: map[string]int64{}, last: now()}
}

// Record counts one view of listing id, and writes the pending counts when
// the interval has passed. A failed write keeps the counts for next time.
func (v *Views) Record(ctx context.Context, id string) error {
	v.mu.Lock()
	v.pending[id]++
	now := v.now()
	if now.Sub(v.last) < v.every {
		v.mu.Unlock()
		return nil
	}
	batch := map[string]int64{}
	for _, k := range slices.Sorted(maps.Keys(v.pending))[:min(v.max, len(v.pending))] {
		batch[k] = v.pending[k]
		delete(v.pending, k)
	}
	v.last = now
	v.mu.Unlock()

	if err := v.store.AddViews(ctx, batch); err != nil {
		v.mu.Lock()
		for k, n := range batch {
			v.pending[k] += n
		}
		v.mu.Unlock()
		return err
	}
	return nil
}

// Pending returns how many views are counted but not yet written.
func (v *Views) Pending() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var n int64
	for _, c := range v.pending {
		n += c
	}
	return n
}
