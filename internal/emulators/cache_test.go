package emulators

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingTool returns a tool that writes a file named "done" and counts
// how often it was installed.
func countingTool(calls *atomic.Int32) tool {
	return tool{name: "fake", version: "1.0.0", install: func(ctx context.Context, dir string) error {
		calls.Add(1)
		return os.WriteFile(filepath.Join(dir, "done"), []byte("complete"), 0o644)
	}}
}

func TestEnsureInstallsOnceAndReuses(t *testing.T) {
	cache := t.TempDir()
	var calls atomic.Int32
	tl := countingTool(&calls)

	dir, err := tl.ensure(t.Context(), cache)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "fake-1.0.0"), dir)
	assert.FileExists(t, filepath.Join(dir, "done"))

	again, err := tl.ensure(t.Context(), cache)
	require.NoError(t, err)
	assert.Equal(t, dir, again)
	assert.Equal(t, int32(1), calls.Load(), "install calls")
	assert.Empty(t, tempDirs(t, cache), "temporary directories left behind")
}

func TestEnsureConcurrentCallersInstallOnce(t *testing.T) {
	cache := t.TempDir()
	var calls atomic.Int32
	tl := countingTool(&calls)
	slow := tl.install
	tl.install = func(ctx context.Context, dir string) error {
		// Long enough for the other callers to find the lock taken.
		time.Sleep(300 * time.Millisecond)
		return slow(ctx, dir)
	}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = tl.ensure(t.Context(), cache) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), calls.Load(), "install calls")
}

func TestEnsureFailedInstallLeavesNothing(t *testing.T) {
	cache := t.TempDir()
	tl := tool{name: "fake", version: "1.0.0", install: func(ctx context.Context, dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return errors.New("network down")
	}}

	_, err := tl.ensure(t.Context(), cache)
	require.ErrorContains(t, err, "network down")
	assert.NoDirExists(t, filepath.Join(cache, "fake-1.0.0"))
	assert.Empty(t, tempDirs(t, cache), "temporary directories left behind")
}

// helperCacheEnv names the cache directory for TestHelperHangingInstall
// when it runs as a child of TestEnsureRedoesKilledInstall.
const helperCacheEnv = "MH_EMULATORS_TEST_HANGING_INSTALL_CACHE"

// TestHelperHangingInstall is not a test: TestEnsureRedoesKilledInstall runs
// the test binary with only this function selected, to have a process it
// can kill in the middle of an install.
func TestHelperHangingInstall(t *testing.T) {
	cache := os.Getenv(helperCacheEnv)
	if cache == "" {
		t.Skip("runs only as a child of TestEnsureRedoesKilledInstall")
	}
	tl := tool{name: "fake", version: "1.0.0", install: func(ctx context.Context, dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		<-ctx.Done() // until killed
		return ctx.Err()
	}}
	_, err := tl.ensure(context.Background(), cache)
	require.NoError(t, err)
}

func TestEnsureRedoesKilledInstall(t *testing.T) {
	cache := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHangingInstall$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperCacheEnv+"="+cache)
	require.NoError(t, cmd.Start())
	// Wait until the child is halfway: its temporary directory has a file.
	require.Eventually(t, func() bool {
		half, err := filepath.Glob(filepath.Join(cache, ".tmp-fake-1.0.0-*", "half"))
		return err == nil && len(half) == 1
	}, 30*time.Second, 20*time.Millisecond, "child never started installing")
	require.NoError(t, cmd.Process.Kill())
	require.Error(t, cmd.Wait(), "the child should die from SIGKILL")
	require.NoDirExists(t, filepath.Join(cache, "fake-1.0.0"), "a killed install must not look done")
	require.Len(t, tempDirs(t, cache), 1)

	var calls atomic.Int32
	dir, err := countingTool(&calls).ensure(t.Context(), cache)
	require.NoError(t, err)
	assert.Equal(t, int32(1), calls.Load(), "install calls")
	assert.FileExists(t, filepath.Join(dir, "done"))
	assert.NoFileExists(t, filepath.Join(dir, "half"))
	assert.Empty(t, tempDirs(t, cache), "the killed install's directory should be removed")
}

func TestEnsureHonoursContextWhileWaitingForLock(t *testing.T) {
	cache := t.TempDir()
	unlock, err := lockFile(t.Context(), filepath.Join(cache, "fake-1.0.0.lock"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, unlock()) })

	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = countingTool(&calls).ensure(ctx, cache)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, calls.Load(), "install calls")
}

// tempDirs returns the temporary install directories in cache.
func tempDirs(t *testing.T, cache string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(cache, ".tmp-*"))
	require.NoError(t, err)
	return dirs
}
