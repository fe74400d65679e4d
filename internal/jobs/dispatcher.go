// Package jobs is the embedded stack's in-process stand-in for SQS queues
// and Lambda's SQS event source mapping, so that `make dev` runs background
// jobs without any AWS service or emulator. Each registered queue delivers
// real events.SQSEvent batches to the same wrapped handler (a
// lambdasqs.BatchHandler) its Lambda function runs, honours the partial
// batch failures it reports, delivers failed messages again after a delay
// with ApproximateReceiveCount incremented, and moves a message that has
// failed maxReceiveCount times to the queue's dead-letter list.
//
// It is deliberately simpler than SQS: messages live in memory and are
// lost when the process ends, each queue delivers one batch at a time, a
// message is never delivered twice unless it failed, and FIFO queues are
// not supported. The faithful behaviour is tested against local-aws-sqs
// (see package sqsjobs).
package jobs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Errors returned by a Dispatcher.
var (
	ErrClosed       = errors.New("jobs: the dispatcher is closed")
	ErrUnknownQueue = errors.New("jobs: no such queue")
)

// Limits SQS enforces, enforced here too so that what works under make dev
// also works in AWS.
const (
	MaxBatchSize    = 10      // messages in one event, for a standard queue without a batching window
	MaxMessageBytes = 1 << 20 // body plus attributes
	MaxAttributes   = 10      // message attributes per message
)

// Default values of Consumer fields left zero.
const (
	DefaultMaxReceiveCount = 3
	DefaultRetryDelay      = time.Second
	DefaultTimeout         = 30 * time.Second
)

// region and account make the event source ARN look like a real one.
const (
	region  = "local"
	account = "000000000000"
)

