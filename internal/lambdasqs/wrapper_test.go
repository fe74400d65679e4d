package lambdasqs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// worker is the registry entry the wrapper serves in these tests.
func worker() registry.Function {
	return registry.Function{Name: "image-worker", Timeout: 30 * time.Second}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// syncBuffer is an io.Writer safe for the wrapper's concurrent writers (the
// timeout timer logs from its own goroutine).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordingTransport is a sentry.Transport that keeps what it is given.
type recordingTransport struct {
	mu      sync.Mutex
	events  []*sentry.Event
	flushes int
}

var _ sentry.Transport = (*recordingTransport)(nil)

func (r *recordingTransport) Configure(sentry.ClientOptions) {}
func (r *recordingTransport) Close()                         {}

func (r *recordingTransport) SendEvent(e *sentry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recordingTransport) Flush(time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
	return true
}

func (r *recordingTransport) FlushWithContext(context.Context) bool { return r.Flush(0) }

func (r *recordingTransport) Events() []*sentry.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sentry.Event(nil), r.events...)
}

func (r *recordingTransport) Flushes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushes
}

// fixture is one wrapped handler and what it reports.
type fixture struct {
	out     *syncBuffer
	sentry  *recordingTransport
	handler lambdasqs.BatchHandler
}

// newFixture wraps h for worker with Sentry on; edit adjusts the options.
func newFixture(t *testing.T, h lambdasqs.Handler, edit func(*lambdasqs.Options)) *fixture {
	t.Helper()
	tr := &recordingTransport{}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: "https://public@example.com/1", Transport: tr})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	f := &fixture{out: &syncBuffer{}, sentry: tr}
	opts := lambdasqs.Options{Function: worker(), Stage: "test", LogLevel: slog.LevelInfo, Out: f.out, Sentry: client}
	if edit != nil {
		edit(&opts)
	}
	f.handler = lambdasqs.New(opts).Handler(h)
	return f
}

// invoke runs the wrapped handler on ev and checks that it never returns an
// error, which would make Lambda retry the whole batch.
func (f *fixture) invoke(t *testing.T, ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	t.Helper()
	var resp events.SQSEventResponse
	var err error
	require.NotPanics(t, func() { resp, err = f.handler(ctx, ev) })
	require.NoError(t, err)
	return resp
}

// lines returns the JSON lines written, logs and EMF alike.
func (f *fixture) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(f.out.String()) {
		var m map[string]any
		require.NoErrorf(t, json.Unmarshal([]byte(line), &m), "line %q is not JSON", line)
		out = append(out, m)
	}
	return out
}

