package emulators

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustBuildHello builds testdata/hello into a temporary directory as a
// Lambda bootstrap and returns its path.
func mustBuildHello(t *testing.T) string {
	t.Helper()
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-o", bootstrap, "./testdata/hello")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build testdata/hello:\n%s", out)
	return bootstrap
}

// helloResponse is what testdata/hello answers.
type helloResponse struct {
	Message string            `json:"message"`
	Env     map[string]string `json:"env"`
}

func TestRIE(t *testing.T) {
	cache := mustCacheDir(t)
	begin := time.Now()
	rieBinary, err := InstallRIE(t.Context(), cache)
	require.NoError(t, err)
	t.Logf("install (or find) RIE: %v", time.Since(begin))
	bootstrap := mustBuildHello(t)
	// RIE would pass this on if StartRIE inherited the host environment.
	t.Setenv("MH_EMULATORS_HOST_ONLY", "leak")

	begin = time.Now()
	r, err := StartRIE(t.Context(), rieBinary, bootstrap, []string{"GREETING=hi", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Stop()) })
	t.Logf("start RIE: %v", time.Since(begin))
	_, ok := r.InitDuration()
	assert.False(t, ok, "InitDuration before the first invocation")

	begin = time.Now()
	body, err := r.Invoke(t.Context(), []byte(`{"name":"world","env":["GREETING","AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE","AWS_REGION","AWS_LAMBDA_RUNTIME_API","MH_EMULATORS_HOST_ONLY"]}`))
	require.NoError(t, err)
	t.Logf("first invocation, cold: %v", time.Since(begin))
	var resp helloResponse
	require.NoError(t, json.Unmarshal(body, &resp), "body %s", body)
	assert.Equal(t, "hello, world", resp.Message)
	assert.Equal(t, "hi", resp.Env["GREETING"])
	assert.Equal(t, "function", resp.Env["AWS_LAMBDA_FUNCTION_NAME"], "default added by StartRIE")
	assert.Equal(t, "256", resp.Env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "the caller's value wins over the default")
	assert.Equal(t, "us-east-1", resp.Env["AWS_REGION"])
	assert.NotEmpty(t, resp.Env["AWS_LAMBDA_RUNTIME_API"], "set by RIE")
	assert.NotContains(t, resp.Env, "MH_EMULATORS_HOST_ONLY", "the host environment leaked into the function")

	initDuration, ok := r.InitDuration()
	require.True(t, ok, "no init report in output:\n%s", r.Output())
	assert.Positive(t, initDuration)
	t.Logf("init duration reported by RIE: %v", initDuration)

	begin = time.Now()
	_, err = r.Invoke(t.Context(), []byte(`{"name":"again"}`))
	require.NoError(t, err)
	t.Logf("second invocation, warm: %v", time.Since(begin))

	body, err = r.Invoke(t.Context(), []byte(`{"fail":true}`))
	var ferr *FunctionError
	require.ErrorAs(t, err, &ferr)
	assert.Equal(t, "asked to fail", ferr.Message)
	assert.Contains(t, string(body), "asked to fail")

	// The output arrives through a pipe that may trail the answers.
	assert.Eventually(t, func() bool {
		out := r.Output()
		return hasJSONLine(out, "invoke") && bytes.Contains(out, []byte("REPORT RequestId: "))
	}, 5*time.Second, 10*time.Millisecond, "the function's JSON log lines and RIE's reports should be in the output:\n%s", r.Output())

	u, err := url.Parse(r.InvokeURL())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", u.Hostname())
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	require.NoError(t, r.Stop())
	assertPortFree(t, port)
}

func TestRIECrashingBootstrap(t *testing.T) {
	cache := mustCacheDir(t)
	rieBinary, err := InstallRIE(t.Context(), cache)
	require.NoError(t, err)
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	require.NoError(t, writeFile(bootstrap, bytes.NewReader([]byte("#!/bin/sh\necho crashing >&2\nexit 3\n")), 0o755))

	r, err := StartRIE(t.Context(), rieBinary, bootstrap, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Stop()) })

	_, err = r.Invoke(t.Context(), []byte(`{}`))
	require.ErrorContains(t, err, "status 502")
	_, ok := r.InitDuration()
	assert.False(t, ok, "InitDuration after a failed init")
	// The emulator relays the bootstrap's output through a pipe, which may
	// trail the invocation's answer.
	assert.Eventually(t, func() bool { return bytes.Contains(r.Output(), []byte("crashing")) }, 5*time.Second, 10*time.Millisecond)
}

// hasJSONLine reports whether out has a JSON log line whose msg is msg.
func hasJSONLine(out []byte, msg string) bool {
	for line := range bytes.Lines(out) {
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == msg {
			return true
		}
	}
	return false
}

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name          string
		env, defaults []string
		want          []string
	}{
		{"empty", nil, []string{"A=1"}, []string{"A=1"}},
		{"caller wins", []string{"A=2"}, []string{"A=1", "B=1"}, []string{"A=2", "B=1"}},
		{"empty value still set", []string{"A="}, []string{"A=1"}, []string{"A="}},
		{"value with equals", []string{"A=x=y"}, []string{"A=1"}, []string{"A=x=y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, withDefaults(tt.env, tt.defaults))
		})
	}
}

func TestFunctionError(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *FunctionError
	}{
		{"error", `{"errorMessage":"boom","errorType":"errorString"}`, &FunctionError{Message: "boom", Type: "errorString"}},
		{"error with trace", `{"errorMessage":"boom","errorType":"x","stackTrace":[]}`, &FunctionError{Message: "boom", Type: "x"}},
		{"result", `{"message":"hello"}`, nil},
		{"result with error fields among others", `{"errorMessage":"a","errorType":"b","id":1}`, nil},
		{"not an object", `"errorMessage"`, nil},
		{"empty", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, functionError([]byte(tt.body)))
		})
	}
}
