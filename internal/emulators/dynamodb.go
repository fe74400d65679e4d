package emulators

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DynamoDBLocalPackage is the npm package, at a pinned version, that ships
// the official DynamoDB Local jar (1.25.1) in its emulator directory. npm is
// the only registry reachable here that carries the jar.
const DynamoDBLocalPackage = "amplify-dynamodb-simulator@2.9.30"

// dynamoDBLocalStartTimeout bounds how long StartDynamoDBLocal waits for the
// JVM to answer; it starts in about 2 s on a developer machine.
const dynamoDBLocalStartTimeout = 60 * time.Second

// dynamoDBLocal is the DynamoDB Local jar and its native SQLite libraries,
// keyed by the version of the npm package that carries them.
var dynamoDBLocal = tool{
	name:    "amplify-dynamodb-simulator",
	version: "2.9.30",
	install: func(ctx context.Context, dir string) error {
		// Only the emulator is kept: the package's JavaScript wrapper and
		// its dependencies are not needed to run the jar.
		return npmPack(ctx, dir, DynamoDBLocalPackage, func(name string) (string, bool) {
			rel, ok := strings.CutPrefix(name, "package/emulator/")
			if !ok {
				return "", false
			}
			keep := rel == "DynamoDBLocal.jar" || strings.HasPrefix(rel, "DynamoDBLocal_lib/") ||
				rel == "LICENSE.txt" || rel == "THIRD-PARTY-LICENSES.txt"
			return rel, keep
		})
	},
}

// InstallDynamoDBLocal installs DynamoDB Local under cacheDir unless it is
// already there, and returns the directory holding DynamoDBLocal.jar. The
// first install needs npm and downloads about 56 MB.
func InstallDynamoDBLocal(ctx context.Context, cacheDir string) (string, error) {
	return dynamoDBLocal.ensure(ctx, cacheDir)
}

// DynamoDBLocal is a running DynamoDB Local server holding its tables in
// memory.
type DynamoDBLocal struct {
	proc     *Process
	endpoint string
	workDir  string // removed by Stop
}

// StartDynamoDBLocal starts DynamoDB Local from dir (as returned by
// InstallDynamoDBLocal) on a free port and waits until it answers a
// ListTables call. It needs java on PATH. Call Stop when done.
//
// DynamoDB Local has no flag to choose the address it binds, so it listens
// on all interfaces; the port is a random free one and is only ever
// advertised as 127.0.0.1.
func StartDynamoDBLocal(ctx context.Context, dir string) (*DynamoDBLocal, error) {
	java, err := requireProgram("java", javaHint)
	if err != nil {
		return nil, err
	}
	return retryOnEarlyExit(func() (*DynamoDBLocal, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		// -sharedDb makes every client see the same tables whatever region
		// and access key it signs with; -disableTelemetry keeps the JVM
		// from trying to reach the internet.
		cmd := exec.Command(java,
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
		// DynamoDB Local writes dynamodb-local-metadata.json into its working
		// directory; a directory of its own keeps the shared install
		// read-only and concurrent servers apart.
		workDir, err := os.MkdirTemp("", "dynamodb-local-")
		if err != nil {
			return nil, fmt.Errorf("emulators: start DynamoDB Local: %w", err)
		}
		cmd.Dir = workDir
		proc, err := StartProcess(cmd)
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(workDir))
		}
		d := &DynamoDBLocal{proc: proc, endpoint: "http://127.0.0.1:" + strconv.Itoa(port), workDir: workDir}
		client := d.probeClient()
		probe := func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
			return err
		}
		if err := waitReady(ctx, proc, dynamoDBLocalStartTimeout, probe); err != nil {
			return nil, joinStop(fmt.Errorf("emulators: start DynamoDB Local: %w", err), d)
		}
		return d, nil
	})
}

// probeClient returns a DynamoDB client for the readiness probe. It is built
// from explicit options rather than the shared AWS config so that nothing
// in the user's environment or ~/.aws affects it, and it does not retry
// because waitReady does.
func (d *DynamoDBLocal) probeClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(d.endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: time.Second},
	})
}

// Endpoint returns the base URL of the server, http://127.0.0.1:PORT, for
// an SDK client's BaseEndpoint.
func (d *DynamoDBLocal) Endpoint() string { return d.endpoint }

// Output returns what DynamoDB Local has printed so far.
func (d *DynamoDBLocal) Output() []byte { return d.proc.Output() }

// Stop stops the server, waits for it to exit and removes its working
// directory; its tables are lost. It is safe to call more than once.
func (d *DynamoDBLocal) Stop() error {
	return errors.Join(d.proc.Stop(), os.RemoveAll(d.workDir))
}