// logs returns the log lines with message msg.
func (f *fixture) logs(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range f.lines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// emf returns the EMF lines.
func (f *fixture) emf(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range f.lines(t) {
		if _, ok := l["_aws"]; ok {
			out = append(out, l)
		}
	}
	return out
}

// message returns an SQS record with id, body and, if corr is not empty,
// the correlation id attribute.
func message(id, body, corr string) events.SQSMessage {
	m := events.SQSMessage{
		MessageId:      id,
		ReceiptHandle:  "rh-" + id,
		Body:           body,
		Attributes:     map[string]string{lambdasqs.ReceiveCountAttribute: "1"},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:images",
		AWSRegion:      "eu-west-1",
	}
	if corr != "" {
		m.MessageAttributes = map[string]events.SQSMessageAttribute{
			lambdasqs.CorrelationAttribute: {DataType: "String", StringValue: &corr},
		}
	}
	return m
}

// batchOf returns an event of n messages m1…mn with bodies b1…bn.
func batchOf(n int) events.SQSEvent {
	var ev events.SQSEvent
	for i := 1; i <= n; i++ {
		ev.Records = append(ev.Records, message("m"+strconv.Itoa(i), "b"+strconv.Itoa(i), "corr-"+strconv.Itoa(i)))
	}
	return ev
}

// failureIDs returns the message ids a response reports.
func failureIDs(resp events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestBatchSucceeds(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f := newFixture(t, func(ctx context.Context, msg events.SQSMessage) error {
		inv := telemetry.FromContext(ctx)
		inv.Logger.Info("working")
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, msg.Body+"/"+inv.CorrelationID)
		return nil
	}, nil)

	resp := f.invoke(t, t.Context(), batchOf(3))
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []string{"b1/corr-1", "b2/corr-2", "b3/corr-3"}, seen, "in order, each with its producer's correlation id")

	working := f.logs(t, "working")
	require.Len(t, working, 3)
	for i, l := range working {
		n := strconv.Itoa(i + 1)
		assert.Equal(t, "image-worker", l["function"])
		assert.Equal(t, "m"+n, l["messageId"])
		assert.Equal(t, "corr-"+n, l["correlationId"])
		assert.Equal(t, true, l["coldStart"])
		assert.Equal(t, 1.0, l["receiveCount"])
		assert.Regexp(t, generatedID, l["requestId"])
	}
	assert.Equal(t, working[0]["requestId"], working[2]["requestId"], "one invocation, one request id")
	assert.Len(t, f.logs(t, "message processed"), 3)
	assert.Empty(t, f.logs(t, "message received"), "debug lines are off")

	done := f.logs(t, "batch completed")
	require.Len(t, done, 1)
	assert.Equal(t, "INFO", done[0]["level"])
	assert.Equal(t, 3.0, done[0]["processed"])
	assert.Equal(t, 0.0, done[0]["failed"])

	emf := f.emf(t)
	require.Len(t, emf, 1, "one EMF line per batch")
	assert.Equal(t, 3.0, emf[0]["Processed"])
	assert.Equal(t, 0.0, emf[0]["Failed"])
	assert.Equal(t, 1.0, emf[0]["ColdStart"])
	assert.Contains(t, emf[0], "Latency")
	assert.Equal(t, "image-worker", emf[0]["Function"])
	assert.Equal(t, "test", emf[0]["Stage"])
	assert.Equal(t, 3.0, emf[0]["batchSize"])
	aws := emf[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, []any{[]any{"Function", "Stage"}}, aws["Dimensions"])

	f.invoke(t, t.Context(), batchOf(1))
	assert.Equal(t, false, f.logs(t, "working")[3]["coldStart"], "only the first batch is a cold start")
	assert.Equal(t, 0.0, f.emf(t)[1]["ColdStart"])
	assert.Empty(t, f.sentry.Events())
	assert.Zero(t, f.sentry.Flushes(), "nothing captured, nothing flushed")
}

func TestCorrelationID(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]events.SQSMessageAttribute
		want  string // empty: a generated id
	}{
		{"continued", map[string]events.SQSMessageAttribute{"correlationId": {DataType: "String", StringValue: ptr("Jx3kSiWaoAMEb7Q=")}}, "Jx3kSiWaoAMEb7Q="},
		{"absent", nil, ""},
		{"forged log line", map[string]events.SQSMessageAttribute{"correlationId": {DataType: "String", StringValue: ptr("a\nb")}}, ""},
		{"not a string", map[string]events.SQSMessageAttribute{"correlationId": {DataType: "Binary", BinaryValue: []byte("abc")}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			f := newFixture(t, func(ctx context.Context, _ events.SQSMessage) error {
				got = telemetry.FromContext(ctx).CorrelationID
				return nil
			}, nil)
			m := message("m1", "b", "")
			m.MessageAttributes = tt.attrs
			f.invoke(t, t.Context(), events.SQSEvent{Records: []events.SQSMessage{m}})
			if tt.want == "" {
				assert.Regexp(t, generatedID, got)
			} else {
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, got, f.logs(t, "message processed")[0]["correlationId"])
		})
	}
}

func ptr(s string) *string { return &s }

func TestPartialFailure(t *testing.T) {
	boom := fault.E("images.thumbnail", fault.Invalid, "not an image")
	f := newFixture(t, func(_ context.Context, msg events.SQSMessage) error {
		if msg.Body == "b2" || msg.Body == "b4" {
			return boom
		}
		return nil
	}, nil)

	resp := f.invoke(t, t.Context(), batchOf(5))
	assert.Equal(t, []string{"m2", "m4"}, failureIDs(resp), "only the failed messages are retried")

	failed := f.logs(t, "message failed")
	require.Len(t, failed, 2)
	assert.Equal(t, "ERROR", failed[0]["level"])
	assert.Equal(t, "m2", failed[0]["messageId"])
	assert.Equal(t, "corr-2", failed[0]["correlationId"])
	assert.Equal(t, boom.Error(), failed[0]["error"])
	assert.Equal(t, fault.Invalid.String(), failed[0]["errorKind"])
	assert.Len(t, f.logs(t, "message processed"), 3)

	done := f.logs(t, "batch completed")[0]
	assert.Equal(t, "WARN", done["level"])
	assert.Equal(t, 3.0, done["processed"])
	assert.Equal(t, 2.0, done["failed"])
	emf := f.emf(t)[0]
	assert.Equal(t, 3.0, emf["Processed"])
	assert.Equal(t, 2.0, emf["Failed"])

	evs := f.sentry.Events()
	require.Len(t, evs, 2, "each failure is reported")
	assert.Equal(t, "m2", evs[0].Tags["message_id"])
	assert.Equal(t, "corr-2", evs[0].Tags["correlation_id"])
	assert.Equal(t, "image-worker", evs[0].Tags["function"])
	assert.Equal(t, "1", evs[0].Tags["receive_count"])
	assert.Equal(t, 1, f.sentry.Flushes(), "flushed once per batch")
}

