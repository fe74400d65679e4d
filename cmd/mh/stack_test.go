package main

import (
	"bytes"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStackRunsCommandWithEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and starts DynamoDB Local and local-aws-sqs")
	}
	var stdout, stderr bytes.Buffer
	err := runStack(t.Context(), []string{"--", "sh", "-c",
		`echo "$MH_TEST_DYNAMODB_ENDPOINT"; echo "$MH_TEST_SQS_ENDPOINT"; test -x "$MH_TEST_RIE"`}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())

	endpoints := strings.Fields(stdout.String())
	require.Len(t, endpoints, 2, "stdout: %q", stdout.String())
	dynamo, sqs := endpoints[0], endpoints[1]
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, dynamo)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, sqs)
	assert.NotEqual(t, dynamo, sqs)
	assert.Contains(t, stderr.String(), "mh stack: DynamoDB Local at "+dynamo+" ("+envDynamoDBEndpoint+"); local-aws-sqs at "+sqs+" ("+envSQSEndpoint+")")
	// The stack is stopped once the command has ended.
	for _, ep := range endpoints {
		l, err := net.Listen("tcp", strings.TrimPrefix(ep, "http://"))
		require.NoError(t, err, "%s is still held", ep)
		require.NoError(t, l.Close())
	}
}

func TestStackOnlySQS(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and starts local-aws-sqs")
	}
	// Under make test this test itself runs inside mh stack.
	t.Setenv(envDynamoDBEndpoint, "")
	var stdout, stderr bytes.Buffer
	err := runStack(t.Context(), []string{"--only", "sqs", "--", "sh", "-c",
		`echo "sqs=$MH_TEST_SQS_ENDPOINT dynamodb=$MH_TEST_DYNAMODB_ENDPOINT"`}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	assert.Regexp(t, `^sqs=http://127\.0\.0\.1:\d+ dynamodb=$`, strings.TrimSpace(stdout.String()),
		"only the selected service is started and exported")
}

func TestStackPropagatesExitCode(t *testing.T) {
	if testing.Short() {
		t.Skip("installs RIE")
	}
	var stdout, stderr bytes.Buffer
	err := runStack(t.Context(), []string{"--only", "rie", "--", "sh", "-c", "exit 3"}, &stdout, &stderr)
	var exit exitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 3, exit.code)
}

func TestStackForwardsSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("installs RIE")
	}
	var stdout syncBuffer
	var stderr bytes.Buffer
	result := make(chan error, 1)
	go func() {
		result <- runStack(t.Context(), []string{"--only", "rie", "--", "sh", "-c",
			`trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done`}, &stdout, &stderr)
	}()
	// runStack handles SIGTERM from the moment it starts the command, so
	// once the command prints, the signal goes to it, not to this test.
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "ready") },
		30*time.Second, 10*time.Millisecond)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case err := <-result:
		var exit exitError
		require.ErrorAs(t, err, &exit)
		assert.Equal(t, 7, exit.code, "the command's trap should have run")
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end after SIGTERM")
	}
}

func TestStackRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{}, "no command given"},
		{"only separator", []string{"--"}, "no command given"},
		{"unknown service", []string{"--only", "dynamodb,redis", "--", "true"}, `unknown service "redis"`},
		{"no service", []string{"--only", ",", "--", "true"}, "names no service"},
		{"unknown flag", []string{"--fast", "--", "true"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runStack(t.Context(), tt.args, &stdout, &stderr)
			require.ErrorContains(t, err, tt.want)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   error
	}{
		{"success", "exit 0", nil},
		{"failure", "exit 42", exitError{code: 42}},
		{"killed", "kill -KILL $$", exitError{code: 128 + 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runForwardingSignals(t.Context(), []string{"sh", "-c", tt.script}, nil, nil, nil, nil)
			assert.Equal(t, tt.want, err)
		})
	}
}

// syncBuffer is a bytes.Buffer that the command's output copier can write
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
