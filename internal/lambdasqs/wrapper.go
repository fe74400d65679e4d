// Package lambdasqs runs a queue consumer as one registry function, the same
// way in AWS Lambda (an SQS event source mapping with ReportBatchItemFailures
// on) and in the dev stack's in-process dispatcher (package jobs). The
// wrapper gives every message a correlation id continued from its producer,
// message-scoped JSON logs, a Sentry hub and panic recovery; reports the
// messages that failed so that only they are retried; writes EMF metrics per
// batch; and stops starting messages when the invocation is about to time
// out, so no consumer can forget any of it.
package lambdasqs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/getsentry/sentry-go"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// CorrelationAttribute is the String message attribute that carries the
// correlation id from the producer (sqsjobs.Queue sets it) to the consumer.
const CorrelationAttribute = "correlationId"

// ReceiveCountAttribute is the system attribute in which SQS counts the
// deliveries of a message, the first one included.
const ReceiveCountAttribute = "ApproximateReceiveCount"

// Handler processes one message. Returning an error (or panicking) fails
// the message alone: it becomes visible again after the queue's visibility
// timeout and, after the redrive policy's maxReceiveCount deliveries, moves
// to the dead-letter queue. A handler must therefore tolerate being run
// more than once for the same message; see Once.
type Handler func(ctx context.Context, msg events.SQSMessage) error

// BatchHandler is what Lambda invokes with a batch of messages: the wrapped
// Handler. Its response lists the messages to retry; its error is always
// nil, because an error would make Lambda retry the whole batch, including
// the messages that succeeded.
type BatchHandler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Default values of Options fields left zero.
const (
	DefaultReserve      = time.Second
	DefaultFlushTimeout = 2 * time.Second
)

// Options configures a Wrapper.
type Options struct {
	Function    registry.Function
	Stage       string
	LogLevel    slog.Level
	DebugSample float64 // fraction of messages logged at debug level
	Out         io.Writer
	Sentry      *sentry.Client // nil disables error reporting
	// Reserve is the time kept free at the end of an invocation: a message
	// is started only if at least Reserve plus the longest time a message
	// of this batch has taken so far remains before the deadline. The rest
	// are reported as failures, untouched, so they are retried rather than
	// cut off by the timeout (which would retry the whole batch). Zero means
	// DefaultReserve.
	Reserve time.Duration
	// FlushTimeout bounds the wait for Sentry delivery when the invocation
	// has no deadline; in Lambda the remaining time bounds it too. Zero
	// means DefaultFlushTimeout.
	FlushTimeout time.Duration
}

// Wrapper wraps the Handler of one queue-triggered registry function.
type Wrapper struct {
	opts    Options
	metrics *telemetry.Metrics
	base    *slog.Logger
	debug   *slog.Logger
	dims    map[string]string
	cold    atomic.Bool
}

// New returns a Wrapper for opts.Function. The first batch it handles is
// reported as a cold start.
func New(opts Options) *Wrapper {
	if opts.Reserve == 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	fn := slog.String("function", opts.Function.Name)
	w := &Wrapper{
		opts:    opts,
		metrics: telemetry.NewMetrics(opts.Out),
		base:    telemetry.NewLogger(opts.Out, opts.LogLevel, false).With(fn),
		debug:   telemetry.NewLogger(opts.Out, opts.LogLevel, true).With(fn),
		dims:    map[string]string{"Stage": opts.Stage, "Function": opts.Function.Name},
	}
	w.cold.Store(true)
	return w
}

// batch is the state of one invocation.
type batch struct {
	requestID string
	cold      bool
	hub       *sentry.Hub // shared by the messages' hubs for flushing; nil without Sentry
	captured  bool
	slowest   time.Duration
}

// outcome is how one message that was started ended. Messages not started
// are counted apart, as skipped.
type outcome int

const (
	succeeded outcome = iota
	failed
)

