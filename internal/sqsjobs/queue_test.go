package sqsjobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// fakeSQS records the calls a Queue makes and answers each batch call with
// the next of failures (entry id → failure), success once they run out.
type fakeSQS struct {
	mu       sync.Mutex
	sends    []*sqs.SendMessageInput
	batches  []*sqs.SendMessageBatchInput
	failures []map[string]types.BatchResultErrorEntry
	bogus    []types.BatchResultErrorEntry // reported as well, whatever was sent
	err      error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m-" + strconv.Itoa(len(f.sends)))}, nil
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, in)
	if f.err != nil {
		return nil, f.err
	}
	var fail map[string]types.BatchResultErrorEntry
	if len(f.failures) > 0 {
		fail, f.failures = f.failures[0], f.failures[1:]
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if fe, ok := fail[aws.ToString(e.Id)]; ok {
			fe.Id = e.Id
			out.Failed = append(out.Failed, fe)
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + aws.ToString(e.Id))})
	}
	out.Failed = append(out.Failed, f.bogus...)
	return out, nil
}

// newTestQueue returns a Queue on f that retries without pausing.
func newTestQueue(f *fakeSQS) *Queue {
	q := New(f, "http://sqs.local/123/jobs")
	q.backoff = func(int) time.Duration { return 0 }
	return q
}

// withCorrelation returns a context carrying an invocation with id.
func withCorrelation(ctx context.Context, id string) context.Context {
	return telemetry.NewContext(ctx, &telemetry.Invocation{CorrelationID: id, Logger: slog.Default()})
}

type job struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

func TestSend(t *testing.T) {
	f := &fakeSQS{}
	q := newTestQueue(f)
	assert.Equal(t, "http://sqs.local/123/jobs", q.URL())
	require.NoError(t, q.Send(withCorrelation(t.Context(), "corr-1"), job{ID: "a", N: 1}))
	require.Len(t, f.sends, 1)
	in := f.sends[0]
	assert.Equal(t, "http://sqs.local/123/jobs", aws.ToString(in.QueueUrl))
	assert.JSONEq(t, `{"id":"a","n":1}`, aws.ToString(in.MessageBody))
	attr := in.MessageAttributes["correlationId"]
	assert.Equal(t, "String", aws.ToString(attr.DataType))
	assert.Equal(t, "corr-1", aws.ToString(attr.StringValue))

	require.NoError(t, q.Send(t.Context(), job{ID: "b"}))
	assert.Regexp(t, `^[0-9a-f]{32}$`, aws.ToString(f.sends[1].MessageAttributes["correlationId"].StringValue),
		"outside an invocation a fresh id is sent")
}

func TestSendErrors(t *testing.T) {
	f := &fakeSQS{}
	q := newTestQueue(f)
	err := q.Send(t.Context(), make(chan int))
	require.ErrorContains(t, err, "sqsjobs.Send: encode the job")
	assert.Empty(t, f.sends, "nothing is sent")

	boom := errors.New("throttled")
	f.err = boom
	err = q.Send(t.Context(), job{})
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "sqsjobs.Send:")
}

// bodies returns n jobs with ids j0…j(n-1).
func bodies(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = job{ID: "j" + strconv.Itoa(i), N: i}
	}
	return out
}

// sentIDs returns the entry ids of every batch call, one slice per call.
func (f *fakeSQS) sentIDs() [][]string {
	var out [][]string
	for _, b := range f.batches {
		var ids []string
		for _, e := range b.Entries {
			ids = append(ids, aws.ToString(e.Id))
		}
		out = append(out, ids)
	}
	return out
}

func TestSendBatchChunks(t *testing.T) {
	f := &fakeSQS{}
	q := newTestQueue(f)
	require.NoError(t, q.SendBatch(withCorrelation(t.Context(), "corr-b"), bodies(23)))
	assert.Equal(t, [][]string{
		{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		{"10", "11", "12", "13", "14", "15", "16", "17", "18", "19"},
		{"20", "21", "22"},
	}, f.sentIDs())
	e := f.batches[2].Entries[1]
	var got job
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &got))
	assert.Equal(t, job{ID: "j21", N: 21}, got)
	assert.Equal(t, "corr-b", aws.ToString(e.MessageAttributes["correlationId"].StringValue))

	f.batches = nil
	require.NoError(t, q.SendBatch(t.Context(), nil))
	assert.Empty(t, f.batches, "no call for no jobs")
}

func TestSendBatchChunksBySize(t *testing.T) {
	f := &fakeSQS{}
	q := newTestQueue(f)
	big := strings.Repeat("x", 100<<10)
	require.NoError(t, q.SendBatch(t.Context(), []any{big, big, big, "small", strings.Repeat("y", 300<<10)}))
	assert.Equal(t, [][]string{{"0", "1"}, {"2", "3"}, {"4"}}, f.sentIDs(),
		"at most 256 KiB a call; an oversized job goes alone")
}

