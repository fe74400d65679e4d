package sqsjobs_test

// These tests run producers and consumers against local-aws-sqs, which
// implements visibility timeouts, receive counts and redrive to a
// dead-letter queue as SQS does, with sqstest's Poller standing in for
// Lambda's event source mapping.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/sqsjobs"
	"github.com/mountainhighway/marketplace/internal/sqsjobs/sqstest"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// syncBuffer collects the wrapper's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// logs returns the log lines with message msg.
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

// wrap wraps h as the Lambda function "test-worker" would be.
func wrap(h lambdasqs.Handler, out *syncBuffer) lambdasqs.BatchHandler {
	return lambdasqs.New(lambdasqs.Options{
		Function: registry.Function{Name: "test-worker"},
		Stage:    "test",
		LogLevel: slog.LevelInfo,
		Out:      out,
	}).Handler(h)
}

type job struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

func decode(t *testing.T, msg events.SQSMessage) job {
	t.Helper()
	var j job
	require.NoError(t, json.Unmarshal([]byte(msg.Body), &j))
	return j
}

// drain polls q until its messages are all gone (deleted or dead-lettered)
// or timeout passes, and returns the totals.
func drain(t *testing.T, q *sqstest.Queue, h lambdasqs.BatchHandler, timeout time.Duration) sqstest.Round {
	t.Helper()
	var total sqstest.Round
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r := q.Poll(t, h)
		total.Received += r.Received
		total.Failed += r.Failed
		total.Deleted += r.Deleted
		if r.Received == 0 {
			if visible, inFlight := q.Counts(t, q.URL); visible+inFlight == 0 {
				return total
			}
		}
	}
	t.Fatalf("the queue was not drained within %v; so far %+v", timeout, total)
	return total
}

func TestPoisonMessageReachesTheDeadLetterQueue(t *testing.T) {
	q := sqstest.NewQueue(t)
	producer := sqsjobs.New(q.Client, q.URL)
	bodies := make([]any, 10)
	for i := range bodies {
		bodies[i] = job{ID: "j", N: i}
	}
	require.NoError(t, producer.SendBatch(t.Context(), bodies))

	const poison = 7
	var mu sync.Mutex
	done := map[int]int{}
	var poisonReceives []int
	out := &syncBuffer{}
	h := wrap(func(_ context.Context, msg events.SQSMessage) error {
		j := decode(t, msg)
		mu.Lock()
		defer mu.Unlock()
		if j.N == poison {
			poisonReceives = append(poisonReceives, lambdasqs.ReceiveCount(msg))
			return errors.New("cannot process job 7")
		}
		done[j.N]++
		return nil
	}, out)

	begin := time.Now()
	total := drain(t, q, h, 30*time.Second)
	t.Logf("drained in %v: %+v", time.Since(begin), total)

	assert.Len(t, done, 9, "the nine good jobs are done")
	for n, count := range done {
		assert.Equalf(t, 1, count, "job %d done %d times", n, count)
	}
	assert.Equal(t, 9, total.Deleted, "and deleted")
	assert.Equal(t, []int{1, 2, 3}, poisonReceives, "the poison job is received maxReceiveCount times")
	assert.Equal(t, sqstest.MaxReceiveCount, total.Failed)

	dead := q.Receive(t, q.DLQURL, 0)
	require.Len(t, dead, 1, "the poison job is in the dead-letter queue")
	var j job
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(dead[0].Body)), &j))
	assert.Equal(t, poison, j.N)
	assert.NotEmpty(t, aws.ToString(dead[0].MessageAttributes[lambdasqs.CorrelationAttribute].StringValue),
		"it keeps its correlation id for whoever looks at it")
	assert.Len(t, out.logs(t, "message failed"), sqstest.MaxReceiveCount)
}

