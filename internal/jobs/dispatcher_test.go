package jobs_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/jobs"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/sqsjobs"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Sender is what producers depend on; both queues satisfy it, so the same
// code sends jobs under make dev and in AWS.
type Sender interface {
	Send(ctx context.Context, body any) error
	SendBatch(ctx context.Context, bodies []any) error
}

var (
	_ Sender = (*jobs.Queue)(nil)
	_ Sender = (*sqsjobs.Queue)(nil)
)

const waitFor = 5 * time.Second

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// logs returns the JSON log lines with message msg.
func (s *syncBuffer) logs(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(s.b.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitLogs waits until n lines with message msg have been written: the
// wrapper logs a message's outcome after its handler returns.
func (s *syncBuffer) waitLogs(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	require.Eventuallyf(t, func() bool { return len(s.logs(t, msg)) >= n }, waitFor, time.Millisecond, "%d %q lines", n, msg)
	return s.logs(t, msg)
}

// recorder is a consumer that remembers every event it was given and fails
// the messages fail says to.
type recorder struct {
	mu     sync.Mutex
	events []events.SQSEvent
	done   []string // bodies processed successfully, in order
	fail   func(msg events.SQSMessage) error
}

func (r *recorder) handle(_ context.Context, msg events.SQSMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(msg); err != nil {
			return err
		}
	}
	r.done = append(r.done, msg.Body)
	return nil
}

// batchHandler wraps the recorder in the lambdasqs wrapper, as the worker's
// Lambda function would be, and records each event before it is handled.
func (r *recorder) batchHandler(out *syncBuffer) lambdasqs.BatchHandler {
	wrapped := lambdasqs.New(lambdasqs.Options{
		Function: registry.Function{Name: "test-worker"},
		Stage:    "dev",
		LogLevel: slog.LevelInfo,
		Out:      out,
	}).Handler(r.handle)
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
		return wrapped(ctx, ev)
	}
}

func (r *recorder) Done() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.done...)
}

func (r *recorder) Events() []events.SQSEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.SQSEvent(nil), r.events...)
}

// receives returns the receive counts with which body was delivered.
func (r *recorder) receives(body string) []int {
	var out []int
	for _, ev := range r.Events() {
		for _, m := range ev.Records {
			if m.Body == body {
				out = append(out, lambdasqs.ReceiveCount(m))
			}
		}
	}
	return out
}

// newDispatcher returns a dispatcher closed at the end of the test, and
// the buffer its own log lines and the wrapper's go to.
func newDispatcher(t *testing.T) (*jobs.Dispatcher, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	d := jobs.New(jobs.Options{Logger: slog.New(slog.NewJSONHandler(out, nil))})
	t.Cleanup(d.Close)
	return d, out
}

func enqueue(t *testing.T, d *jobs.Dispatcher, queue string, bodies ...string) []string {
	t.Helper()
	var ids []string
	for _, b := range bodies {
		id, err := d.Enqueue(t.Context(), queue, []byte(b), nil)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func TestDeliversRealSQSEvents(t *testing.T) {
	d, out := newDispatcher(t)
	r := &recorder{}
	require.NoError(t, d.Register("images", jobs.Consumer{Handler: r.batchHandler(out)}))

	ctx := telemetry.NewContext(t.Context(), &telemetry.Invocation{CorrelationID: "corr-api", Logger: slog.Default()})
	id, err := d.Enqueue(ctx, "images", []byte(`{"key":"a.png"}`), map[string]string{"kind": "upload"})
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id, "a UUID like SQS's")

	require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond)
	evs := r.Events()
	require.Len(t, evs, 1)
	require.Len(t, evs[0].Records, 1)
	m := evs[0].Records[0]
	assert.Equal(t, id, m.MessageId)
	assert.Equal(t, `{"key":"a.png"}`, m.Body)
	sum := md5.Sum([]byte(m.Body))
	assert.Equal(t, hex.EncodeToString(sum[:]), m.Md5OfBody)
	assert.NotEmpty(t, m.ReceiptHandle)
	assert.Equal(t, "aws:sqs", m.EventSource)
	assert.Equal(t, "arn:aws:sqs:local:000000000000:images", m.EventSourceARN)
	assert.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
	for _, a := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp"} {
		ms, err := strconv.ParseInt(m.Attributes[a], 10, 64)
		require.NoError(t, err, a)
		assert.WithinDuration(t, time.Now(), time.UnixMilli(ms), waitFor, a)
	}
	assert.Equal(t, "upload", *m.MessageAttributes["kind"].StringValue)
	assert.Equal(t, "String", m.MessageAttributes["kind"].DataType)
	assert.Equal(t, "corr-api", *m.MessageAttributes["correlationId"].StringValue, "the sender's correlation id is attached")

	processed := out.waitLogs(t, "message processed", 1)
	require.Len(t, processed, 1)
	assert.Equal(t, "corr-api", processed[0]["correlationId"], "and continued by the wrapper")
	dead, err := d.DeadLetters("images")
	require.NoError(t, err)
	assert.Empty(t, dead)
}

