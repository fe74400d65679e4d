package emulators

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	assert.Positive(t, port)
	assertPortFree(t, port)
}

func TestProcessStopKillsTheGroup(t *testing.T) {
	// The shell prints its background child's pid, then waits for it; Stop
	// must kill the child too, as it must kill RIE's bootstrap.
	proc, err := StartProcess(exec.Command("sh", "-c", "sleep 60 & echo child=$!; wait"))
	require.NoError(t, err)
	var child int
	require.Eventually(t, func() bool {
		_, after, ok := bytes.Cut(proc.Output(), []byte("child="))
		if !ok {
			return false
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(after)))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.True(t, alive(t, child), "the child should be running")

	require.NoError(t, proc.Stop())
	select {
	case <-proc.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	assert.Error(t, proc.Err(), "the shell was killed, so it did not exit 0")
	require.Eventually(t, func() bool { return !alive(t, child) }, 5*time.Second, 10*time.Millisecond,
		"the shell's child survived Stop")
	assert.NoError(t, proc.Stop(), "a second Stop")
}

func TestProcessStopAfterExit(t *testing.T) {
	var extra bytes.Buffer
	cmd := exec.Command("sh", "-c", "echo out; echo err >&2")
	cmd.Stdout = &extra
	proc, err := StartProcess(cmd)
	require.NoError(t, err)
	<-proc.Done()
	require.NoError(t, proc.Err())
	require.NoError(t, proc.Stop())
	assert.ElementsMatch(t, []string{"out", "err"}, strings.Fields(string(proc.Output())))
	assert.Equal(t, "out\n", extra.String(), "output should also reach cmd.Stdout")
}

func TestStartProcessMissingBinary(t *testing.T) {
	_, err := StartProcess(exec.Command("/nonexistent/emulator"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// alive reports whether pid is a live process; a zombie counts as dead,
// because in a container nobody may reap the orphaned child.
func alive(t *testing.T, pid int) bool {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		// No /proc (not Linux): fall back to signal 0, which sees zombies as alive.
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// assertPortFree checks that something can listen on 127.0.0.1:port.
func assertPortFree(t *testing.T, port int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if !assert.NoError(t, err, "port %d should be free", port) {
		return
	}
	assert.NoError(t, l.Close())
}
