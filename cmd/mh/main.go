// Command mh is the engineers' command line: mh dev runs the system locally,
// mh stack runs a command against the faithful local AWS stand-ins, and
// mh bench measures it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run every route on 127.0.0.1:8080 with embedded DynamoDB and S3, seeded with demo data", runDev},
		{"stack", "run a command with DynamoDB Local and the Lambda emulator available (used by make test)", runStack},
		{"build", "build every function for linux/arm64 and zip it to dist/<name>.zip", runBuild},
		{"keys", "rotate the access-token signing keys (Secrets Manager + table JWKS), or generate a local key set", runKeys},
		{"bench", "measure binary sizes, cold starts and listing latency; write docs/performance.md", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var exit exitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mh:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		for _, c := range commands() {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
	}
	fmt.Fprintln(stderr, "usage: mh <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(stderr, "  %-6s %s\n", c.name, c.usage)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}