// Handler returns h wrapped as the function Lambda invokes.
func (w *Wrapper) Handler(h Handler) BatchHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		b := &batch{requestID: requestID(ctx), cold: w.cold.Swap(false)}
		log := w.base.With(slog.String("requestId", b.requestID), slog.Bool("coldStart", b.cold))
		if deadline, ok := ctx.Deadline(); ok {
			// Warn shortly before the deadline so a timeout leaves a trace
			// in the logs, not just Lambda's report.
			margin := min(time.Until(deadline)/10, 500*time.Millisecond)
			t := time.AfterFunc(time.Until(deadline)-margin, func() {
				log.Warn("invocation is about to time out", slog.Duration("remaining", time.Until(deadline)))
			})
			defer t.Stop()
		}

		var resp events.SQSEventResponse
		processed, failures, skips := 0, 0, 0
		stop := "" // why the remaining messages are not started
		for i, msg := range ev.Records {
			if stop == "" {
				stop = w.mustStop(ctx, b)
			}
			if stop != "" {
				skips++
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				if skips == 1 {
					log.Warn("returning the rest of the batch for retry",
						slog.String("reason", stop), slog.Int("messages", len(ev.Records)-i))
				}
				continue
			}
			switch w.process(ctx, b, h, msg) {
			case succeeded:
				processed++
			case failed:
				failures++
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				if isFIFO(msg) {
					// A FIFO queue keeps a message group in order only if
					// nothing after a failed message is processed before it.
					stop = "an earlier message of this FIFO batch failed"
				}
			}
		}

		elapsed := time.Since(start)
		level := slog.LevelInfo
		if failures+skips > 0 {
			level = slog.LevelWarn
		}
		log.LogAttrs(ctx, level, "batch completed",
			slog.Int("messages", len(ev.Records)),
			slog.Int("processed", processed),
			slog.Int("failed", failures),
			slog.Int("skipped", skips),
			slog.Float64("durationMs", ms(elapsed)),
		)
		w.emit(log, b, len(ev.Records), processed, failures+skips, elapsed)
		if b.captured {
			w.flush(ctx, b.hub)
		}
		return resp, nil
	}
}

// mustStop returns why no further message of the batch should start, or
// "" to go on.
func (w *Wrapper) mustStop(ctx context.Context, b *batch) string {
	if err := ctx.Err(); err != nil {
		return "the invocation was cancelled: " + err.Error()
	}
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < w.opts.Reserve+b.slowest {
			return fmt.Sprintf("%v left before the deadline, less than the %v reserve plus the slowest message's %v",
				left.Round(time.Millisecond), w.opts.Reserve, b.slowest.Round(time.Millisecond))
		}
	}
	return ""
}

// process runs h on one message inside its own invocation scope.
func (w *Wrapper) process(ctx context.Context, b *batch, h Handler, msg events.SQSMessage) outcome {
	start := time.Now()
	inv := &telemetry.Invocation{
		CorrelationID: correlationID(msg),
		RequestID:     b.requestID,
		Metrics:       w.metrics,
		Dimensions:    w.dims,
	}
	logger := w.base
	if w.opts.DebugSample > 0 && rand.Float64() < w.opts.DebugSample {
		logger = w.debug
	}
	receiveCount := ReceiveCount(msg)
	inv.Logger = logger.With(
		slog.String("requestId", b.requestID),
		slog.String("messageId", msg.MessageId),
		slog.String("correlationId", inv.CorrelationID),
		slog.Bool("coldStart", b.cold),
		slog.Int("receiveCount", receiveCount),
	)
	ctx = telemetry.NewContext(ctx, inv)
	var hub *sentry.Hub
	if w.opts.Sentry != nil {
		hub = sentry.NewHub(w.opts.Sentry, sentry.NewScope())
		hub.Scope().SetTag("function", w.opts.Function.Name)
		hub.Scope().SetTag("correlation_id", inv.CorrelationID)
		hub.Scope().SetTag("request_id", b.requestID)
		hub.Scope().SetTag("message_id", msg.MessageId)
		hub.Scope().SetTag("receive_count", strconv.Itoa(receiveCount))
		ctx = sentry.SetHubOnContext(ctx, hub)
		if b.hub == nil {
			b.hub = hub
		}
	}
	inv.Logger.Debug("message received", slog.Int("bytes", len(msg.Body)))

	panicked, err := w.call(ctx, h, msg, inv.Logger, hub, b)
	elapsed := time.Since(start)
	b.slowest = max(b.slowest, elapsed)
	if err == nil {
		inv.Logger.Info("message processed", slog.Float64("durationMs", ms(elapsed)))
		return succeeded
	}
	inv.RecordError(err)
	if hub != nil && !panicked {
		hub.CaptureException(err)
		b.captured = true
	}
	inv.Logger.Error("message failed",
		slog.Float64("durationMs", ms(elapsed)),
		slog.String("error", err.Error()),
		slog.String("errorKind", fault.KindOf(err).String()),
	)
	return failed
}

