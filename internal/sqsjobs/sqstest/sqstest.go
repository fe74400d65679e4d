// Package sqstest gives integration tests a fresh queue, with a dead-letter
// queue behind it, on local-aws-sqs, the faithful stand-in `make test`
// starts (see mh stack), and a Poller that feeds the queue to a consumer as
// Lambda's event source mapping does.
package sqstest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/sqsjobs"
)

// EndpointEnv names the variable mh stack sets to local-aws-sqs's URL.
const EndpointEnv = "MH_TEST_SQS_ENDPOINT"

// Settings of every queue NewQueue creates. The visibility timeout is short
// so that a failed message comes back within a second and a test of
// retries and redrive takes seconds.
const (
	MaxReceiveCount   = 3
	VisibilityTimeout = 1 * time.Second
)

// region is the region the test clients sign for; local-aws-sqs ignores it.
const region = "eu-west-1"

var seq atomic.Int64

// Endpoint returns local-aws-sqs's URL. Without it the test is skipped
// locally, and fails under CI=true: CI must never pass by skipping.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv(EndpointEnv)
	if ep == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: run the tests through `make test` (mh stack)", EndpointEnv)
		}
		tb.Skipf("%s is not set: run `make test` to start local-aws-sqs", EndpointEnv)
	}
	return ep
}

// Queue is a fresh queue and its dead-letter queue.
type Queue struct {
	Client *sqs.Client
	Name   string
	URL    string
	ARN    string
	DLQURL string
}

// NewQueue creates a uniquely named queue whose redrive policy moves a
// message to a dead-letter queue after MaxReceiveCount receives, with a
// VisibilityTimeout, and deletes both when the test ends. optFns adjust the
// client.
func NewQueue(tb testing.TB, optFns ...func(*sqs.Options)) *Queue {
	tb.Helper()
	ep := Endpoint(tb)
	ctx := context.Background()
	client, err := sqsjobs.NewClient(ctx, region, ep, optFns...)
	if err != nil {
		tb.Fatal(err)
	}
	// Names are at most 80 characters of letters, digits, - and _.
	name := fmt.Sprintf("q-%s-%d-%d", sanitize(tb.Name()), time.Now().UnixNano()%1e9, seq.Add(1))
	if len(name) > 76 {
		name = name[len(name)-76:]
	}
	dlq := createQueue(tb, client, name+"-dlq", nil)
	dlqARN := queueARN(tb, client, dlq)
	policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": MaxReceiveCount})
	if err != nil {
		tb.Fatal(err)
	}
	url := createQueue(tb, client, name, map[string]string{
		string(types.QueueAttributeNameRedrivePolicy):     string(policy),
		string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(VisibilityTimeout / time.Second)),
	})
	return &Queue{Client: client, Name: name, URL: url, ARN: queueARN(tb, client, url), DLQURL: dlq}
}

func createQueue(tb testing.TB, client *sqs.Client, name string, attrs map[string]string) string {
	tb.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		tb.Fatalf("sqstest: create queue %s: %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	tb.Cleanup(func() {
		if _, err := client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			tb.Errorf("sqstest: delete queue %s: %v", name, err)
		}
	})
	return url
}

func queueARN(tb testing.TB, client *sqs.Client, url string) string {
	tb.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		tb.Fatalf("sqstest: queue ARN of %s: %v", url, err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)]
}

// Counts returns how many messages the queue holds, visible and in flight.
func (q *Queue) Counts(tb testing.TB, url string) (visible, inFlight int) {
	tb.Helper()
	out, err := q.Client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		tb.Fatalf("sqstest: counts of %s: %v", url, err)
	}
	n := func(name types.QueueAttributeName) int {
		v, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			tb.Fatalf("sqstest: %s of %s is %q", name, url, out.Attributes[string(name)])
		}
		return v
	}
	return n(types.QueueAttributeNameApproximateNumberOfMessages), n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
}

// Receive takes up to 10 messages from url, with their receive counts and
// all message attributes, long-polling for up to wait (whole seconds).
//
// local-aws-sqs's long poll differs from SQS's: it waits the whole wait to
// fill the batch rather than returning once messages are there, and a
// message whose visibility timeout expires meanwhile is added to the same
// response a second time. Keep wait below the queue's visibility timeout,
// or zero, as Poll does.
func (q *Queue) Receive(tb testing.TB, url string, wait time.Duration) []types.Message {
	tb.Helper()
	out, err := q.Client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         10,
		WaitTimeSeconds:             int32(wait / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		//lint:ignore SA1019 local-aws-sqs ignores MessageSystemAttributeNames and still answers to the deprecated field
		AttributeNames:        []types.QueueAttributeName{types.QueueAttributeName(lambdasqs.ReceiveCountAttribute)},
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		tb.Fatalf("sqstest: receive from %s: %v", url, err)
	}
	return out.Messages
}

// Round is what one Poll did.
type Round struct {
	Received int
	Failed   int // reported by the consumer and left to become visible again
	Deleted  int
}

// emptyPause is how long Poll pauses after finding no message, standing in
// for the long poll it cannot use on local-aws-sqs (see Receive).
const emptyPause = 100 * time.Millisecond

// Poll does what Lambda's event source mapping does once, with
// ReportBatchItemFailures on: it receives a batch of up to 10 messages
// (pausing briefly if there is none), invokes h with it as an
// events.SQSEvent, and deletes the messages h did not report as failures.
// An error returned by h fails the whole batch, as in Lambda. h runs with
// tb's context.
func (q *Queue) Poll(tb testing.TB, h lambdasqs.BatchHandler) Round {
	tb.Helper()
	msgs := q.Receive(tb, q.URL, 0)
	if len(msgs) == 0 {
		time.Sleep(emptyPause)
		return Round{}
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		ev.Records = append(ev.Records, Event(m, q.ARN))
	}
	resp, err := h(tb.Context(), ev)
	round := Round{Received: len(msgs)}
	failed := map[string]bool{}
	if err != nil {
		for _, m := range msgs {
			failed[aws.ToString(m.MessageId)] = true
		}
	}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			round.Failed++
			continue
		}
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(entries) > 0 {
		out, err := q.Client.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			tb.Fatalf("sqstest: delete: %v", err)
		}
		if len(out.Failed) > 0 {
			tb.Fatalf("sqstest: delete failed for %d messages: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		round.Deleted = len(out.Successful)
	}
	return round
}

// Event converts a received message into the record Lambda would deliver.
func Event(m types.Message, arn string) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSource:            "aws:sqs",
		EventSourceARN:         arn,
		AWSRegion:              region,
	}
	for k, v := range m.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: v.StringListValues,
			BinaryListValues: v.BinaryListValues,
			DataType:         aws.ToString(v.DataType),
		}
	}
	return rec
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
