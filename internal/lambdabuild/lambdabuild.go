// Package lambdabuild compiles function binaries the way the provided.al2023
// runtime runs them — a static `bootstrap` per function — and zips them
// reproducibly, so an unchanged function yields a byte-identical archive and
// the Pulumi program leaves it alone.
package lambdabuild

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Target selects the platform of the binaries.
type Target struct {
	GOOS   string
	GOARCH string
}

// Lambda is the platform the functions run on in AWS.
var Lambda = Target{GOOS: "linux", GOARCH: "arm64"}

// Flags are the build flags of every function binary: no cgo (static, runs
// on any Amazon Linux), no RPC mode (provided.al2023 speaks the Runtime
// API), paths and symbols stripped for size.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Bootstrap compiles ./functions/<name> from module root dir into
// outDir/<name>/bootstrap and returns its path.
func Bootstrap(ctx context.Context, dir, name, outDir string, t Target) (string, error) {
	out := filepath.Join(outDir, name, "bootstrap")
	return out, Package(ctx, dir, "./functions/"+name, out, t)
}

// Package compiles the main package pkg (relative to module root dir) with
// the function build flags into the file out.
func Package(ctx context.Context, dir, pkg, out string, t Target) error {
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lambdabuild: go build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Zip writes an archive holding bootstrap as an executable named
// "bootstrap", with a fixed timestamp so the archive depends only on the
// binary's bytes.
func Zip(bootstrap, zipPath string) (err error) {
	in, err := os.Open(bootstrap)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(out)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return zw.Close()
}
