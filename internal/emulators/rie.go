package emulators

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RIEModule is the Lambda Runtime Interface Emulator's command, at the
// pinned version that InstallRIE builds.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// rieStartTimeout bounds how long StartRIE waits for RIE to listen; it
// takes milliseconds, because RIE starts the bootstrap only on the first
// invocation.
const rieStartTimeout = 10 * time.Second

// rie is the aws-lambda-rie binary, built from source because the Go module
// proxy is where this machine can get it from.
var rie = tool{
	name:    "aws-lambda-rie",
	version: "v0.0.0-20261030222936-bef5c4ba774d",
	install: func(ctx context.Context, dir string) error {
		return goInstall(ctx, dir, RIEModule)
	},
}

// InstallRIE builds the Lambda Runtime Interface Emulator under cacheDir
// unless it is already there, and returns the path of the aws-lambda-rie
// binary. The first install needs the go command and takes about half a
// minute.
func InstallRIE(ctx context.Context, cacheDir string) (string, error) {
	dir, err := rie.ensure(ctx, cacheDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "aws-lambda-rie"), nil
}

// rieDefaultEnv holds variables that Lambda always sets and that RIE either
// needs (it panics on a non-numeric timeout) or leaves unset (AWS_REGION).
// Values given to StartRIE take precedence.
var rieDefaultEnv = []string{
	"AWS_LAMBDA_FUNCTION_NAME=function",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
	"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	"AWS_REGION=us-east-1",
}

// RIE is a running Lambda Runtime Interface Emulator hosting one function,
// as one Lambda execution environment would.
//
// What this version of RIE does, as observed against a Go bootstrap built
// with aws-lambda-go:
//   - It starts the bootstrap lazily, on the first invocation, not when RIE
//     starts; the bootstrap runs in RIE's working directory, which StartRIE
//     sets to the bootstrap's directory, as /var/task is in Lambda.
//   - It passes its whole environment to the bootstrap, adds
//     AWS_LAMBDA_RUNTIME_API and defaults for AWS_LAMBDA_FUNCTION_NAME,
//     AWS_LAMBDA_FUNCTION_MEMORY_SIZE (3008), AWS_LAMBDA_FUNCTION_VERSION
//     and AWS_LAMBDA_LOG_GROUP_NAME/STREAM_NAME, and sets
//     AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN to the
//     empty string when it has none. It does not set AWS_REGION.
//   - The bootstrap's standard output and standard error reach RIE's
//     standard output, interleaved with RIE's own lines
//     ("START RequestId: …", "END RequestId: …", "REPORT RequestId: …" and
//     lines like "03 Dec 2026 16:14:35,142 [INFO] (rapid) …").
//   - A function error is answered with status 200 and a body
//     {"errorMessage":…,"errorType":…}, without the X-Amz-Function-Error
//     header that Lambda's Invoke API sets.
//   - It serves one invocation at a time; a concurrent one gets 400.
type RIE struct {
	proc      *Process
	invokeURL string
	client    *http.Client
	mu        sync.Mutex // serialises Invoke, since RIE rejects concurrent invocations
}