func TestInvocationContext(t *testing.T) {
	d, _ := newDispatcher(t)
	got := make(chan context.Context, 1)
	require.NoError(t, d.Register("q", jobs.Consumer{Timeout: 7 * time.Second, Handler: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		got <- ctx
		return events.SQSEventResponse{}, nil
	}}))
	enqueue(t, d, "q", "x")
	ctx := <-got
	deadline, ok := ctx.Deadline()
	require.True(t, ok, "the invocation has a deadline")
	assert.WithinDuration(t, time.Now().Add(7*time.Second), deadline, time.Second)
	lc, ok := lambdacontext.FromContext(ctx)
	require.True(t, ok)
	assert.NotEmpty(t, lc.AwsRequestID)
	assert.Equal(t, "arn:aws:lambda:local:000000000000:function:q", lc.InvokedFunctionArn)
}

func TestRetryThenSuccess(t *testing.T) {
	d, out := newDispatcher(t)
	attempts := 0
	r := &recorder{fail: func(events.SQSMessage) error {
		attempts++
		if attempts < 3 {
			return errors.New("dependency not ready")
		}
		return nil
	}}
	const delay = 30 * time.Millisecond
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), RetryDelay: delay, MaxReceiveCount: 5}))
	enqueue(t, d, "q", "job")

	require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond)
	assert.Equal(t, []int{1, 2, 3}, r.receives("job"), "delivered again with the receive count incremented")
	evs := r.Events()
	assert.Equal(t, evs[0].Records[0].MessageId, evs[2].Records[0].MessageId, "the same message")
	assert.NotEqual(t, evs[0].Records[0].ReceiptHandle, evs[2].Records[0].ReceiptHandle, "a new receipt handle per delivery")
	assert.Equal(t, evs[0].Records[0].Attributes["ApproximateFirstReceiveTimestamp"], evs[2].Records[0].Attributes["ApproximateFirstReceiveTimestamp"])
	first := logTime(t, out.logs(t, "message failed")[0])
	second := logTime(t, out.logs(t, "message failed")[1])
	assert.GreaterOrEqual(t, second.Sub(first), delay, "not before the retry delay")
	dead, err := d.DeadLetters("q")
	require.NoError(t, err)
	assert.Empty(t, dead)
}

func logTime(t *testing.T, line map[string]any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, line["time"].(string))
	require.NoError(t, err)
	return ts
}

func TestPoisonMessageIsDeadLettered(t *testing.T) {
	d, out := newDispatcher(t)
	r := &recorder{fail: func(msg events.SQSMessage) error {
		if msg.Body == "poison" {
			return errors.New("cannot parse")
		}
		return nil
	}}
	const delay = 10 * time.Millisecond
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), RetryDelay: delay, MaxReceiveCount: 3}))
	ids := enqueue(t, d, "q", "good-1", "poison", "good-2")

	require.Eventually(t, func() bool {
		dead, err := d.DeadLetters("q")
		return err == nil && len(dead) == 1
	}, waitFor, time.Millisecond)
	time.Sleep(10 * delay) // a fourth delivery would happen in this time
	assert.Equal(t, []int{1, 2, 3}, r.receives("poison"), "delivered maxReceiveCount times, then no more")
	assert.ElementsMatch(t, []string{"good-1", "good-2"}, r.Done())

	dead, err := d.DeadLetters("q")
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "q", dead[0].Queue)
	assert.Equal(t, ids[1], dead[0].Message.MessageId)
	assert.Equal(t, "poison", dead[0].Message.Body)
	assert.Equal(t, "3", dead[0].Message.Attributes["ApproximateReceiveCount"])
	assert.WithinDuration(t, time.Now(), dead[0].At, waitFor)
	moved := out.logs(t, "message moved to the dead-letter list")
	require.Len(t, moved, 1)
	assert.Equal(t, ids[1], moved[0]["messageId"])
	assert.Equal(t, 3.0, moved[0]["receiveCount"])
	assert.NotEmpty(t, moved[0]["correlationId"])
}

