package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mountainhighway/marketplace/internal/lambdabuild"
	"github.com/mountainhighway/marketplace/internal/registry"
)

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "dist", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, fn := range registry.All() {
		bin, err := lambdabuild.Bootstrap(ctx, ".", fn.Name, *out, lambdabuild.Lambda)
		if err != nil {
			return err
		}
		zipPath := filepath.Join(*out, fn.Name+".zip")
		if err := lambdabuild.Zip(bin, zipPath); err != nil {
			return fmt.Errorf("zip %s: %w", fn.Name, err)
		}
		st, err := os.Stat(zipPath)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-24s %7.2f MB\n", zipPath, float64(st.Size())/(1<<20))
	}
	return nil
}
