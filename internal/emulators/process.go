package emulators

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop lets a process group shut down after SIGTERM
// before it sends SIGKILL. Emulators keep their state in memory, so there is
// nothing to flush and a short grace keeps test teardown fast.
const stopGrace = 3 * time.Second

// Process is a running child process, started in a process group of its own
// so that Stop reaches every process it spawned (RIE runs the function's
// bootstrap as its child) and so that a Ctrl-C in the terminal does not
// kill an emulator before its owner stops it. Standard output and standard
// error are captured together in one buffer.
type Process struct {
	cmd   *exec.Cmd
	out   *syncBuffer
	start time.Time

	done    chan struct{} // closed once cmd.Wait has returned
	waitErr error         // what cmd.Wait returned; read only after done is closed

	stopOnce sync.Once
	stopErr  error
}

// StartProcess starts cmd in a new process group and captures its standard
// output and standard error. If cmd.Stdout or cmd.Stderr is already set, the
// output goes there as well as to the capture buffer. The process is not tied
// to a context: it runs until Stop is called or it exits by itself.
func StartProcess(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = teeTo(p.out, cmd.Stdout)
	cmd.Stderr = teeTo(p.out, cmd.Stderr)
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild that escaped the process group could hold the output pipe
	// open forever; WaitDelay bounds how long Wait waits for it.
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulators: start %s: %w", cmd.Path, err)
	}
	p.start = time.Now()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// teeTo returns a writer to buf and, if extra is not nil, to extra as well.
func teeTo(buf *syncBuffer, extra io.Writer) io.Writer {
	if extra == nil {
		return buf
	}
	return io.MultiWriter(buf, extra)
}

// Pid returns the process id, which is also the id of its process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started returns when the process was started.
func (p *Process) Started() time.Time { return p.start }

// Output returns a copy of everything the process has written so far to its
// standard output and standard error, interleaved as written. It is safe to
// call while the process runs.
func (p *Process) Output() []byte { return p.out.Bytes() }

// Done returns a channel that is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process exited (nil for status 0) once Done is
// closed, and nil before that.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Stop terminates the process and everything else in its process group:
// SIGTERM first, SIGKILL after a short grace period, then it waits for the
// process to exit. Stop may be called more than once and from several
// goroutines; later calls return the first call's result. It returns an
// error only if the group could not be signalled; the process's own exit
// status is reported by Err.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	pgid := p.Pid()
	select {
	case <-p.done:
	default:
		if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
		}
	}
	// The leader may have exited on SIGTERM (or before Stop was called)
	// while a child of it still runs, so the group is killed either way.
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// signalGroup sends sig to every process in the group pgid. A group that no
// longer exists is not an error: there is nothing left to stop.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("emulators: signal process group %d with %v: %w", pgid, sig, err)
	}
	return nil
}

// syncBuffer is a bytes.Buffer that a process's output copier can write to
// while another goroutine reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of the buffer's contents.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// asks the kernel for one by listening on port 0 and closing the listener,
// so another program may take the port before the caller binds it; starters
// in this package retry with a new port when that happens.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulators: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("emulators: find a free port: %w", err)
	}
	return port, nil
}

// readyPollInterval is how often waitReady probes a starting server.
const readyPollInterval = 50 * time.Millisecond

// errExitedEarly reports that a server process exited before it became
// ready, which is how a port taken between FreePort and bind shows up.
var errExitedEarly = errors.New("emulators: process exited before it was ready")

// waitReady calls probe until it succeeds, the process exits, timeout
// passes, or ctx is done. Each probe gets a context bounded by the remaining
// time. The error includes the tail of the process's output, because that is
// where the reason (a Java error, a port in use) is.
func waitReady(ctx context.Context, p *Process, timeout time.Duration, probe func(context.Context) error) error {
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = probe(probeCtx); lastErr == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%w (%v); output:\n%s", errExitedEarly, p.Err(), tail(p.Output(), 2000))
		case <-probeCtx.Done():
			if ctx.Err() != nil {
				// The caller gave up (Ctrl-C): the output says nothing useful.
				return fmt.Errorf("emulators: stopped waiting for the server: %w", context.Cause(ctx))
			}
			return fmt.Errorf("emulators: not ready after %v (last probe: %v); output:\n%s",
				timeout, lastErr, tail(p.Output(), 2000))
		case <-tick.C:
		}
	}
}

// tail returns at most the last n bytes of b as a string.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// maxPortAttempts bounds how often a starter retries with fresh ports.
const maxPortAttempts = 3

// retryOnEarlyExit calls start, which picks free ports, starts a server on
// them and waits until it is ready, again with new ports if the server
// exited before it was ready: the likely cause is that another program took
// a port in the moment after FreePort released it. start must wrap
// errExitedEarly in that case.
func retryOnEarlyExit[T any](start func() (T, error)) (T, error) {
	var v T
	var err error
	for range maxPortAttempts {
		if v, err = start(); err == nil || !errors.Is(err, errExitedEarly) {
			return v, err
		}
	}
	return v, err
}

// joinStop stops a server that failed to become ready and adds any error
// from stopping it to err, keeping err's kind for errors.Is.
func joinStop(err error, s interface{ Stop() error }) error {
	if serr := s.Stop(); serr != nil {
		return fmt.Errorf("%w (and stopping it: %v)", err, serr)
	}
	return err
}
