package emulators

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// CacheDir returns the directory under which tools are installed:
// mountain-highway inside the user's cache directory. Tools live there, not
// in the clone, so that every checkout and every CI run on a machine reuses
// what was installed once.
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("emulators: find the user cache directory: %w", err)
	}
	return filepath.Join(dir, "mountain-highway"), nil
}

// tool is one external program at one version, installed into its own
// directory <cache>/<name>-<version>. Adding an emulator means declaring a
// tool whose install fills an empty directory, usually with npmPack or
// goInstall.
type tool struct {
	name    string
	version string
	// install puts the tool into dir, an empty directory that becomes the
	// tool's directory only when install returns nil.
	install func(ctx context.Context, dir string) error
}

// ensure returns the tool's directory under cacheDir, installing the tool
// first if it is not there. The directory is filled under a temporary name
// and renamed into place, so it exists only once complete: an install that
// was killed halfway leaves a temporary directory, which the next ensure
// removes and redoes. A lock file makes concurrent callers (test binaries
// of several packages run in parallel) install once and share the result.
func (t tool) ensure(ctx context.Context, cacheDir string) (dir string, err error) {
	key := t.name + "-" + t.version
	final := filepath.Join(cacheDir, key)
	if installed(final) {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("emulators: install %s: %w", key, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, key+".lock"))
	if err != nil {
		return "", fmt.Errorf("emulators: install %s: %w", key, err)
	}
	defer func() { err = errors.Join(err, unlock()) }()
	// Another process may have finished the install while we waited.
	if installed(final) {
		return final, nil
	}
	// Holding the lock, any temporary directory of this tool is the remains
	// of an install that was killed.
	stale, err := filepath.Glob(filepath.Join(cacheDir, ".tmp-"+key+"-*"))
	if err != nil {
		return "", fmt.Errorf("emulators: install %s: %w", key, err)
	}
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return "", fmt.Errorf("emulators: install %s: remove the remains of an interrupted install: %w", key, err)
		}
	}
	// The temporary directory is a sibling of the final one so that the
	// rename stays on one file system and is atomic.
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-"+key+"-")
	if err != nil {
		return "", fmt.Errorf("emulators: install %s: %w", key, err)
	}
	// MkdirTemp makes the directory private; the tool is not a secret.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", errors.Join(fmt.Errorf("emulators: install %s: %w", key, err), os.RemoveAll(tmp))
	}
	if err := t.install(ctx, tmp); err != nil {
		return "", errors.Join(fmt.Errorf("emulators: install %s: %w", key, err), os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", errors.Join(fmt.Errorf("emulators: install %s: %w", key, err), os.RemoveAll(tmp))
	}
	return final, nil
}

// installed reports whether dir exists. Because a tool's directory appears
// only by an atomic rename of a complete install, existing means complete.
func installed(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// lockPollInterval is how often lockFile retries a lock held by another
// process. The lock is held for a whole install (seconds to a minute), so
// polling costs nothing noticeable and lets the wait honour ctx.
const lockPollInterval = 200 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed,
// and returns the function that releases it. The kernel releases the lock
// when its holder dies, so a killed install never blocks the next one.
func lockFile(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	for {
		ferr := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if ferr == nil {
			// Closing the file releases the lock.
			return f.Close, nil
		}
		if !errors.Is(ferr, syscall.EWOULDBLOCK) {
			return nil, errors.Join(fmt.Errorf("lock %s: %w", path, ferr), f.Close())
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("wait for lock %s: %w", path, ctx.Err()), f.Close())
		case <-time.After(lockPollInterval):
		}
	}
}
