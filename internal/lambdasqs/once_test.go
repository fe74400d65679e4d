package lambdasqs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/lambdasqs"
)

// memDeduper is an in-memory lambdasqs.Deduper for the unit tests of Once;
// sqsjobs tests the DynamoDB one against DynamoDB Local.
type memDeduper struct {
	mu        sync.Mutex
	keys      map[string]time.Duration
	firstErr  error
	forgetErr error
	forgotten []string
	forgetCtx error // the context error Forget saw
}

var _ lambdasqs.Deduper = (*memDeduper)(nil)

func (d *memDeduper) FirstTime(_ context.Context, key string, ttl time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.firstErr != nil {
		return false, d.firstErr
	}
	if _, ok := d.keys[key]; ok {
		return false, nil
	}
	if d.keys == nil {
		d.keys = map[string]time.Duration{}
	}
	d.keys[key] = ttl
	return true, nil
}

func (d *memDeduper) Forget(ctx context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetCtx = ctx.Err()
	if d.forgetErr != nil {
		return d.forgetErr
	}
	delete(d.keys, key)
	d.forgotten = append(d.forgotten, key)
	return nil
}

// bodyKey uses the body as the deduplication key, refusing empty ones.
func bodyKey(msg events.SQSMessage) (string, error) {
	if msg.Body == "" {
		return "", errors.New("no key")
	}
	return "k-" + msg.Body, nil
}

func TestOnce(t *testing.T) {
	d := &memDeduper{}
	runs := 0
	f := newFixture(t, lambdasqs.Once(d, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error {
		runs++
		return nil
	}), nil)

	ev := events.SQSEvent{Records: []events.SQSMessage{message("m1", "x", "c1"), message("m2", "x", "c2"), message("m3", "y", "c3")}}
	resp := f.invoke(t, t.Context(), ev)
	assert.Empty(t, resp.BatchItemFailures, "a duplicate is acknowledged, not failed")
	assert.Equal(t, 2, runs, "x once, y once")
	assert.Equal(t, time.Hour, d.keys["k-x"])
	dup := f.logs(t, "duplicate delivery skipped")
	require.Len(t, dup, 1)
	assert.Equal(t, "k-x", dup[0]["dedupKey"])
	assert.Equal(t, "m2", dup[0]["messageId"])
}

func TestOnceForgetsFailedWork(t *testing.T) {
	d := &memDeduper{}
	fail := true
	runs := 0
	f := newFixture(t, lambdasqs.Once(d, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error {
		runs++
		if fail {
			return errors.New("dependency down")
		}
		return nil
	}), nil)

	resp := f.invoke(t, t.Context(), events.SQSEvent{Records: []events.SQSMessage{message("m1", "x", "")}})
	assert.Equal(t, []string{"m1"}, failureIDs(resp))
	assert.Equal(t, []string{"k-x"}, d.forgotten)

	fail = false
	resp = f.invoke(t, t.Context(), events.SQSEvent{Records: []events.SQSMessage{message("m1", "x", "")}})
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 2, runs, "the retry runs the work again")
}

func TestOnceForgetsAfterPanic(t *testing.T) {
	d := &memDeduper{}
	f := newFixture(t, lambdasqs.Once(d, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error {
		panic("bug")
	}), nil)
	resp := f.invoke(t, t.Context(), events.SQSEvent{Records: []events.SQSMessage{message("m1", "x", "")}})
	assert.Equal(t, []string{"m1"}, failureIDs(resp))
	assert.Equal(t, []string{"k-x"}, d.forgotten)
	assert.Len(t, f.logs(t, "handler panicked"), 1, "the panic still reaches the wrapper")
}

func TestOnceForgetsAfterTimeout(t *testing.T) {
	d := &memDeduper{}
	h := lambdasqs.Once(d, time.Hour, bodyKey, func(ctx context.Context, _ events.SQSMessage) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := h(ctx, message("m1", "x", ""))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, []string{"k-x"}, d.forgotten)
	assert.NoError(t, d.forgetCtx, "Forget runs on a live context even after the deadline")
}

func TestOnceErrors(t *testing.T) {
	boom := errors.New("dynamodb down")
	t.Run("no key", func(t *testing.T) {
		h := lambdasqs.Once(&memDeduper{}, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error { return nil })
		err := h(t.Context(), message("m1", "", ""))
		require.ErrorContains(t, err, "deduplication key: no key")
	})
	t.Run("first time fails", func(t *testing.T) {
		runs := 0
		h := lambdasqs.Once(&memDeduper{firstErr: boom}, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error { runs++; return nil })
		err := h(t.Context(), message("m1", "x", ""))
		require.ErrorIs(t, err, boom)
		assert.Zero(t, runs, "unknown whether it is a duplicate: fail and retry")
	})
	t.Run("forget fails", func(t *testing.T) {
		work := errors.New("work failed")
		d := &memDeduper{forgetErr: boom}
		f := newFixture(t, lambdasqs.Once(d, time.Hour, bodyKey, func(context.Context, events.SQSMessage) error { return work }), nil)
		resp := f.invoke(t, t.Context(), events.SQSEvent{Records: []events.SQSMessage{message("m1", "x", "")}})
		assert.Equal(t, []string{"m1"}, failureIDs(resp))
		l := f.logs(t, "forgetting the deduplication key failed; the retry will be skipped as a duplicate")
		require.Len(t, l, 1)
		assert.Equal(t, "k-x", l[0]["dedupKey"])
		failed := f.logs(t, "message failed")[0]["error"].(string)
		assert.Contains(t, failed, "work failed")
		assert.Contains(t, failed, "dynamodb down")
	})
}
