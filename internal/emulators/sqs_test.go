package emulators

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalSQS(t *testing.T) {
	cache := mustCacheDir(t)
	begin := time.Now()
	dir, err := InstallLocalSQS(t.Context(), cache)
	require.NoError(t, err)
	t.Logf("install (or find) local-aws-sqs: %v", time.Since(begin))

	begin = time.Now()
	srv, err := StartLocalSQS(t.Context(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Stop()) })
	t.Logf("start local-aws-sqs: %v", time.Since(begin))

	client := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	name := "emulators-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	created, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	u, err := url.Parse(aws.ToString(created.QueueUrl))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", u.Hostname(), "queue URLs point at the loopback address it listens on")

	_, err = client.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:    created.QueueUrl,
		MessageBody: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"correlationId": {DataType: aws.String("String"), StringValue: aws.String("c-1")},
		},
	})
	require.NoError(t, err)
	got, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl:            created.QueueUrl,
		MaxNumberOfMessages: 10,
		//lint:ignore SA1019 local-aws-sqs ignores MessageSystemAttributeNames and still answers to the deprecated field
		AttributeNames:        []types.QueueAttributeName{"ApproximateReceiveCount"},
		MessageAttributeNames: []string{"All"},
	})
	require.NoError(t, err)
	require.Len(t, got.Messages, 1)
	m := got.Messages[0]
	assert.Equal(t, "hello", aws.ToString(m.Body))
	assert.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
	assert.Equal(t, "c-1", aws.ToString(m.MessageAttributes["correlationId"].StringValue))

	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	require.NoError(t, srv.Stop())
	assertPortFree(t, port)
	assert.NoError(t, srv.Stop(), "a second Stop")
	assert.Eventually(t, func() bool { return len(srv.Output()) > 0 }, 5*time.Second, 10*time.Millisecond, "the start-up line")
}

// TestFreshInstallLocalSQS installs local-aws-sqs into an empty cache, as
// a new machine does once; npm's own download cache makes it quick.
func TestFreshInstallLocalSQS(t *testing.T) {
	if testing.Short() {
		t.Skip("installs tools")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache := t.TempDir()
	begin := time.Now()
	dir, err := InstallLocalSQS(ctx, cache)
	require.NoError(t, err)
	t.Logf("fresh install of local-aws-sqs: %v", time.Since(begin))
	assert.FileExists(t, filepath.Join(dir, "node_modules", "local-aws-sqs", "package.json"))
	assert.DirExists(t, filepath.Join(dir, "node_modules", "aws-md5-of-message-attributes"), "its dependencies are installed too")

	again, err := InstallLocalSQS(ctx, cache)
	require.NoError(t, err)
	assert.Equal(t, dir, again, "a second install reuses the first")
}

func TestLocalSQSReportsMissingPrograms(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := InstallLocalSQS(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, "npm")
	_, err = StartLocalSQS(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, "node")
}

func TestStartLocalSQSNotInstalled(t *testing.T) {
	if _, err := requireProgram("node", nodeHint); err != nil {
		t.Skip("needs node")
	}
	_, err := StartLocalSQS(context.Background(), t.TempDir())
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "not installed")
}

func TestNPMInstallFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm")
	}
	if _, err := requireProgram("npm", npmHint); err != nil {
		t.Skip("needs npm")
	}
	// A version that cannot exist makes npm fail quickly and offline-safe:
	// the error must carry npm's own explanation.
	err := npmInstall(t.Context(), t.TempDir(), "local-aws-sqs@0.0.0-does-not-exist")
	require.Error(t, err)
	assert.ErrorContains(t, err, "npm install local-aws-sqs@0.0.0-does-not-exist")
}