func TestPanicFailsOnlyThatMessage(t *testing.T) {
	const secret = "runtime error: password=hunter2"
	f := newFixture(t, func(_ context.Context, msg events.SQSMessage) error {
		if msg.Body == "b2" {
			panic(secret)
		}
		return nil
	}, nil)

	resp := f.invoke(t, t.Context(), batchOf(3))
	assert.Equal(t, []string{"m2"}, failureIDs(resp))

	p := f.logs(t, "handler panicked")
	require.Len(t, p, 1)
	assert.Equal(t, "corr-2", p[0]["correlationId"])
	assert.Equal(t, secret, p[0]["panic"])
	stack, _ := p[0]["stack"].(string)
	assert.Contains(t, stack, "wrapper_test.go", "the stack reaches the panicking handler")
	failed := f.logs(t, "message failed")
	require.Len(t, failed, 1)
	assert.Equal(t, "panic: "+secret, failed[0]["error"])
	assert.Len(t, f.logs(t, "message processed"), 2, "the messages after the panic still run")

	evs := f.sentry.Events()
	require.Len(t, evs, 1, "the panic is reported once")
	assert.Equal(t, sentry.LevelFatal, evs[0].Level)
	assert.Equal(t, "m2", evs[0].Tags["message_id"])
	assert.Equal(t, 1, f.sentry.Flushes())
}

func TestWithoutSentry(t *testing.T) {
	f := newFixture(t, func(_ context.Context, msg events.SQSMessage) error {
		if msg.Body == "b1" {
			panic("x")
		}
		return errors.New("y")
	}, func(o *lambdasqs.Options) { o.Sentry = nil })
	resp := f.invoke(t, t.Context(), batchOf(2))
	assert.Equal(t, []string{"m1", "m2"}, failureIDs(resp))
	assert.Len(t, f.logs(t, "message failed"), 2)
}

func TestDeadline(t *testing.T) {
	t.Run("too little time to start", func(t *testing.T) {
		calls := 0
		f := newFixture(t, func(context.Context, events.SQSMessage) error { calls++; return nil },
			func(o *lambdasqs.Options) { o.Reserve = time.Second })
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		resp := f.invoke(t, ctx, batchOf(3))
		assert.Zero(t, calls, "no message is started")
		assert.Equal(t, []string{"m1", "m2", "m3"}, failureIDs(resp), "all are returned for retry")
		warn := f.logs(t, "returning the rest of the batch for retry")
		require.Len(t, warn, 1, "one warning for the batch")
		assert.Equal(t, 3.0, warn[0]["messages"])
		assert.Contains(t, warn[0]["reason"], "reserve")
		emf := f.emf(t)[0]
		assert.Equal(t, 0.0, emf["Processed"])
		assert.Equal(t, 3.0, emf["Failed"])
		done := f.logs(t, "batch completed")[0]
		assert.Equal(t, 3.0, done["skipped"])
		assert.Empty(t, f.sentry.Events(), "skipping is not an error")
	})
	t.Run("the slowest message so far counts", func(t *testing.T) {
		var calls []string
		f := newFixture(t, func(_ context.Context, msg events.SQSMessage) error {
			calls = append(calls, msg.MessageId)
			time.Sleep(400 * time.Millisecond)
			return nil
		}, func(o *lambdasqs.Options) { o.Reserve = 10 * time.Millisecond })
		ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
		defer cancel()
		resp := f.invoke(t, ctx, batchOf(3))
		// After m1, about 300 ms are left: enough for the reserve alone,
		// not for another 400 ms message.
		assert.Equal(t, []string{"m1"}, calls)
		assert.Equal(t, []string{"m2", "m3"}, failureIDs(resp))
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := newFixture(t, func(context.Context, events.SQSMessage) error { cancel(); return nil }, nil)
		resp := f.invoke(t, ctx, batchOf(3))
		assert.Equal(t, []string{"m2", "m3"}, failureIDs(resp))
		assert.Contains(t, f.logs(t, "returning the rest of the batch for retry")[0]["reason"], "cancelled")
	})
	t.Run("warns before the timeout", func(t *testing.T) {
		f := newFixture(t, func(ctx context.Context, _ events.SQSMessage) error {
			<-ctx.Done()
			return ctx.Err()
		}, func(o *lambdasqs.Options) { o.Reserve = time.Millisecond })
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		resp := f.invoke(t, ctx, batchOf(1))
		assert.Equal(t, []string{"m1"}, failureIDs(resp))
		// The timer fires before the deadline but logs from a goroutine of
		// its own, which may not have run yet.
		require.Eventually(t, func() bool { return len(f.logs(t, "invocation is about to time out")) == 1 }, time.Second, time.Millisecond)
		warn := f.logs(t, "invocation is about to time out")
		assert.Equal(t, "image-worker", warn[0]["function"])
	})
}