func TestChunksRespectTheLimits(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		want  [][]int
	}{
		{"empty", nil, nil},
		{"one", []int{10}, [][]int{{0}}},
		{"exactly ten", make([]int, 10), [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{"eleven", make([]int, 11), [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10}}},
		{"oversized first", []int{MaxBatchBytes, 1}, [][]int{{0}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded := make([]string, len(tt.sizes))
			for i, n := range tt.sizes {
				encoded[i] = strings.Repeat("a", n)
			}
			got := chunks(encoded)
			assert.Equalf(t, tt.want, got, "chunks(%v) = %v, want %v", tt.sizes, got, tt.want)
		})
	}
}

func TestSendBatchRetriesServerFailures(t *testing.T) {
	f := &fakeSQS{failures: []map[string]types.BatchResultErrorEntry{
		{"3": {Code: aws.String("InternalError"), Message: aws.String("try again")}, "7": {Code: aws.String("InternalError")}},
		{"7": {Code: aws.String("InternalError")}},
	}}
	q := newTestQueue(f)
	require.NoError(t, q.SendBatch(t.Context(), bodies(10)))
	assert.Equal(t, [][]string{
		{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		{"3", "7"},
		{"7"},
	}, f.sentIDs(), "only the failed entries are sent again")
}

func TestSendBatchReportsWhatWasNotSent(t *testing.T) {
	persistent := map[string]types.BatchResultErrorEntry{"12": {Code: aws.String("ServiceUnavailable"), Message: aws.String("down")}}
	f := &fakeSQS{failures: []map[string]types.BatchResultErrorEntry{
		{"1": {Code: aws.String("InvalidMessageContents"), Message: aws.String("bad character"), SenderFault: true}},
		persistent, persistent, persistent, persistent,
	}}
	q := newTestQueue(f)
	err := q.SendBatch(t.Context(), bodies(13))
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, map[int]string{
		1:  "InvalidMessageContents: bad character",
		12: "ServiceUnavailable: down",
	}, be.Failed)
	assert.Equal(t, "sqsjobs.SendBatch: 2 of the jobs were not sent: #1: InvalidMessageContents: bad character; #12: ServiceUnavailable: down", err.Error())
	ids := f.sentIDs()
	require.Len(t, ids, 1+sendAttempts, "a sender fault is not retried; a server failure is, %d times in all", sendAttempts)
	for _, call := range ids[2:] {
		assert.Equal(t, []string{"12"}, call)
	}
}

func TestSendBatchErrors(t *testing.T) {
	t.Run("encode", func(t *testing.T) {
		f := &fakeSQS{}
		err := newTestQueue(f).SendBatch(t.Context(), []any{1, make(chan int)})
		require.ErrorContains(t, err, "encode job #1")
		assert.Empty(t, f.batches, "nothing is sent")
	})
	t.Run("call fails", func(t *testing.T) {
		boom := errors.New("no route to host")
		err := newTestQueue(&fakeSQS{err: boom}).SendBatch(t.Context(), bodies(3))
		require.ErrorIs(t, err, boom)
	})
	t.Run("unknown entry", func(t *testing.T) {
		f := &fakeSQS{bogus: []types.BatchResultErrorEntry{{Id: aws.String("99")}}}
		err := newTestQueue(f).SendBatch(t.Context(), bodies(2))
		require.ErrorContains(t, err, `unknown entry "99"`)
	})
	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		f := &fakeSQS{failures: []map[string]types.BatchResultErrorEntry{{"0": {Code: aws.String("InternalError")}}}}
		q := New(f, "u")
		ctx, cancel := context.WithCancel(t.Context())
		q.backoff = func(int) time.Duration { cancel(); return time.Hour }
		err := q.SendBatch(ctx, bodies(2))
		var be *BatchError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, map[int]string{0: "not retried: context canceled"}, be.Failed)
	})
}

func TestDefaultBackoffGrows(t *testing.T) {
	q := New(&fakeSQS{}, "u")
	assert.Equal(t, 50*time.Millisecond, q.backoff(1))
	assert.Equal(t, 200*time.Millisecond, q.backoff(2))
	assert.Equal(t, 450*time.Millisecond, q.backoff(3))
}

func TestNewClient(t *testing.T) {
	c, err := NewClient(t.Context(), "eu-west-1", "http://127.0.0.1:1")
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", c.Options().Region)
	assert.Equal(t, "http://127.0.0.1:1", aws.ToString(c.Options().BaseEndpoint))
	creds, err := c.Options().Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "local", creds.AccessKeyID, "static credentials against a local endpoint")

	c, err = NewClient(t.Context(), "eu-central-1", "", func(o *sqs.Options) { o.RetryMaxAttempts = 7 })
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", c.Options().Region)
	assert.Nil(t, c.Options().BaseEndpoint)
	assert.Equal(t, 7, c.Options().RetryMaxAttempts)
}
