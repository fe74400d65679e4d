package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/mountainhighway/marketplace/internal/devstack"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address of the API")
	seed := fs.Int("seed", 300, "number of demo listings to seed (0 for none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := devstack.Start(ctx, devstack.Options{Addr: *addr, Seed: *seed, Out: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, `Mountain Highway dev stack is up (Ctrl-C to stop).
  API         %[1]s
  listings    %[1]s/v1/listings
  health      %[1]s/v1/health
  DynamoDB    %[2]s  (table %[4]s, %[5]d demo listings)
  S3          %[3]s  (bucket %[6]s)
`, s.URL, s.DynamoURL, s.S3URL, devstack.TableName, *seed, devstack.MediaBucket)
	if *seed > 0 {
		fmt.Fprintf(stderr, "  accounts    buyer@example.com, seller@example.com, admin@example.com  (password %s)\n", devstack.DemoPassword)
	}
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping")
	return s.Close()
}