// Consumer is the function a queue's messages are delivered to, and how.
type Consumer struct {
	// Handler is the wrapped handler, as Lambda would invoke it.
	Handler lambdasqs.BatchHandler
	// MaxReceiveCount is the redrive policy's: a message that has failed
	// this many deliveries moves to the dead-letter list. Zero means
	// DefaultMaxReceiveCount.
	MaxReceiveCount int
	// RetryDelay is how long after a failed delivery the message is
	// delivered again, standing in for the visibility timeout. Zero means
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// BatchSize is the most messages one event carries, 1 to MaxBatchSize.
	// Zero means MaxBatchSize.
	BatchSize int
	// BatchWindow, like the event source mapping's maximum batching window,
	// is how long a batch that is not full waits for more messages. Zero
	// delivers whatever is there at once.
	BatchWindow time.Duration
	// Timeout is the deadline of each invocation, like the function's
	// timeout. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Options configures a Dispatcher.
type Options struct {
	// Logger receives the dispatcher's own lines: dead-lettered messages,
	// whole-batch failures, messages dropped by Close. Nil discards them.
	Logger *slog.Logger
}

// DeadLetter is a message that failed MaxReceiveCount deliveries.
type DeadLetter struct {
	Queue string
	// Message is the record as it was last delivered.
	Message events.SQSMessage
	At      time.Time
}

// Dispatcher delivers the messages of its registered queues. Its methods
// are safe for concurrent use.
type Dispatcher struct {
	log    *slog.Logger
	mu     sync.Mutex
	queues map[string]*queue
	closed bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// New returns a Dispatcher with no queues.
func New(opts Options) *Dispatcher {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Dispatcher{log: log, queues: map[string]*queue{}, done: make(chan struct{})}
}

// queue is one registered queue: its messages and its dead-letter list.
type queue struct {
	name    string
	arn     string
	c       Consumer
	mu      sync.Mutex
	pending []*message // in the order they were sent or failed
	dead    []DeadLetter
	wake    chan struct{} // signalled when pending changes
}

// message is one message in a queue.
type message struct {
	id           string
	body         string
	md5          string
	attrs        map[string]events.SQSMessageAttribute
	sent         time.Time
	firstReceive time.Time
	receives     int
	due          time.Time // when it may be delivered: when sent, or after a failure when the retry delay ends
}

// Register starts delivering the messages of queue name to c.Handler, one
// batch at a time.
func (d *Dispatcher) Register(name string, c Consumer) error {
	if err := validQueueName(name); err != nil {
		return err
	}
	if c.Handler == nil {
		return fmt.Errorf("jobs: queue %s: no handler", name)
	}
	if c.MaxReceiveCount < 0 || c.RetryDelay < 0 || c.BatchWindow < 0 || c.Timeout < 0 {
		return fmt.Errorf("jobs: queue %s: negative MaxReceiveCount, RetryDelay, BatchWindow or Timeout", name)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("jobs: queue %s: BatchSize %d is not between 1 and %d", name, c.BatchSize, MaxBatchSize)
	}
	c.MaxReceiveCount = or(c.MaxReceiveCount, DefaultMaxReceiveCount)
	c.RetryDelay = or(c.RetryDelay, DefaultRetryDelay)
	c.BatchSize = or(c.BatchSize, MaxBatchSize)
	c.Timeout = or(c.Timeout, DefaultTimeout)

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.queues[name]; ok {
		return fmt.Errorf("jobs: queue %s is already registered", name)
	}
	q := &queue{
		name: name,
		arn:  "arn:aws:sqs:" + region + ":" + account + ":" + name,
		c:    c,
		wake: make(chan struct{}, 1),
	}
	d.queues[name] = q
	d.wg.Add(1)
	go d.run(q)
	return nil
}

// validQueueName applies SQS's rules for queue names, and refuses FIFO
// queues, whose ordering the dispatcher does not implement.
func validQueueName(name string) error {
	if name == "" || len(name) > 80 {
		return fmt.Errorf("jobs: queue name %q must have 1 to 80 characters", name)
	}
	if strings.HasSuffix(name, ".fifo") {
		return fmt.Errorf("jobs: queue %s: FIFO queues are not supported in process", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("jobs: queue name %q may only contain letters, digits, - and _", name)
		}
	}
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// queue returns the registered queue name; unless readOnly, not after
// Close.
func (d *Dispatcher) queue(name string, readOnly bool) (*queue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed && !readOnly {
		return nil, ErrClosed
	}
	q, ok := d.queues[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownQueue, name)
	}
	return q, nil
}

// Enqueue adds a message with body and String message attributes attrs to
// queue and returns its message id. Unless attrs sets it, the
// correlationId attribute is the correlation id of ctx's invocation, as
// sqsjobs.Queue sends it. The body and attributes are checked against
// SQS's rules, so that a message SQS would refuse is refused here too.
func (d *Dispatcher) Enqueue(ctx context.Context, queue string, body []byte, attrs map[string]string) (string, error) {
	q, err := d.queue(queue, false)
	if err != nil {
		return "", err
	}
	m, err := newMessage(ctx, body, attrs)
	if err != nil {
		return "", fmt.Errorf("jobs: queue %s: %w", queue, err)
	}
	q.mu.Lock()
	q.pending = append(q.pending, m)
	q.mu.Unlock()
	q.signal()
	return m.id, nil
}

// newMessage checks and builds a message sent now.
func newMessage(ctx context.Context, body []byte, attrs map[string]string) (*message, error) {
	if len(body) == 0 {
		return nil, errors.New("the message body is empty")
	}
	if !utf8.Valid(body) {
		return nil, errors.New("the message body is not valid UTF-8")
	}
	now := time.Now()
	m := &message{
		id:    newUUID(),
		body:  string(body),
		attrs: map[string]events.SQSMessageAttribute{},
		sent:  now,
		due:   now, // the batching window counts from here
	}
	sum := md5.Sum(body)
	m.md5 = hex.EncodeToString(sum[:])
	size := len(body)
	for k, v := range attrs {
		if k == "" || v == "" {
			return nil, fmt.Errorf("message attribute %q: names and values must not be empty", k)
		}
		m.attrs[k] = stringAttribute(v)
		size += len(k) + len(v) + len("String")
	}
	if _, ok := m.attrs[lambdasqs.CorrelationAttribute]; !ok {
		id := telemetry.FromContext(ctx).CorrelationID
		m.attrs[lambdasqs.CorrelationAttribute] = stringAttribute(id)
		size += len(lambdasqs.CorrelationAttribute) + len(id) + len("String")
	}
	if len(m.attrs) > MaxAttributes {
		return nil, fmt.Errorf("%d message attributes, more than %d", len(m.attrs), MaxAttributes)
	}
	if size > MaxMessageBytes {
		return nil, fmt.Errorf("the message is %d bytes, more than %d", size, MaxMessageBytes)
	}
	return m, nil
}

func stringAttribute(v string) events.SQSMessageAttribute {
	return events.SQSMessageAttribute{DataType: "String", StringValue: &v}
}

// newUUID returns a random version 4 UUID, the form of SQS message ids.
func newUUID() string {
	id := telemetry.NewID() // 32 random hex digits
	b := []byte(id)
	b[12] = '4'
	b[16] = "89ab"[strings.IndexByte("0123456789abcdef", b[16])%4]
	return string(b[:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]) + "-" + string(b[16:20]) + "-" + string(b[20:])
}

// signal wakes the queue's delivery loop if it is waiting.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run is a queue's delivery loop.
func (d *Dispatcher) run(q *queue) {
	defer d.wg.Done()
	for {
		select {
		case <-d.done:
			d.dropPending(q)
			return
		default:
		}
		batch, wait := q.take(time.Now())
		if len(batch) > 0 {
			d.deliver(q, batch)
			continue
		}
		// A nil channel never fires: with nothing pending, only Enqueue,
		// Redrive or Close wake the loop.
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-d.done:
		case <-q.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// take removes and returns the next batch if one is ready at now.
// Otherwise it returns how long to wait before one may be, or 0 when no
// message is pending.
func (q *queue) take(now time.Time) ([]*message, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []int
	var firstDue, nextLater time.Time
	for i, m := range q.pending {
		if m.due.After(now) {
			if nextLater.IsZero() || m.due.Before(nextLater) {
				nextLater = m.due
			}
			continue
		}
		if len(due) < q.c.BatchSize {
			due = append(due, i)
		}
		if firstDue.IsZero() || m.due.Before(firstDue) {
			firstDue = m.due
		}
	}
	if len(due) == 0 {
		if nextLater.IsZero() {
			return nil, 0
		}
		return nil, nextLater.Sub(now)
	}
	if len(due) < q.c.BatchSize && q.c.BatchWindow > 0 {
		// The batch is not full: wait for more until the oldest ready
		// message has waited a whole window.
		if closes := firstDue.Add(q.c.BatchWindow); closes.After(now) {
			wait := closes.Sub(now)
			if !nextLater.IsZero() {
				wait = min(wait, nextLater.Sub(now))
			}
			return nil, wait
		}
	}
	batch := make([]*message, 0, len(due))
	for _, i := range due {
		batch = append(batch, q.pending[i])
	}
	q.pending = slices.DeleteFunc(q.pending, func(m *message) bool { return slices.Contains(batch, m) })
	return batch, 0
}

// deliver invokes the consumer with batch and puts back, or dead-letters,
// the messages that failed.
func (d *Dispatcher) deliver(q *queue, batch []*message) {
	now := time.Now()
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(batch))}
	for _, m := range batch {
		m.receives++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		ev.Records = append(ev.Records, q.record(m))
	}
	requestID := newUUID()
	ctx, cancel := context.WithTimeout(context.Background(), q.c.Timeout)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: "arn:aws:lambda:" + region + ":" + account + ":function:" + q.name,
	})
	resp, err := invoke(ctx, q.c.Handler, ev)
	cancel()

	failed := map[string]bool{}
	if err == nil {
		for _, f := range resp.BatchItemFailures {
			if !slices.ContainsFunc(batch, func(m *message) bool { return m.id == f.ItemIdentifier }) {
				// Lambda fails the whole batch when a reported id is not in it.
				err = fmt.Errorf("the response reports a failure of message %q, which is not in the batch", f.ItemIdentifier)
				break
			}
			failed[f.ItemIdentifier] = true
		}
	}
	if err != nil {
		d.log.Error("the whole batch failed and will be delivered again",
			slog.String("queue", q.name), slog.String("requestId", requestID),
			slog.Int("messages", len(batch)), slog.String("error", err.Error()))
		for _, m := range batch {
			failed[m.id] = true
		}
	}

	retryAt := time.Now().Add(q.c.RetryDelay)
	q.mu.Lock()
	for i, m := range batch {
		if !failed[m.id] {
			continue // done: SQS would delete it
		}
		if m.receives >= q.c.MaxReceiveCount {
			q.dead = append(q.dead, DeadLetter{Queue: q.name, Message: ev.Records[i], At: time.Now()})
			d.log.Warn("message moved to the dead-letter list",
				slog.String("queue", q.name), slog.String("messageId", m.id),
				slog.Int("receiveCount", m.receives),
				slog.String("correlationId", deref(m.attrs[lambdasqs.CorrelationAttribute].StringValue)))
			continue
		}
		m.due = retryAt
		q.pending = append(q.pending, m)
	}
	q.mu.Unlock()
}

