package emulators

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// requireProgram returns the path of the named program, or an error that
// tells the user what to install, because "executable file not found"
// alone does not say which package provides it.
func requireProgram(name, hint string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("emulators: %s is required but was not found on PATH; %s: %w", name, hint, err)
	}
	return path, nil
}

// npmHint and javaHint tell the user how to get npm and java.
const (
	npmHint  = "install Node.js and npm (Debian: apt-get install nodejs npm)"
	javaHint = "install a Java 17 or later runtime (Debian: apt-get install openjdk-17-jre-headless)"
)

// npmPack fetches the npm package spec (name@version) as a tarball with
// `npm pack`, which downloads it without installing its dependencies or
// running its scripts, and extracts into dir the entries for which keep
// returns a path relative to dir. The tarball is fetched inside dir, so an
// interrupted install leaves it only in the temporary directory that ensure
// removes.
func npmPack(ctx context.Context, dir, spec string, keep func(name string) (rel string, ok bool)) error {
	npm, err := requireProgram("npm", npmHint)
	if err != nil {
		return err
	}
	packDir := filepath.Join(dir, ".npm-pack")
	if err := os.Mkdir(packDir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--ignore-scripts", "--silent")
	cmd.Dir = packDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm pack %s: %w; output:\n%s", spec, err, tail(out, 2000))
	}
	tarballs, err := filepath.Glob(filepath.Join(packDir, "*.tgz"))
	if err != nil {
		return err
	}
	if len(tarballs) != 1 {
		return fmt.Errorf("npm pack %s: want one tarball, found %d", spec, len(tarballs))
	}
	if err := extractTarGz(tarballs[0], dir, keep); err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(tarballs[0]), err)
	}
	return os.RemoveAll(packDir)
}

// extractTarGz writes the regular files of the gzipped tarball at path for
// which keep returns a relative path to that path under dir. It is written
// with archive/tar rather than by running tar so that it behaves the same
// everywhere and rejects entries that would land outside dir.
func extractTarGz(path, dir string, keep func(name string) (rel string, ok bool)) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	extracted := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		rel, ok := keep(hdr.Name)
		if !ok {
			continue
		}
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("entry %q would be written outside the install directory", hdr.Name)
		}
		if err := writeFile(filepath.Join(dir, rel), tr, hdr.FileInfo().Mode().Perm()); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		extracted++
	}
	if extracted == 0 {
		return errors.New("no wanted entries in the tarball")
	}
	return nil
}

// writeFile creates path (and its parent directories) with the contents of r.
func writeFile(path string, r io.Reader, perm os.FileMode) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	// The close error matters: it can be the first report of a full disk.
	defer func() { err = errors.Join(err, f.Close()) }()
	_, err = io.Copy(f, r)
	return err
}

// goInstall builds pkg (path@version) with `go install` into dir. With an
// explicit version, go install runs outside module mode and ignores the
// go.mod of the current directory, so the tool is built with its own
// dependency versions rather than the project's. CGO is off so the binary
// does not depend on the C library it was built against.
func goInstall(ctx context.Context, dir, pkg string) error {
	goCmd, err := requireProgram("go", "install Go 1.26 or later")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goCmd, "install", pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s: %w; output:\n%s", pkg, err, tail(out, 4000))
	}
	return nil
}
