package emulators

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MinIOVersion is the pinned version of MinIO that InstallMinIO builds: the
// pseudo-version that github.com/minio/minio@latest resolved to. MinIO
// tags its releases with names that are not semantic versions, so the Go
// module proxy knows only pseudo-versions of it.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOModule is MinIO's server command at MinIOVersion.
const MinIOModule = "github.com/minio/minio@" + MinIOVersion

// minIOStartTimeout bounds how long StartMinIO waits for the server to
// report ready; it takes about a second on a developer machine, and the
// bound leaves room for a loaded CI runner formatting its drive.
const minIOStartTimeout = 60 * time.Second

// minIO is the MinIO server binary, built from source because the Go module
// proxy is the only place this machine can get it from. The first build
// takes several minutes and the binary is about 150 MB.
var minIO = tool{
	name:    "minio",
	version: MinIOVersion,
	install: func(ctx context.Context, dir string) error {
		return goInstall(ctx, dir, MinIOModule)
	},
}

// InstallMinIO builds MinIO under cacheDir unless it is already there, and
// returns the path of the minio binary. The first install needs the go
// command and takes about eight minutes; every later one finds it.
func InstallMinIO(ctx context.Context, cacheDir string) (string, error) {
	dir, err := minIO.ensure(ctx, cacheDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "minio"), nil
}

// MinIO is a running MinIO server keeping its objects in a temporary
// directory. It is the local S3 that verifies SigV4 signatures and enforces
// presigned POST policies, which is why tests of uploads run against it.
type MinIO struct {
	proc      *Process
	endpoint  string
	console   string
	accessKey string
	secretKey string
	dataDir   string // removed by Stop
}

// StartMinIO starts the MinIO binary (as returned by InstallMinIO) on free
// ports of 127.0.0.1, with root credentials generated for this server
// alone, and waits until its readiness endpoint answers. Call Stop when
// done; it removes every object.
//
// The host's MINIO_* variables are not passed on, so that a developer's
// own MinIO configuration cannot change what tests see, and its
// certificates directory is a private empty one, so that certificates in
// ~/.minio/certs cannot turn it into an HTTPS server.
func StartMinIO(ctx context.Context, binary string) (*MinIO, error) {
	accessKey, err := randomHex("mh", 10)
	if err != nil {
		return nil, err
	}
	secretKey, err := randomHex("", 20)
	if err != nil {
		return nil, err
	}
	return retryOnEarlyExit(func() (*MinIO, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		consolePort, err := FreePort()
		if err != nil {
			return nil, err
		}
		dataDir, err := os.MkdirTemp("", "minio-")
		if err != nil {
			return nil, fmt.Errorf("emulators: start MinIO: %w", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		consoleAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(consolePort))
		cmd := exec.Command(binary, "server", filepath.Join(dataDir, "data"),
			"--address", addr,
			"--console-address", consoleAddr,
			"--certs-dir", filepath.Join(dataDir, "certs"),
			"--quiet")
		cmd.Dir = dataDir
		cmd.Env = append(withoutPrefix(os.Environ(), "MINIO_"),
			"MINIO_ROOT_USER="+accessKey,
			"MINIO_ROOT_PASSWORD="+secretKey,
			// A test server must not look for a newer release on the internet.
			"MINIO_UPDATE=off",
		)
		proc, err := StartProcess(cmd)
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(dataDir))
		}
		m := &MinIO{
			proc:      proc,
			endpoint:  "http://" + addr,
			console:   "http://" + consoleAddr,
			accessKey: accessKey,
			secretKey: secretKey,
			dataDir:   dataDir,
		}
		client := &http.Client{Timeout: time.Second}
		probe := func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+"/minio/health/ready", nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			if err := resp.Body.Close(); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("readiness: status %d", resp.StatusCode)
			}
			return nil
		}
		if err := waitReady(ctx, proc, minIOStartTimeout, probe); err != nil {
			return nil, joinStop(fmt.Errorf("emulators: start MinIO: %w", err), m)
		}
		return m, nil
	})
}

// randomHex returns prefix followed by n random bytes in hexadecimal.
func randomHex(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("emulators: generate credentials: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// withoutPrefix returns env without the variables whose names start with
// prefix.
func withoutPrefix(env []string, prefix string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// Endpoint returns the base URL of the S3 API, http://127.0.0.1:PORT, for
// an SDK client's BaseEndpoint (with path-style addressing).
func (m *MinIO) Endpoint() string { return m.endpoint }

// ConsoleURL returns the base URL of MinIO's web console, also bound to
// 127.0.0.1, where a developer can browse buckets with the root
// credentials.
func (m *MinIO) ConsoleURL() string { return m.console }

// AccessKey returns the root user's access key id.
func (m *MinIO) AccessKey() string { return m.accessKey }

// SecretKey returns the root user's secret access key.
func (m *MinIO) SecretKey() string { return m.secretKey }

// Output returns what MinIO has printed so far.
func (m *MinIO) Output() []byte { return m.proc.Output() }

// Stop stops the server, waits for it to exit and removes its data
// directory with every bucket and object. It is safe to call more than
// once.
func (m *MinIO) Stop() error {
	return errors.Join(m.proc.Stop(), os.RemoveAll(m.dataDir))
}
