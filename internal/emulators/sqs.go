package emulators

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// LocalSQSPackage is the npm package, at a pinned version, of local-aws-sqs:
// an SQS server in Node.js that speaks the JSON protocol current
// aws-sdk-go-v2 clients use (goaws speaks only the older query protocol).
const LocalSQSPackage = "local-aws-sqs@2.0.2"

// localSQSStartTimeout bounds how long StartLocalSQS waits for the server
// to answer; Node.js has it listening in about half a second.
const localSQSStartTimeout = 30 * time.Second

// nodeHint tells the user how to get node.
const nodeHint = "install Node.js (Debian: apt-get install nodejs)"

// localSQS is local-aws-sqs with its two small dependencies, installed by
// npm because, unlike DynamoDB Local's jar, it cannot run from its own
// tarball alone.
var localSQS = tool{
	name:    "local-aws-sqs",
	version: "2.0.2",
	install: func(ctx context.Context, dir string) error {
		return npmInstall(ctx, dir, LocalSQSPackage)
	},
}

// npmInstall installs the npm package spec and its production dependencies
// into dir/node_modules. Install scripts are not run: the packages ship
// plain JavaScript, and a script is code from the registry that would run
// with the user's rights at install time.
func npmInstall(ctx context.Context, dir, spec string) error {
	npm, err := requireProgram("npm", npmHint)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, spec,
		"--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev", "--no-update-notifier")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install %s: %w; output:\n%s", spec, err, tail(out, 2000))
	}
	return nil
}

// InstallLocalSQS installs local-aws-sqs under cacheDir unless it is already
// there, and returns the directory whose node_modules holds it. The first
// install needs npm and downloads well under a megabyte.
func InstallLocalSQS(ctx context.Context, cacheDir string) (string, error) {
	return localSQS.ensure(ctx, cacheDir)
}

// localSQSScript starts the server. It lives here rather than in the
// install directory so that changing it needs no reinstall. The module
// path and port come as arguments; an error (a port taken since FreePort)
// ends the process, which StartLocalSQS retries with another port.
const localSQSScript = `
const [modulePath, port] = process.argv.slice(1);
require(modulePath)
  .createSqsServer({ port: Number(port), hostname: "127.0.0.1" })
  .then(() => console.log("local-aws-sqs listening on 127.0.0.1:" + port),
        (err) => { console.error(err); process.exit(1); });
`

// LocalSQS is a running local-aws-sqs server holding its queues in memory.
type LocalSQS struct {
	proc     *Process
	endpoint string
}

// StartLocalSQS starts local-aws-sqs from dir (as returned by
// InstallLocalSQS) on a free port of 127.0.0.1 and waits until it answers a
// ListQueues call. It needs node on PATH. Call Stop when done.
//
// What this version does, as measured with sqs v1.53.0: queue URLs are
// http://127.0.0.1:PORT/123456789012/NAME; redrive to a dead-letter queue,
// visibility timeouts, long polling, batches and FIFO queues behave as in
// SQS; ReceiveMessage ignores MessageSystemAttributeNames, so ask for
// ApproximateReceiveCount through AttributeNames; a deleted queue's name
// cannot be reused for 60 seconds, as in SQS.
func StartLocalSQS(ctx context.Context, dir string) (*LocalSQS, error) {
	node, err := requireProgram("node", nodeHint)
	if err != nil {
		return nil, err
	}
	module := filepath.Join(dir, "node_modules", "local-aws-sqs")
	if _, err := os.Stat(filepath.Join(module, "package.json")); err != nil {
		return nil, fmt.Errorf("emulators: start local-aws-sqs: not installed in %s: %w", dir, err)
	}
	return retryOnEarlyExit(func() (*LocalSQS, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(node, "-e", localSQSScript, module, strconv.Itoa(port))
		cmd.Dir = dir
		proc, err := StartProcess(cmd)
		if err != nil {
			return nil, err
		}
		s := &LocalSQS{proc: proc, endpoint: "http://127.0.0.1:" + strconv.Itoa(port)}
		client := s.probeClient()
		probe := func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := client.ListQueues(ctx, &sqs.ListQueuesInput{})
			return err
		}
		if err := waitReady(ctx, proc, localSQSStartTimeout, probe); err != nil {
			return nil, joinStop(fmt.Errorf("emulators: start local-aws-sqs: %w", err), s)
		}
		return s, nil
	})
}

// probeClient returns an SQS client for the readiness probe, built from
// explicit options for the same reasons as DynamoDB Local's.
func (s *LocalSQS) probeClient() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: time.Second},
	})
}

// Endpoint returns the base URL of the server, http://127.0.0.1:PORT, for
// an SDK client's BaseEndpoint.
func (s *LocalSQS) Endpoint() string { return s.endpoint }

// Output returns what the server has printed so far.
func (s *LocalSQS) Output() []byte { return s.proc.Output() }

// Stop stops the server and waits for it to exit; its queues are lost. It
// is safe to call more than once.
func (s *LocalSQS) Stop() error { return s.proc.Stop() }
