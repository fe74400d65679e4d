// Package sqsjobs sends background jobs to SQS queues through aws-sdk-go-v2,
// carrying the sender's correlation id to the consumer in a message
// attribute, and keeps the consumers' deduplication records in DynamoDB
// (Deduper), so that a job delivered twice is done once.
package sqsjobs

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// API is the part of the SQS client a Queue calls.
type API interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ API = (*sqs.Client)(nil)

// NewClient returns an SQS client for region. A non-empty endpoint points
// it at a local SQS (local-aws-sqs) with static credentials, so nothing
// ever looks for real AWS credentials locally.
func NewClient(ctx context.Context, region, endpoint string, optFns ...func(*sqs.Options)) (*sqs.Client, error) {
	loads := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if endpoint != "" {
		loads = append(loads, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("sqsjobs: aws config: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*sqs.Options){func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }}, optFns...)
	}
	return sqs.NewFromConfig(cfg, optFns...), nil
}

// Limits of one SendMessageBatch call. The size limit is SQS's older one,
// which every SQS (and every emulator) accepts; SQS now takes 1 MiB.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 256 << 10
)

// entryOverhead is what chunks counts for an entry's message attributes
// besides its body: the correlationId attribute's name, type and a value
// of at most 128 characters, rounded up.
const entryOverhead = 256

// sendAttempts bounds how often SendBatch sends entries that SQS failed
// for a reason of its own (throttling, an internal error).
const sendAttempts = 4

// Queue sends JSON jobs to one SQS queue.
type Queue struct {
	client API
	url    string
	// backoff is the pause before retry n (1, 2, …) of failed entries.
	backoff func(n int) time.Duration
}

// New returns a Queue sending to the queue at url through client.
func New(client API, url string) *Queue {
	return &Queue{client: client, url: url, backoff: func(n int) time.Duration {
		return time.Duration(n*n) * 50 * time.Millisecond
	}}
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send sends body, encoded as JSON, with the correlation id of ctx's
// invocation as the correlationId message attribute, which the consumer's
// wrapper continues.
func (q *Queue) Send(ctx context.Context, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("sqsjobs.Send: encode the job: %w", err)
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(q.url),
		MessageBody:       aws.String(string(b)),
		MessageAttributes: attributes(ctx),
	})
	if err != nil {
		return fmt.Errorf("sqsjobs.Send: %w", err)
	}
	return nil
}

// BatchError reports the jobs of a SendBatch that were not sent, by their
// index in the bodies given, with the reason SQS gave for each.
type BatchError struct {
	Failed map[int]string
}

// Error lists the failed indexes and their reasons.
func (e *BatchError) Error() string {
	idx := make([]int, 0, len(e.Failed))
	for i := range e.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	parts := make([]string, 0, len(idx))
	for _, i := range idx {
		parts = append(parts, fmt.Sprintf("#%d: %s", i, e.Failed[i]))
	}
	return fmt.Sprintf("sqsjobs.SendBatch: %d of the jobs were not sent: %s", len(idx), strings.Join(parts, "; "))
}

// SendBatch sends each of bodies as Send does, in SendMessageBatch calls of
// at most MaxBatchEntries entries and MaxBatchBytes. Entries that SQS fails
// for its own reasons are sent again, a few times with a growing pause;
// entries it rejects as the sender's fault are not. Jobs that could not be
// sent are reported in a *BatchError; the others have been sent, so a caller
// that retries the whole batch sends them twice, which consumers tolerate
// (see lambdasqs.Once).
func (q *Queue) SendBatch(ctx context.Context, bodies []any) error {
	encoded := make([]string, len(bodies))
	for i, body := range bodies {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("sqsjobs.SendBatch: encode job #%d: %w", i, err)
		}
		encoded[i] = string(b)
	}
	attrs := attributes(ctx)
	failed := map[int]string{}
	for _, chunk := range chunks(encoded) {
		if err := q.sendChunk(ctx, encoded, chunk, attrs, failed); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &BatchError{Failed: failed}
	}
	return nil
}

// sendChunk sends the jobs at indexes idx, retrying the entries SQS failed
// for its own reasons, and records in failed those that were not sent.
func (q *Queue) sendChunk(ctx context.Context, encoded []string, idx []int, attrs map[string]types.MessageAttributeValue, failed map[int]string) error {
	pending := idx
	for attempt := 1; len(pending) > 0; attempt++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for _, i := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				MessageBody:       aws.String(encoded[i]),
				MessageAttributes: attrs,
			})
		}
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			// The SDK has already retried the call; what was not sent is
			// unknown, so the whole batch is reported.
			return fmt.Errorf("sqsjobs.SendBatch: %w", err)
		}
		var retry []int
		for _, f := range out.Failed {
			i, err := strconv.Atoi(aws.ToString(f.Id))
			if err != nil || !slices.Contains(pending, i) {
				return fmt.Errorf("sqsjobs.SendBatch: SQS reported a failure for an unknown entry %q", aws.ToString(f.Id))
			}
			reason := aws.ToString(f.Code) + ": " + aws.ToString(f.Message)
			if f.SenderFault || attempt == sendAttempts {
				failed[i] = reason
				continue
			}
			retry = append(retry, i)
		}
		pending = retry
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			for _, i := range pending {
				failed[i] = "not retried: " + ctx.Err().Error()
			}
			return nil
		case <-time.After(q.backoff(attempt)):
		}
	}
	return nil
}

// chunks splits the indexes of encoded into groups that fit one
// SendMessageBatch call. A job too large to share a call gets one of its
// own, where SQS judges it.
func chunks(encoded []string) [][]int {
	var out [][]int
	var cur []int
	size := 0
	for i, body := range encoded {
		if len(cur) > 0 && (len(cur) == MaxBatchEntries || size+len(body)+entryOverhead > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(body) + entryOverhead
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// attributes returns the message attributes every job carries.
func attributes(ctx context.Context) map[string]types.MessageAttributeValue {
	return map[string]types.MessageAttributeValue{
		lambdasqs.CorrelationAttribute: {
			DataType:    aws.String("String"),
			StringValue: aws.String(telemetry.FromContext(ctx).CorrelationID),
		},
	}
}
