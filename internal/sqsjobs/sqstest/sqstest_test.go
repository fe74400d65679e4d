package sqstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/sqsjobs/sqstest"
)

func TestNewQueue(t *testing.T) {
	q := sqstest.NewQueue(t)
	assert.LessOrEqual(t, len(q.Name), 76, "room for the -dlq suffix within SQS's 80 characters")
	assert.True(t, strings.HasSuffix(q.URL, "/"+q.Name))
	assert.True(t, strings.HasSuffix(q.DLQURL, "/"+q.Name+"-dlq"))
	assert.True(t, strings.HasSuffix(q.ARN, ":"+q.Name))

	out, err := q.Client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	require.NoError(t, err)
	assert.Equal(t, "1", out.Attributes["VisibilityTimeout"])
	var policy struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &policy))
	assert.True(t, strings.HasSuffix(policy.DeadLetterTargetArn, ":"+q.Name+"-dlq"))
	assert.EqualValues(t, 3, policy.MaxReceiveCount)

	visible, inFlight := q.Counts(t, q.URL)
	assert.Zero(t, visible+inFlight, "a fresh queue is empty")
	other := sqstest.NewQueue(t)
	assert.NotEqual(t, q.URL, other.URL, "each call makes its own queue")
}

func TestPollWholeBatchFailure(t *testing.T) {
	q := sqstest.NewQueue(t)
	_, err := q.Client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("x")})
	require.NoError(t, err)
	var got []events.SQSMessage
	r := q.Poll(t, func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		got = ev.Records
		return events.SQSEventResponse{}, errors.New("init failed")
	})
	assert.Equal(t, sqstest.Round{Received: 1, Failed: 1}, r, "an error keeps every message")
	require.Len(t, got, 1)
	assert.Equal(t, "x", got[0].Body)
	assert.Equal(t, "aws:sqs", got[0].EventSource)
	assert.Equal(t, q.ARN, got[0].EventSourceARN)
	assert.Equal(t, "1", got[0].Attributes["ApproximateReceiveCount"])
	_, inFlight := q.Counts(t, q.URL)
	assert.Equal(t, 1, inFlight, "left to become visible again")
}

func TestPollEmpty(t *testing.T) {
	q := sqstest.NewQueue(t)
	called := false
	begin := time.Now()
	r := q.Poll(t, func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		called = true
		return events.SQSEventResponse{}, nil
	})
	assert.Equal(t, sqstest.Round{}, r)
	assert.False(t, called, "no event without messages")
	assert.Less(t, time.Since(begin), time.Second, "a short pause, not a long poll")
}
