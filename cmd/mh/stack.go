package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mountainhighway/marketplace/internal/emulators"
)

// The variables through which mh stack tells the command where the services are.
const (
	envDynamoDBEndpoint = "MH_TEST_DYNAMODB_ENDPOINT"
	envSQSEndpoint      = "MH_TEST_SQS_ENDPOINT"
	envS3Endpoint       = "MH_TEST_S3_ENDPOINT"
	envS3AccessKey      = "MH_TEST_S3_ACCESS_KEY"
	envS3SecretKey      = "MH_TEST_S3_SECRET_KEY"
	envRIE              = "MH_TEST_RIE"
)

// stackServices lists the services mh stack can provide, in start order.
var stackServices = []string{"dynamodb", "sqs", "s3", "rie"}

// commandKillDelay is how long mh stack lets the command react to the
// context being cancelled before it kills the command's process group.
const commandKillDelay = 10 * time.Second

// signalGrace is how long mh stack, when the context is cancelled, waits
// for the signal that probably cancelled it before it sends SIGTERM.
const signalGrace = 100 * time.Millisecond

// exitError reports that a command run by mh exited with a non-zero status
// (128+N if it was killed by signal N, as shells report it); main exits
// with the same code instead of printing an error.
type exitError struct{ code int }

// Error returns the exit status as text.
func (e exitError) Error() string { return fmt.Sprintf("command exited with status %d", e.code) }

// runStack implements `mh stack [--only dynamodb,sqs,rie] -- <command> [args...]`:
// it installs and starts the selected services, runs the command with
// MH_TEST_DYNAMODB_ENDPOINT, MH_TEST_SQS_ENDPOINT and MH_TEST_RIE set (for
// the services selected), and stops the services when
// the command ends. SIGINT and SIGTERM are forwarded to the command, which
// runs in a process group of its own so that the signal reaches everything
// it started exactly once. The command's non-zero exit status is returned
// as an exitError.
func runStack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh stack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", strings.Join(stackServices, ","), "comma-separated `services` to start: "+strings.Join(stackServices, ", "))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mh stack [--only %s] -- <command> [args...]\n\n"+
			"Runs the command with DynamoDB Local started (URL in %s),\n"+
			"local-aws-sqs started (URL in %s), MinIO started (URL and\n"+
			"credentials in %s, %s, %s) and the Lambda Runtime\n"+
			"Interface Emulator installed (path in %s), then stops what it\n"+
			"started and exits with the command's status.\n\n",
			strings.Join(stackServices, ","), envDynamoDBEndpoint, envSQSEndpoint, envS3Endpoint, envS3AccessKey, envS3SecretKey, envRIE)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage was asked for and has been printed
		}
		return err
	}
	command := fs.Args()
	if len(command) == 0 {
		fs.Usage()
		return errors.New("stack: no command given")
	}
	want, err := parseServices(*only)
	if err != nil {
		return err
	}
	cacheDir, err := emulators.CacheDir()
	if err != nil {
		return err
	}

	// Registered before anything starts, so that a signal during startup or
	// while the command runs is handled here rather than killing mh and
	// leaving the command orphaned.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	startCtx, stopStartSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	st, err := startStack(startCtx, cacheDir, want)
	if err == nil && startCtx.Err() != nil {
		err = fmt.Errorf("stack: interrupted while starting: %w", startCtx.Err())
	}
	stopStartSignals()
	if err != nil {
		return errors.Join(err, st.stop())
	}
	if _, err := fmt.Fprintf(stderr, "mh stack: %s\n", strings.Join(st.where, "; ")); err != nil {
		return errors.Join(err, st.stop())
	}
	runErr := runForwardingSignals(ctx, command, append(os.Environ(), st.env...), stdout, stderr, sigs)
	if err := st.stop(); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// parseServices parses the --only list.
func parseServices(list string) (map[string]bool, error) {
	want := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(stackServices, name) {
			return nil, fmt.Errorf("stack: unknown service %q in --only; known: %s", name, strings.Join(stackServices, ", "))
		}
		want[name] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("stack: --only names no service; known: %s", strings.Join(stackServices, ", "))
	}
	return want, nil
}

// stack is what startStack started: services to stop, variables for the
// command, and a description of each for the user.
type stack struct {
	stoppers []interface{ Stop() error }
	env      []string
	where    []string
}