// call runs h, turning a panic into an error so that it fails this message
// only. The panic is logged with its stack and reported here, where the
// stack still leads to the handler.
func (w *Wrapper) call(ctx context.Context, h Handler, msg events.SQSMessage, log *slog.Logger, hub *sentry.Hub, b *batch) (panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked, err = true, fmt.Errorf("panic: %v", p)
			log.Error("handler panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if hub != nil {
				hub.RecoverWithContext(ctx, p)
				b.captured = true
			}
		}
	}()
	return false, h(ctx, msg)
}

// emit writes the batch's EMF line. Failed counts the messages returned for
// retry, whether they failed or were not started.
func (w *Wrapper) emit(log *slog.Logger, b *batch, size, processed, failed int, elapsed time.Duration) {
	cold := 0.0
	if b.cold {
		cold = 1
	}
	err := w.metrics.Emit(
		w.dims,
		map[string]any{"requestId": b.requestID, "batchSize": size},
		telemetry.Metric{Name: "Processed", Unit: telemetry.Count, Value: float64(processed)},
		telemetry.Metric{Name: "Failed", Unit: telemetry.Count, Value: float64(failed)},
		telemetry.Metric{Name: "Latency", Unit: telemetry.Milliseconds, Value: ms(elapsed)},
		telemetry.Metric{Name: "ColdStart", Unit: telemetry.Count, Value: cold},
	)
	if err != nil {
		log.Error("writing metrics failed", slog.String("error", err.Error()))
	}
}

// flush waits for Sentry delivery, bounded by the invocation's remaining
// time so that reporting an error can never turn it into a timeout. Hubs
// made from one client share its transport, so flushing one flushes all.
func (w *Wrapper) flush(ctx context.Context, hub *sentry.Hub) {
	timeout := w.opts.FlushTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-100*time.Millisecond)
	}
	if timeout > 0 {
		hub.Flush(timeout)
	}
}

// correlationID continues the producer's id, or starts one for messages
// sent without it (an S3 notification, a hand-made message) or with one
// that could forge log lines.
func correlationID(msg events.SQSMessage) string {
	if a, ok := msg.MessageAttributes[CorrelationAttribute]; ok && a.StringValue != nil && telemetry.ValidCorrelationID(*a.StringValue) {
		return *a.StringValue
	}
	return telemetry.NewID()
}

// ReceiveCount returns how many times msg has been delivered, this time
// included, or 0 if the event does not say.
func ReceiveCount(msg events.SQSMessage) int {
	n, err := strconv.Atoi(msg.Attributes[ReceiveCountAttribute])
	if err != nil {
		return 0
	}
	return n
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return telemetry.NewID()
}

// isFIFO reports whether msg comes from a FIFO queue, whose names end in
// .fifo.
func isFIFO(msg events.SQSMessage) bool { return strings.HasSuffix(msg.EventSourceARN, ".fifo") }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