func TestPartialBatchFailureRedeliversOnlyTheFailed(t *testing.T) {
	d, out := newDispatcher(t)
	failed := map[string]bool{}
	r := &recorder{fail: func(msg events.SQSMessage) error {
		if (msg.Body == "3" || msg.Body == "7") && !failed[msg.Body] {
			failed[msg.Body] = true
			return errors.New("transient")
		}
		return nil
	}}
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), RetryDelay: 10 * time.Millisecond, BatchWindow: 200 * time.Millisecond}))
	var bodies []string
	for i := range 10 {
		bodies = append(bodies, strconv.Itoa(i))
	}
	// Enqueued faster than the window: they make one full batch.
	enqueue(t, d, "q", bodies...)

	require.Eventually(t, func() bool { return len(r.Done()) == 10 }, waitFor, time.Millisecond)
	evs := r.Events()
	require.Len(t, evs, 2, "the first batch, then one batch of the two failed messages")
	require.Len(t, evs[0].Records, 10)
	var retried []string
	for _, m := range evs[1].Records {
		retried = append(retried, m.Body)
		assert.Equal(t, "2", m.Attributes["ApproximateReceiveCount"])
	}
	assert.ElementsMatch(t, []string{"3", "7"}, retried, "only the failed ones are delivered again")
	assert.Len(t, r.Done(), 10, "each message done once")
}

func TestBatchSizeAndWindow(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		d, out := newDispatcher(t)
		r := &recorder{}
		require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), BatchSize: 2, BatchWindow: time.Hour}))
		enqueue(t, d, "q", "a", "b", "c", "d")
		require.Eventually(t, func() bool { return len(r.Done()) == 4 }, waitFor, time.Millisecond)
		for _, ev := range r.Events() {
			assert.Len(t, ev.Records, 2)
		}
	})
	t.Run("window", func(t *testing.T) {
		d, out := newDispatcher(t)
		r := &recorder{}
		const window = 100 * time.Millisecond
		require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), BatchWindow: window}))
		begin := time.Now()
		enqueue(t, d, "q", "a", "b", "c")
		require.Eventually(t, func() bool { return len(r.Done()) == 3 }, waitFor, time.Millisecond)
		assert.GreaterOrEqual(t, time.Since(begin), window, "a batch that is not full waits for the window")
		evs := r.Events()
		require.Len(t, evs, 1, "one batch")
		assert.Len(t, evs[0].Records, 3)
	})
	t.Run("no window", func(t *testing.T) {
		d, out := newDispatcher(t)
		r := &recorder{}
		require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out)}))
		enqueue(t, d, "q", "a")
		require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond)
	})
}

func TestWholeBatchFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler func(events.SQSEvent) (events.SQSEventResponse, error)
		want    string
	}{
		{"error", func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("init failed")
		}, "init failed"},
		{"panic", func(events.SQSEvent) (events.SQSEventResponse, error) { panic("nil map") }, "the handler panicked: nil map"},
		{"unknown id", func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
		}, `failure of message "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, out := newDispatcher(t)
			var mu sync.Mutex
			deliveries := 0
			require.NoError(t, d.Register("q", jobs.Consumer{
				RetryDelay: time.Millisecond, MaxReceiveCount: 2, BatchWindow: time.Hour, BatchSize: 2,
				Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					mu.Lock()
					deliveries++
					mu.Unlock()
					return tt.handler(ev)
				},
			}))
			enqueue(t, d, "q", "a", "b")
			require.Eventually(t, func() bool {
				dead, err := d.DeadLetters("q")
				return err == nil && len(dead) == 2
			}, waitFor, time.Millisecond, "both messages fail twice and are dead-lettered")
			mu.Lock()
			assert.Equal(t, 2, deliveries)
			mu.Unlock()
			lines := out.logs(t, "the whole batch failed and will be delivered again")
			require.Len(t, lines, 2)
			assert.Contains(t, lines[0]["error"], tt.want)
			assert.Equal(t, 2.0, lines[0]["messages"])
		})
	}
}

func TestClose(t *testing.T) {
	d, out := newDispatcher(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var finished bool
	require.NoError(t, d.Register("slow", jobs.Consumer{BatchSize: 1, Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		close(started)
		<-release
		finished = true
		return events.SQSEventResponse{}, nil
	}}))
	enqueue(t, d, "slow", "in flight", "waiting")
	<-started

	closed := make(chan struct{})
	go func() {
		d.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was being handled")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return after the batch finished")
	}
	assert.True(t, finished, "the in-flight batch ran to its end")

	dropped := out.logs(t, "dispatcher closed with undelivered messages; they are lost")
	require.Len(t, dropped, 1)
	assert.Equal(t, 1.0, dropped[0]["messages"])

	_, err := d.Enqueue(t.Context(), "slow", []byte("late"), nil)
	require.ErrorIs(t, err, jobs.ErrClosed)
	require.ErrorIs(t, d.Register("other", jobs.Consumer{Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}}), jobs.ErrClosed)
	_, err = d.Redrive("slow")
	require.ErrorIs(t, err, jobs.ErrClosed)
	_, err = d.DeadLetters("slow")
	require.NoError(t, err, "the dead-letter list can still be read")
	d.Close() // a second Close returns at once
}

func TestCloseIdle(t *testing.T) {
	d, _ := newDispatcher(t)
	r := &recorder{}
	require.NoError(t, d.Register("a", jobs.Consumer{Handler: r.batchHandler(&syncBuffer{}), RetryDelay: time.Hour}))
	require.NoError(t, d.Register("b", jobs.Consumer{Handler: r.batchHandler(&syncBuffer{}), BatchWindow: time.Hour}))
	enqueue(t, d, "b", "waits for the window")
	done := make(chan struct{})
	go func() {
		d.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Close did not interrupt waiting loops")
	}
}

func TestRedrive(t *testing.T) {
	d, out := newDispatcher(t)
	broken := true
	r := &recorder{fail: func(events.SQSMessage) error {
		if broken {
			return errors.New("bug")
		}
		return nil
	}}
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out), RetryDelay: time.Millisecond, MaxReceiveCount: 1}))
	ids := enqueue(t, d, "q", "job")
	require.Eventually(t, func() bool {
		dead, err := d.DeadLetters("q")
		return err == nil && len(dead) == 1
	}, waitFor, time.Millisecond)

	r.mu.Lock()
	broken = false // the bug is fixed
	r.mu.Unlock()
	n, err := d.Redrive("q")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond)
	evs := r.Events()
	last := evs[len(evs)-1].Records[0]
	assert.Equal(t, ids[0], last.MessageId, "the same message")
	assert.Equal(t, "1", last.Attributes["ApproximateReceiveCount"], "its receive count starts again")
	dead, err := d.DeadLetters("q")
	require.NoError(t, err)
	assert.Empty(t, dead)
	n, err = d.Redrive("q")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestRegisterRejects(t *testing.T) {
	ok := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	tests := []struct {
		name  string
		queue string
		c     jobs.Consumer
		want  string
	}{
		{"empty name", "", jobs.Consumer{Handler: ok}, "1 to 80 characters"},
		{"long name", strings.Repeat("q", 81), jobs.Consumer{Handler: ok}, "1 to 80 characters"},
		{"bad character", "images.queue", jobs.Consumer{Handler: ok}, "letters, digits"},
		{"fifo", "orders.fifo", jobs.Consumer{Handler: ok}, "FIFO"},
		{"no handler", "q", jobs.Consumer{}, "no handler"},
		{"negative", "q", jobs.Consumer{Handler: ok, RetryDelay: -1}, "negative"},
		{"batch too big", "q", jobs.Consumer{Handler: ok, BatchSize: 11}, "BatchSize 11"},
		{"batch negative", "q", jobs.Consumer{Handler: ok, BatchSize: -1}, "BatchSize -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := newDispatcher(t)
			err := d.Register(tt.queue, tt.c)
			require.Errorf(t, err, "Register(%q) = nil, want an error", tt.queue)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	d, _ := newDispatcher(t)
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: ok}))
	require.ErrorContains(t, d.Register("q", jobs.Consumer{Handler: ok}), "already registered")
}

func TestEnqueueRejects(t *testing.T) {
	d, _ := newDispatcher(t)
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}}))
	tooMany := map[string]string{}
	for i := range 11 {
		tooMany["a"+strconv.Itoa(i)] = "v"
	}
	tests := []struct {
		name  string
		queue string
		body  []byte
		attrs map[string]string
		want  string
	}{
		{"unknown queue", "nope", []byte("x"), nil, "no such queue: nope"},
		{"empty body", "q", nil, nil, "empty"},
		{"not UTF-8", "q", []byte{0xff, 0xfe}, nil, "UTF-8"},
		{"too large", "q", bytes.Repeat([]byte("x"), jobs.MaxMessageBytes), nil, "more than 1048576"},
		{"too many attributes", "q", []byte("x"), tooMany, "more than 10"},
		{"empty attribute value", "q", []byte("x"), map[string]string{"k": ""}, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Enqueue(t.Context(), tt.queue, tt.body, tt.attrs)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	_, err := d.Enqueue(t.Context(), "nope", []byte("x"), nil)
	require.ErrorIs(t, err, jobs.ErrUnknownQueue)
	_, err = d.DeadLetters("nope")
	require.ErrorIs(t, err, jobs.ErrUnknownQueue)
	_, err = d.Redrive("nope")
	require.ErrorIs(t, err, jobs.ErrUnknownQueue)
}

func TestEnqueueKeepsAGivenCorrelationID(t *testing.T) {
	d, out := newDispatcher(t)
	r := &recorder{}
	require.NoError(t, d.Register("q", jobs.Consumer{Handler: r.batchHandler(out)}))
	_, err := d.Enqueue(t.Context(), "q", []byte("x"), map[string]string{"correlationId": "from-s3-event"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond)
	assert.Equal(t, "from-s3-event", out.waitLogs(t, "message processed", 1)[0]["correlationId"])
}

func TestQueueSend(t *testing.T) {
	d, out := newDispatcher(t)
	r := &recorder{}
	require.NoError(t, d.Register("thumbnails", jobs.Consumer{Handler: r.batchHandler(out)}))
	q := d.Queue("thumbnails")
	ctx := telemetry.NewContext(t.Context(), &telemetry.Invocation{CorrelationID: "corr-send", Logger: slog.Default()})
	type job struct {
		Key string `json:"key"`
	}
	require.NoError(t, q.Send(ctx, job{Key: "a"}))
	require.NoError(t, q.SendBatch(ctx, []any{job{Key: "b"}, job{Key: "c"}}))
	require.Eventually(t, func() bool { return len(r.Done()) == 3 }, waitFor, time.Millisecond)
	assert.ElementsMatch(t, []string{`{"key":"a"}`, `{"key":"b"}`, `{"key":"c"}`}, r.Done())
	for _, l := range out.waitLogs(t, "message processed", 3) {
		assert.Equal(t, "corr-send", l["correlationId"])
	}

	require.ErrorContains(t, q.Send(ctx, make(chan int)), "jobs.Send: encode the job")
	err := d.Queue("missing").SendBatch(ctx, []any{1})
	require.ErrorIs(t, err, jobs.ErrUnknownQueue)
	assert.ErrorContains(t, err, "jobs.SendBatch: job #0")
}

func TestQueuesAreIndependent(t *testing.T) {
	d, out := newDispatcher(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	require.NoError(t, d.Register("stuck", jobs.Consumer{Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		<-block
		return events.SQSEventResponse{}, nil
	}}))
	r := &recorder{}
	require.NoError(t, d.Register("free", jobs.Consumer{Handler: r.batchHandler(out)}))
	enqueue(t, d, "stuck", "x")
	enqueue(t, d, "free", "y")
	require.Eventually(t, func() bool { return len(r.Done()) == 1 }, waitFor, time.Millisecond,
		"a queue whose consumer is busy does not hold up another")
}