// counterAPI is what the duplicate test's side effect needs.
type counterAPI interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// increment adds one to the counter of id: work that is not idempotent.
func increment(ctx context.Context, db counterAPI, tableName, id string) error {
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(tableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "COUNTER#" + id},
			"SK": &types.AttributeValueMemberS{Value: "COUNTER"},
		},
		UpdateExpression:          aws.String("ADD #n :one"),
		ExpressionAttributeNames:  map[string]string{"#n": "n"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	return err
}

func TestDuplicateDeliveryChangesNothing(t *testing.T) {
	q := sqstest.NewQueue(t)
	db, tableName := dynamotest.NewTable(t)
	producer := sqsjobs.New(q.Client, q.URL)
	// The same job sent twice (a producer that retried), and another one.
	require.NoError(t, producer.Send(t.Context(), job{ID: "order-1"}))
	require.NoError(t, producer.Send(t.Context(), job{ID: "order-1"}))
	require.NoError(t, producer.Send(t.Context(), job{ID: "order-2"}))

	out := &syncBuffer{}
	byJobID := func(msg events.SQSMessage) (string, error) { return "count#" + decode(t, msg).ID, nil }
	h := wrap(lambdasqs.Once(sqsjobs.NewDeduper(db, tableName), time.Hour, byJobID,
		func(ctx context.Context, msg events.SQSMessage) error {
			return increment(ctx, db, tableName, decode(t, msg).ID)
		}), out)

	total := drain(t, q, h, 20*time.Second)
	assert.Equal(t, 3, total.Deleted, "all three messages are acknowledged")
	assert.Zero(t, total.Failed)

	for id, want := range map[string]string{"order-1": "1", "order-2": "1"} {
		got, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{
			TableName: aws.String(tableName),
			Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "COUNTER#" + id},
				"SK": &types.AttributeValueMemberS{Value: "COUNTER"},
			},
			ConsistentRead: aws.Bool(true),
		})
		require.NoError(t, err)
		assert.Equalf(t, &types.AttributeValueMemberN{Value: want}, got.Item["n"], "counter of %s", id)
	}
	dup := out.logs(t, "duplicate delivery skipped")
	require.Len(t, dup, 1)
	assert.Equal(t, "count#order-1", dup[0]["dedupKey"])
	visible, inFlight := q.Counts(t, q.DLQURL)
	assert.Zero(t, visible+inFlight, "nothing dead-lettered")
}

func TestCorrelationIDReachesTheConsumersLogs(t *testing.T) {
	q := sqstest.NewQueue(t)
	producer := sqsjobs.New(q.Client, q.URL)
	// As in an HTTP function: the wrapper has put the request's invocation
	// in the context.
	api := func(id string) context.Context {
		return telemetry.NewContext(t.Context(), &telemetry.Invocation{CorrelationID: id, Logger: slog.Default()})
	}
	require.NoError(t, producer.Send(api("req-single"), job{ID: "a"}))
	require.NoError(t, producer.SendBatch(api("req-batch"), []any{job{ID: "b"}, job{ID: "c"}}))

	out := &syncBuffer{}
	seen := map[string]string{}
	var mu sync.Mutex
	h := wrap(func(ctx context.Context, msg events.SQSMessage) error {
		inv := telemetry.FromContext(ctx)
		inv.Logger.Info("thumbnail written", slog.String("job", decode(t, msg).ID))
		mu.Lock()
		defer mu.Unlock()
		seen[decode(t, msg).ID] = inv.CorrelationID
		return nil
	}, out)
	drain(t, q, h, 20*time.Second)

	assert.Equal(t, map[string]string{"a": "req-single", "b": "req-batch", "c": "req-batch"}, seen)
	lines := out.logs(t, "thumbnail written")
	require.Len(t, lines, 3)
	for _, l := range lines {
		assert.Equal(t, seen[l["job"].(string)], l["correlationId"], "the handler's own log line carries the producer's id")
		assert.Equal(t, "test-worker", l["function"])
		assert.Equal(t, 1.0, l["receiveCount"])
	}
}
