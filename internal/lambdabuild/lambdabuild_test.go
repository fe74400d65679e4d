package lambdabuild_test

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/lambdabuild"
)

// moduleRoot is the module root relative to this package's directory, where
// go test runs.
const moduleRoot = "../.."

// MustWrite writes data to a new file in dir and returns its path.
func MustWrite(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, os.WriteFile(p, data, 0o644))
	return p
}

// MustZip zips bootstrap into a new file in dir and returns its bytes.
func MustZip(tb testing.TB, bootstrap, dir, name string) []byte {
	tb.Helper()
	p := filepath.Join(dir, name)
	require.NoError(tb, lambdabuild.Zip(bootstrap, p))
	b, err := os.ReadFile(p)
	require.NoError(tb, err)
	return b
}

func TestZipIsReproducible(t *testing.T) {
	dir := t.TempDir()
	binary := bytes.Repeat([]byte("\x7fELF binary bytes "), 1000)
	in := MustWrite(t, dir, "bootstrap-in", binary)

	first := MustZip(t, in, dir, "a.zip")
	// A later modification time of the input must not change the archive.
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(in, later, later))
	second := MustZip(t, in, dir, "b.zip")
	assert.True(t, bytes.Equal(first, second), "Zip of the same input differs between runs")

	other := MustZip(t, MustWrite(t, dir, "other", append(binary, '!')), dir, "c.zip")
	assert.False(t, bytes.Equal(first, other), "Zip of different inputs is identical")

	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	require.NoError(t, err)
	require.Len(t, zr.File, 1, "one entry")
	f := zr.File[0]
	assert.Equal(t, "bootstrap", f.Name)
	assert.Equal(t, fs.FileMode(0o755), f.Mode().Perm(), "bootstrap mode = %v, want 0755", f.Mode())
	assert.True(t, f.Mode().IsRegular(), "bootstrap is a regular file, mode %v", f.Mode())
	assert.Equal(t, zip.Deflate, f.Method)
	assert.True(t, f.Modified.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), "fixed timestamp, got %v", f.Modified)
	rc, err := f.Open()
	require.NoError(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(binary, got), "the entry holds the binary's bytes")
}

func TestZipErrors(t *testing.T) {
	dir := t.TempDir()
	in := MustWrite(t, dir, "bootstrap", []byte("x"))
	tests := []struct {
		name      string
		bootstrap string
		zipPath   string
	}{
		{"missing input", filepath.Join(dir, "nope"), filepath.Join(dir, "out.zip")},
		{"output in a missing directory", in, filepath.Join(dir, "missing", "out.zip")},
		{"input is a directory", dir, filepath.Join(dir, "dir.zip")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, lambdabuild.Zip(tt.bootstrap, tt.zipPath))
		})
	}
}

func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a function")
	}
	out := t.TempDir()
	host := lambdabuild.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	path, err := lambdabuild.Bootstrap(t.Context(), moduleRoot, "health", out, host)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(out, "health", "bootstrap"), path)
	fi, err := os.Stat(path)
	require.NoError(t, err, "the binary exists")
	assert.True(t, fi.Mode().IsRegular())
	assert.NotZero(t, fi.Mode().Perm()&0o111, "the binary is executable, mode %v", fi.Mode())
	assert.Greater(t, fi.Size(), int64(1<<20), "a Go binary")

	// The binary zips into a deployable archive.
	zipped := MustZip(t, path, out, "health.zip")
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	require.NoError(t, err)
	require.Len(t, zr.File, 1)
	assert.Equal(t, uint64(fi.Size()), zr.File[0].UncompressedSize64)
}

func TestBootstrapReportsBuildOutput(t *testing.T) {
	host := lambdabuild.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	_, err := lambdabuild.Bootstrap(t.Context(), moduleRoot, "no-such-function", t.TempDir(), host)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "lambdabuild: go build")
	assert.Contains(t, msg, "no-such-function")
	// go build's own diagnostic, from its stderr, is part of the error.
	assert.Regexp(t, `stat .*functions/no-such-function: directory not found`, msg)
	assert.Contains(t, msg, "exit status 1")
}

func TestLambdaTarget(t *testing.T) {
	assert.Equal(t, lambdabuild.Target{GOOS: "linux", GOARCH: "arm64"}, lambdabuild.Lambda)
	assert.Subset(t, lambdabuild.Flags, []string{"-trimpath", "lambda.norpc"})
}
