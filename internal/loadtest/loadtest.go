// Package loadtest drives a closed-loop load — a fixed number of workers,
// each sending its next request when the previous one returns — for a
// bounded time, and summarises the latencies. mh bench uses it against
// loopback servers only.
package loadtest

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Result summarises one run.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50      time.Duration
	P95      time.Duration
	P99      time.Duration
	Max      time.Duration
}

// Throughput returns completed requests per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run calls do from workers goroutines until d has passed or ctx is done,
// and returns the latency distribution of the calls that succeeded. The
// worker index lets do vary its request. Calls in flight when d passes are
// let finish rather than cancelled, so the server never sees half-read
// responses.
func Run(ctx context.Context, workers int, d time.Duration, do func(ctx context.Context, worker, i int) error) Result {
	end := time.Now().Add(d)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			failed := 0
			for i := 0; ctx.Err() == nil && time.Now().Before(end); i++ {
				t := time.Now()
				err := do(ctx, w, i)
				if ctx.Err() != nil {
					break // a call cut short by cancellation says nothing
				}
				if err != nil {
					failed++
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := Summarize(latencies)
	r.Errors = errs
	r.Elapsed = time.Since(start)
	return r
}

// Summarize returns the percentiles of samples (nearest-rank).
func Summarize(samples []time.Duration) Result {
	r := Result{Requests: len(samples)}
	if len(samples) == 0 {
		return r
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	r.P50, r.P95, r.P99, r.Max = rank(0.50), rank(0.95), rank(0.99), s[len(s)-1]
	return r
}