// startStack installs what is missing and starts the wanted services. On
// error it returns what it had started so far, for the caller to stop.
func startStack(ctx context.Context, cacheDir string, want map[string]bool) (*stack, error) {
	st := &stack{}
	if want["dynamodb"] {
		dir, err := emulators.InstallDynamoDBLocal(ctx, cacheDir)
		if err != nil {
			return st, err
		}
		ddb, err := emulators.StartDynamoDBLocal(ctx, dir)
		if err != nil {
			return st, err
		}
		st.stoppers = append(st.stoppers, ddb)
		st.env = append(st.env, envDynamoDBEndpoint+"="+ddb.Endpoint())
		st.where = append(st.where, fmt.Sprintf("DynamoDB Local at %s (%s)", ddb.Endpoint(), envDynamoDBEndpoint))
	}
	if want["sqs"] {
		dir, err := emulators.InstallLocalSQS(ctx, cacheDir)
		if err != nil {
			return st, err
		}
		q, err := emulators.StartLocalSQS(ctx, dir)
		if err != nil {
			return st, err
		}
		st.stoppers = append(st.stoppers, q)
		st.env = append(st.env, envSQSEndpoint+"="+q.Endpoint())
		st.where = append(st.where, fmt.Sprintf("local-aws-sqs at %s (%s)", q.Endpoint(), envSQSEndpoint))
	}
	if want["s3"] {
		bin, err := emulators.InstallMinIO(ctx, cacheDir)
		if err != nil {
			return st, err
		}
		m, err := emulators.StartMinIO(ctx, bin)
		if err != nil {
			return st, err
		}
		st.stoppers = append(st.stoppers, m)
		st.env = append(st.env,
			envS3Endpoint+"="+m.Endpoint(),
			envS3AccessKey+"="+m.AccessKey(),
			envS3SecretKey+"="+m.SecretKey())
		// The secret goes to the command, never to the screen.
		st.where = append(st.where, fmt.Sprintf("MinIO at %s (%s, %s, %s)", m.Endpoint(), envS3Endpoint, envS3AccessKey, envS3SecretKey))
	}
	if want["rie"] {
		// RIE hosts one function per process, so tests start their own;
		// mh stack only makes sure the binary is there.
		bin, err := emulators.InstallRIE(ctx, cacheDir)
		if err != nil {
			return st, err
		}
		st.env = append(st.env, envRIE+"="+bin)
		st.where = append(st.where, fmt.Sprintf("Lambda RIE binary %s (%s)", bin, envRIE))
	}
	return st, nil
}

// stop stops the services in the reverse order of their start.
func (st *stack) stop() error {
	if st == nil {
		return nil
	}
	var errs []error
	for _, s := range slices.Backward(st.stoppers) {
		errs = append(errs, s.Stop())
	}
	st.stoppers = nil
	return errors.Join(errs...)
}

// runForwardingSignals runs command in a process group of its own with env,
// forwards every signal from sigs to that group, and returns an exitError
// if the command did not exit 0. If ctx is cancelled first, the group gets
// SIGTERM (or the pending signal from sigs) and, after commandKillDelay,
// SIGKILL.
func runForwardingSignals(ctx context.Context, command, env []string, stdout, stderr io.Writer, sigs <-chan os.Signal) error {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = env
	// Standard input stays closed: the command is a test or benchmark run,
	// and a process group that is not the terminal's foreground group
	// would be stopped if it read from the terminal.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// When stdout is not a file, something the command left running could
	// hold the pipe open; this bounds how long Wait waits for it.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var errs []error
	forward := func(sig syscall.Signal) {
		if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("stack: forward %v: %w", sig, err))
		}
	}
	forwarded := false
	ctxDone := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case err := <-done:
			// Whatever the command left running in its group would talk to
			// services that are about to stop.
			forward(syscall.SIGKILL)
			if len(errs) == 0 {
				return exitStatus(err)
			}
			return errors.Join(append(errs, exitStatus(err))...)
		case sig := <-sigs:
			forward(toSyscall(sig))
			forwarded = true
		case <-ctxDone:
			ctxDone = nil
			kill = time.After(commandKillDelay)
			if forwarded {
				continue
			}
			// When main cancels ctx because of a signal, that signal also
			// reaches sigs, a moment before or after; forward it alone
			// rather than a SIGTERM as well.
			select {
			case sig := <-sigs:
				forward(toSyscall(sig))
			case <-time.After(signalGrace):
				forward(syscall.SIGTERM)
			}
			forwarded = true
		case <-kill:
			forward(syscall.SIGKILL)
		}
	}
}

// toSyscall returns sig as a syscall.Signal; only SIGINT and SIGTERM are
// registered, and both are, so the fallback never applies in practice.
func toSyscall(sig os.Signal) syscall.Signal {
	if s, ok := sig.(syscall.Signal); ok {
		return s
	}
	return syscall.SIGTERM
}

// exitStatus turns the result of cmd.Wait into nil or an exitError.
func exitStatus(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if err != nil {
			return fmt.Errorf("stack: %w", err)
		}
		return nil
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitError{code: 128 + int(ws.Signal())}
	}
	return exitError{code: ee.ExitCode()}
}