func TestFIFOStopsAtTheFirstFailure(t *testing.T) {
	var calls []string
	f := newFixture(t, func(_ context.Context, msg events.SQSMessage) error {
		calls = append(calls, msg.MessageId)
		if msg.MessageId == "m2" {
			return errors.New("out of order would be wrong")
		}
		return nil
	}, nil)
	ev := batchOf(4)
	for i := range ev.Records {
		ev.Records[i].EventSourceARN = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"
	}
	resp := f.invoke(t, t.Context(), ev)
	assert.Equal(t, []string{"m1", "m2"}, calls, "nothing after the failure runs")
	assert.Equal(t, []string{"m2", "m3", "m4"}, failureIDs(resp))
	assert.Contains(t, f.logs(t, "returning the rest of the batch for retry")[0]["reason"], "FIFO")
}

func TestLambdaRequestID(t *testing.T) {
	f := newFixture(t, func(context.Context, events.SQSMessage) error { return nil }, nil)
	ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "req-42"})
	f.invoke(t, ctx, batchOf(1))
	assert.Equal(t, "req-42", f.logs(t, "message processed")[0]["requestId"])
	assert.Equal(t, "req-42", f.emf(t)[0]["requestId"])
}

func TestDebugSample(t *testing.T) {
	f := newFixture(t, func(context.Context, events.SQSMessage) error { return nil },
		func(o *lambdasqs.Options) { o.DebugSample = 1 })
	f.invoke(t, t.Context(), batchOf(2))
	recv := f.logs(t, "message received")
	require.Len(t, recv, 2, "every message is sampled")
	assert.Equal(t, "DEBUG", recv[0]["level"])
	assert.Equal(t, 2.0, recv[0]["bytes"])
}

func TestReceiveCount(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{{"1", 1}, {"3", 3}, {"", 0}, {"x", 0}}
	for _, tt := range tests {
		m := events.SQSMessage{Attributes: map[string]string{lambdasqs.ReceiveCountAttribute: tt.in}}
		got := lambdasqs.ReceiveCount(m)
		assert.Equalf(t, tt.want, got, "ReceiveCount(%q) = %d, want %d", tt.in, got, tt.want)
	}
	assert.Zero(t, lambdasqs.ReceiveCount(events.SQSMessage{}))
}

func TestEmptyBatch(t *testing.T) {
	f := newFixture(t, func(context.Context, events.SQSMessage) error { return nil }, nil)
	resp := f.invoke(t, t.Context(), events.SQSEvent{})
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, 0.0, f.emf(t)[0]["Processed"])
}

// failingWriter fails every write, as a closed stdout would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestUnwritableOutputDoesNotFailMessages(t *testing.T) {
	h := lambdasqs.New(lambdasqs.Options{Function: worker(), Out: failingWriter{}}).Handler(
		func(context.Context, events.SQSMessage) error { return nil })
	resp, err := h(t.Context(), batchOf(2))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures, "logs and metrics are best effort")
}

func TestNilOutput(t *testing.T) {
	h := lambdasqs.New(lambdasqs.Options{Function: worker()}).Handler(func(context.Context, events.SQSMessage) error { return nil })
	resp, err := h(t.Context(), batchOf(1))
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
}

// Example_worker shows the shape of a consumer's handler.
func Example_worker() {
	h := lambdasqs.New(lambdasqs.Options{Function: registry.Function{Name: "example"}}).Handler(
		func(ctx context.Context, msg events.SQSMessage) error {
			if msg.Body == "" {
				return errors.New("empty body")
			}
			return nil
		})
	resp, err := h(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "a", Body: "work"},
		{MessageId: "b"},
	}})
	fmt.Println(failureIDs(resp), err)
	// Output: [b] <nil>
}