// StartRIE starts the emulator binary rieBinary (as returned by InstallRIE)
// hosting the function whose bootstrap executable is at bootstrapPath, and
// waits until it accepts invocations. Both of RIE's listeners are bound to
// 127.0.0.1 on free ports (RIE's own default is 0.0.0.0:8080).
//
// env is the function's whole environment, as its configuration would set
// it in Lambda, in os.Environ form. The host's environment is deliberately
// not inherited, because RIE passes its environment on to the function and
// a developer's AWS credentials or region must not leak into a function
// under test. AWS_LAMBDA_FUNCTION_NAME (function),
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE (128), AWS_LAMBDA_FUNCTION_TIMEOUT (30
// seconds, which RIE enforces) and AWS_REGION (us-east-1) are added unless
// env sets them.
//
// Call Stop when done; it stops the bootstrap too.
func StartRIE(ctx context.Context, rieBinary, bootstrapPath string, env []string) (*RIE, error) {
	bootstrap, err := filepath.Abs(bootstrapPath)
	if err != nil {
		return nil, fmt.Errorf("emulators: start RIE: %w", err)
	}
	return retryOnEarlyExit(func() (*RIE, error) {
		apiPort, err := FreePort()
		if err != nil {
			return nil, err
		}
		runtimePort, err := FreePort()
		if err != nil {
			return nil, err
		}
		apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
		cmd := exec.Command(rieBinary,
			"--runtime-interface-emulator-address", apiAddr,
			"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(runtimePort)),
			bootstrap)
		cmd.Dir = filepath.Dir(bootstrap)
		cmd.Env = withDefaults(env, rieDefaultEnv)
		proc, err := StartProcess(cmd)
		if err != nil {
			return nil, err
		}
		// RIE starts its invocation listener last, so once it accepts a
		// connection the runtime API is listening too.
		probe := func(ctx context.Context) error {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", apiAddr)
			if err != nil {
				return err
			}
			return conn.Close()
		}
		if err := waitReady(ctx, proc, rieStartTimeout, probe); err != nil {
			return nil, joinStop(fmt.Errorf("emulators: start RIE: %w", err), proc)
		}
		return &RIE{
			proc:      proc,
			invokeURL: "http://" + apiAddr + "/2015-03-31/functions/function/invocations",
			client:    &http.Client{},
		}, nil
	})
}

// withDefaults returns env plus each of defaults whose name env does not set.
func withDefaults(env, defaults []string) []string {
	set := make(map[string]bool, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	out := append([]string(nil), env...)
	for _, kv := range defaults {
		name, _, _ := strings.Cut(kv, "=")
		if !set[name] {
			out = append(out, kv)
		}
	}
	return out
}

// InvokeURL returns the URL that Invoke posts to.
func (r *RIE) InvokeURL() string { return r.invokeURL }

// FunctionError is the error Invoke returns when the function returned an
// error, which RIE reports as a body with errorMessage and errorType.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// Error returns the function's error type and message.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("emulators: function error %s: %s", e.Type, e.Message)
}

// Invoke invokes the function synchronously with payload and returns its
// response body. If the function returned an error, Invoke returns the body
// and a *FunctionError; any other status than 200 is an error too. Calls are
// serialised, because one execution environment handles one invocation at
// a time.
func (r *RIE) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.invokeURL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("emulators: invoke: %w", err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulators: invoke: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("emulators: invoke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// RIE answers 502 with an empty body when the bootstrap crashed; the
		// reason is in its output.
		return body, fmt.Errorf("emulators: invoke: status %d %q (RIE's output says why)", resp.StatusCode, tail(body, 500))
	}
	if ferr := functionError(body); ferr != nil {
		return body, ferr
	}
	return body, nil
}

// functionError returns the error in body if body is exactly what the
// runtime sends for a function error: an object with errorMessage,
// errorType and at most a stackTrace. A response that merely has such
// fields among others is the function's own result.
func functionError(body []byte) *FunctionError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil
	}
	_, hasMessage := fields["errorMessage"]
	_, hasType := fields["errorType"]
	_, hasTrace := fields["stackTrace"]
	want := 2
	if hasTrace {
		want = 3
	}
	if !hasMessage || !hasType || len(fields) != want {
		return nil
	}
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil {
		return nil
	}
	return &fe
}

// Output returns everything RIE and the function have printed so far: the
// function's log lines interleaved with RIE's (see RIE).
func (r *RIE) Output() []byte { return r.proc.Output() }

// InitDuration returns how long the function's first init phase took:
// from starting the bootstrap until it asked for its first event, as RIE
// logs in its "INIT REPORT(durationMs: …)" line during the first
// invocation. It reports false before the first invocation and if that init
// failed (RIE logs "INIT RTDONE(status: error)" and then a report all the
// same).
//
// It does not use the "Init Duration" that RIE prints in the first REPORT
// line, because RIE measures there only the call that starts init (about
// 0.2 ms whatever the function does), not init itself.
func (r *RIE) InitDuration() (time.Duration, bool) {
	// RIE's lines reach us through a pipe that may trail the invocation's
	// answer, so give the report a moment to arrive.
	deadline := time.Now().Add(initReportWait)
	for {
		d, ok := r.initDuration()
		if ok || time.Now().After(deadline) {
			return d, ok
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// initReportWait bounds how long InitDuration waits for RIE's report.
const initReportWait = 2 * time.Second

func (r *RIE) initDuration() (time.Duration, bool) {
	const done, report = "INIT RTDONE(status: ", "INIT REPORT(durationMs: "
	succeeded := false
	for line := range strings.Lines(string(r.proc.Output())) {
		if _, status, ok := strings.Cut(line, done); ok && !succeeded {
			if !strings.HasPrefix(status, "success)") {
				return 0, false
			}
			succeeded = true
			continue
		}
		_, rest, ok := strings.Cut(line, report)
		if !ok || !succeeded {
			continue
		}
		msText, _, ok := strings.Cut(rest, ")")
		if !ok {
			return 0, false
		}
		ms, err := strconv.ParseFloat(msText, 64)
		if err != nil {
			return 0, false
		}
		return time.Duration(ms * float64(time.Millisecond)), true
	}
	return 0, false
}

// Stop stops RIE and the function's bootstrap and waits for RIE to exit. It
// is safe to call more than once.
func (r *RIE) Stop() error { return r.proc.Stop() }