// invoke calls h, turning a panic that escaped it into an error, as Lambda
// turns a crashed runtime into a failed invocation, so that a bug cannot
// end the dev server.
func invoke(ctx context.Context, h lambdasqs.BatchHandler, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the handler panicked: %v", p)
		}
	}()
	return h(ctx, ev)
}

// record returns m as the record of an event.
func (q *queue) record(m *message) events.SQSMessage {
	attrs := make(map[string]events.SQSMessageAttribute, len(m.attrs))
	for k, v := range m.attrs {
		attrs[k] = v
	}
	return events.SQSMessage{
		MessageId:     m.id,
		ReceiptHandle: telemetry.NewID(),
		Body:          m.body,
		Md5OfBody:     m.md5,
		Attributes: map[string]string{
			lambdasqs.ReceiveCountAttribute:    strconv.Itoa(m.receives),
			"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
			"SenderId":                         "local",
		},
		MessageAttributes: attrs,
		EventSource:       "aws:sqs",
		EventSourceARN:    q.arn,
		AWSRegion:         region,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dropPending logs the messages Close leaves undelivered.
func (d *Dispatcher) dropPending(q *queue) {
	q.mu.Lock()
	n := len(q.pending)
	q.pending = nil
	q.mu.Unlock()
	if n > 0 {
		d.log.Warn("dispatcher closed with undelivered messages; they are lost", slog.String("queue", q.name), slog.Int("messages", n))
	}
}

// DeadLetters returns the dead-letter list of queue, oldest first. It
// works after Close too, so that a shutting-down dev server can report it.
func (d *Dispatcher) DeadLetters(queue string) ([]DeadLetter, error) {
	q, err := d.queue(queue, true)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.dead), nil
}

// Redrive moves every message of queue's dead-letter list back to the
// queue, with its receive count reset, as SQS's dead-letter queue redrive
// does, and returns how many it moved.
func (d *Dispatcher) Redrive(queue string) (int, error) {
	q, err := d.queue(queue, false)
	if err != nil {
		return 0, err
	}
	q.mu.Lock()
	dead := q.dead
	q.dead = nil
	now := time.Now()
	for _, dl := range dead {
		m := &message{
			id:    dl.Message.MessageId,
			body:  dl.Message.Body,
			md5:   dl.Message.Md5OfBody,
			attrs: dl.Message.MessageAttributes,
			sent:  now,
			due:   now,
		}
		q.pending = append(q.pending, m)
	}
	q.mu.Unlock()
	q.signal()
	return len(dead), nil
}

// Close stops delivering: it waits for the batches being handled to finish
// and drops the messages not yet delivered (logging how many). Register,
// Enqueue and Redrive return ErrClosed afterwards. Close may be called more
// than once.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.done)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// Queue returns a sender of JSON jobs to queue name, with the same methods
// as sqsjobs.Queue, so that code written against either runs under make
// dev and in AWS alike. The queue need not be registered yet.
func (d *Dispatcher) Queue(name string) *Queue { return &Queue{d: d, name: name} }

// Queue sends JSON jobs to one queue of a Dispatcher.
type Queue struct {
	d    *Dispatcher
	name string
}

// Send enqueues body encoded as JSON, with the correlation id of ctx.
func (q *Queue) Send(ctx context.Context, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("jobs.Send: encode the job: %w", err)
	}
	if _, err := q.d.Enqueue(ctx, q.name, b, nil); err != nil {
		return fmt.Errorf("jobs.Send: %w", err)
	}
	return nil
}

// SendBatch sends each of bodies as Send does, stopping at the first error.
func (q *Queue) SendBatch(ctx context.Context, bodies []any) error {
	for i, body := range bodies {
		if err := q.Send(ctx, body); err != nil {
			return fmt.Errorf("jobs.SendBatch: job #%d: %w", i, err)
		}
	}
	return nil
}
