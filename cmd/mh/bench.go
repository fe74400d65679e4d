package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/demo"
	"github.com/mountainhighway/marketplace/internal/devstack"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/emulators"
	"github.com/mountainhighway/marketplace/internal/lambdabuild"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/loadtest"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/token"
)

type benchOpts struct {
	out       string
	duration  time.Duration
	workers   int
	colds     int
	listings  int
	dynamoURL string
	rie       string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := benchOpts{}
	fs.StringVar(&o.out, "out", "docs/performance.md", "markdown report to write (empty: print only)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "load duration per route")
	fs.IntVar(&o.workers, "workers", 8, "concurrent clients")
	fs.IntVar(&o.colds, "cold-starts", 5, "cold starts measured per function")
	fs.IntVar(&o.listings, "listings", 1000, "listings seeded for the latency runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.dynamoURL, o.rie = os.Getenv("MH_TEST_DYNAMODB_ENDPOINT"), os.Getenv("MH_TEST_RIE")
	if o.dynamoURL == "" || o.rie == "" {
		return errors.New("mh bench needs DynamoDB Local and the Lambda emulator: run it as `make bench` (mh stack -- mh bench)")
	}

	var report bytes.Buffer
	w := io.MultiWriter(stdout, &report)
	fmt.Fprintf(w, "# Performance\n\nMeasured by `make bench` (`mh stack -- mh bench -duration %s -workers %d -cold-starts %d -listings %d`) on %s, %s, %d CPUs, %s.\n",
		o.duration, o.workers, o.colds, o.listings, time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintln(w, "Figures are from one run on a shared 2-core machine: compare ratios within a run, not absolute numbers across runs.")

	tmp, err := os.MkdirTemp("", "mh-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	if err := benchSizes(ctx, w, tmp); err != nil {
		return err
	}
	if err := benchColdStarts(ctx, w, tmp, o); err != nil {
		return err
	}
	if err := benchLatency(ctx, w, o); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, report.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", o.out)
	}
	return nil
}

func benchSizes(ctx context.Context, w io.Writer, tmp string) error {
	fmt.Fprintln(w, "\n## Binary size (linux/arm64, as deployed)\n\n| function | bootstrap | zip |\n|---|---:|---:|")
	for _, fn := range registry.All() {
		bin, err := lambdabuild.Bootstrap(ctx, ".", fn.Name, filepath.Join(tmp, "arm64"), lambdabuild.Lambda)
		if err != nil {
			return err
		}
		zipPath := filepath.Join(tmp, "arm64", fn.Name+".zip")
		if err := lambdabuild.Zip(bin, zipPath); err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", fn.Name, mib(bin), mib(zipPath))
	}
	return nil
}

func mib(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f MiB", float64(st.Size())/(1<<20))
}

// benchColdStarts runs each function's host-arch binary under the Lambda
// emulator, a fresh process per sample, and reads the init duration RIE
// reports, next to a hello-world aws-lambda-go bootstrap built the same way.
func benchColdStarts(ctx context.Context, w io.Writer, tmp string, o benchOpts) error {
	host := lambdabuild.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	hello := filepath.Join(tmp, "host", "hello", "bootstrap")
	if err := lambdabuild.Package(ctx, ".", "./cmd/mh/testdata/hello", hello, host); err != nil {
		return err
	}
	table := fmt.Sprintf("bench-cold-%d", time.Now().UnixNano())
	db, err := dynamo.NewClient(ctx, "eu-west-1", o.dynamoURL)
	if err != nil {
		return err
	}
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		return err
	}
	k, err := token.NewKey(time.Now())
	if err != nil {
		return err
	}
	signing, err := token.KeySet{Keys: []token.Key{k}}.Marshal()
	if err != nil {
		return err
	}
	env := append([]string{}, "STAGE=bench", "TABLE_NAME="+table, "DYNAMODB_ENDPOINT="+o.dynamoURL,
		"CURSOR_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), "AWS_REGION=eu-west-1",
		"SIGNING_KEYS="+base64.StdEncoding.EncodeToString(signing), "ISSUER=https://api.example.test",
		"S3_ENDPOINT=http://127.0.0.1:9", "UPLOADS_BUCKET=bench-uploads", "MEDIA_BUCKET=bench-media", "MEDIA_BASE_URL=https://media.example.test")
	helloInit, err := coldStarts(ctx, o.rie, hello, env, o.colds, []byte(`{}`))
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	fmt.Fprintf(w, "\n## Cold start under the Lambda Runtime Interface Emulator (%s, median of %d)\n\n", host.GOOS+"/"+host.GOARCH, o.colds)
	fmt.Fprint(w, "Init = from starting `bootstrap` until it asks for its first event (RIE's INIT REPORT); it includes the function's own set-up (config, AWS SDK client).\n\n")
	fmt.Fprintln(w, "| function | init | vs hello world |\n|---|---:|---:|")
	fmt.Fprintf(w, "| hello world (aws-lambda-go) | %s | 1.0× |\n", fmtDur(helloInit))
	for _, fn := range registry.HTTP() {
		bin, err := lambdabuild.Bootstrap(ctx, ".", fn.Name, filepath.Join(tmp, "host"), host)
		if err != nil {
			return err
		}
		sample, err := firstSample(fn.Name)
		if err != nil {
			return err
		}
		d, err := coldStarts(ctx, o.rie, bin, env, o.colds, sample)
		if err != nil {
			return fmt.Errorf("%s: %w", fn.Name, err)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f× |\n", fn.Name, fmtDur(d), float64(d)/float64(helloInit))
	}
	return nil
}

func firstSample(name string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join("events", "apigw-"+name+"-*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no sample event for %s", name)
	}
	slices.Sort(files)
	return os.ReadFile(files[0])
}

func coldStarts(ctx context.Context, rie, bootstrap string, env []string, n int, payload []byte) (time.Duration, error) {
	var inits []time.Duration
	for i := 0; i < n; i++ {
		r, err := emulators.StartRIE(ctx, rie, bootstrap, env)
		if err != nil {
			return 0, err
		}
		_, err = r.Invoke(ctx, payload)
		d, ok := r.InitDuration()
		if stopErr := r.Stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("no init report in the emulator output:\n%s", r.Output())
		}
		inits = append(inits, d)
	}
	return loadtest.Summarize(inits).P50, nil
}

// benchLatency serves the listing routes from the dev server's handlers
// over DynamoDB Local, loads them, and measures DynamoDB Local's own
// GetItem and Query in the same run as the floor to compare with.
func benchLatency(ctx context.Context, w io.Writer, o benchOpts) error {
	calls := dynamo.NewCalls()
	table := fmt.Sprintf("bench-load-%d", time.Now().UnixNano())
	s, err := devstack.Start(ctx, devstack.Options{
		Addr: "127.0.0.1:0", Out: io.Discard, DynamoEndpoint: o.dynamoURL, Table: table,
		DynamoOptions: []func(*dynamodb.Options){calls.Option()},
	})
	if err != nil {
		return err
	}
	defer s.Close()
	db, err := dynamo.NewClient(ctx, "eu-west-1", o.dynamoURL)
	if err != nil {
		return err
	}
	seeded := demo.Listings(o.listings, 7, time.Now())
	if err := dynamo.NewListings(db, table).Put(ctx, seeded...); err != nil {
		return err
	}
	index := dynamo.NewSearchIndex(db, table)
	var ids, words []string
	for i, l := range seeded {
		if l.Status == listing.Published {
			ids = append(ids, l.ID)
			words = append(words, strings.Fields(l.Title)[len(strings.Fields(l.Title))-1])
		}
		if err := index.Reindex(ctx, nil, &seeded[i]); err != nil {
			return err
		}
	}
	cats := listing.Categories()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.workers}}
	get := func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}

	type run struct {
		name string
		do   func(ctx context.Context, worker, i int) error
	}
	routes := []run{
		{"GET /v1/listings/{id}", func(ctx context.Context, _, _ int) error {
			return get(ctx, s.URL+"/v1/listings/"+ids[rand.IntN(len(ids))])
		}},
		{"GET /v1/listings?category=…&limit=20", func(ctx context.Context, _, _ int) error {
			return get(ctx, s.URL+"/v1/listings?limit=20&category="+cats[rand.IntN(len(cats))])
		}},
		{"GET /v1/listings?limit=20", func(ctx context.Context, _, _ int) error {
			return get(ctx, s.URL+"/v1/listings?limit=20")
		}},
		{"GET /v1/listings?category=…&minPrice=…&maxPrice=…", func(ctx context.Context, _, _ int) error {
			return get(ctx, s.URL+"/v1/listings?limit=20&minPrice=1000&maxPrice=20000&category="+cats[rand.IntN(len(cats))])
		}},
		{"GET /v1/listings?q=<one word>", func(ctx context.Context, _, _ int) error {
			return get(ctx, s.URL+"/v1/listings?limit=20&q="+url.QueryEscape(words[rand.IntN(len(words))]))
		}},
	}
	floor := []run{
		{"DynamoDB Local GetItem", func(ctx context.Context, _, _ int) error {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "LISTING#" + ids[rand.IntN(len(ids))]},
				"SK": &types.AttributeValueMemberS{Value: "LISTING"},
			}})
			return err
		}},
		{"DynamoDB Local Query (GSI1, 21 items)", func(ctx context.Context, _, _ int) error {
			_, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName: aws.String(table), IndexName: aws.String("GSI1"),
				KeyConditionExpression:    aws.String("GSI1PK = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "CATEGORY#" + cats[rand.IntN(len(cats))]}},
				ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(21),
			})
			return err
		}},
	}

	fmt.Fprintf(w, "\n## Listing routes over DynamoDB Local (%d workers × %s each, %d listings)\n\n", o.workers, o.duration, o.listings)
	fmt.Fprint(w, "Routes are served by the same handlers and wrapper as the Lambda functions (dev server over loopback HTTP); the floor is the same AWS SDK client calling DynamoDB Local directly. Ratio = route p50 / floor p50 (GetItem for the item route, Query for the lists). The load client accepts gzip, as browsers and mobile HTTP stacks do, so list pages are compressed (BestSpeed) in these figures.\n\n")
	fmt.Fprintln(w, "| target | requests | req/s | p50 | p95 | p99 | errors | DynamoDB calls/request | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	// Warm up DynamoDB Local's JVM and both clients first, so that neither
	// the floor nor the routes measure JIT compilation.
	for _, r := range append(slices.Clone(floor), routes...) {
		loadtest.Run(ctx, o.workers, o.duration/5, r.do)
	}
	floorResults := make([]loadtest.Result, len(floor))
	for i, f := range floor {
		floorResults[i] = loadtest.Run(ctx, o.workers, o.duration, f.do)
		row(w, f.name, floorResults[i], "1", "1.0×")
	}
	var worst time.Duration
	for i, rt := range routes {
		calls.Reset()
		res := loadtest.Run(ctx, o.workers, o.duration, rt.do)
		perReq := "–"
		if res.Requests > 0 {
			perReq = fmt.Sprintf("%.2f", float64(calls.Total())/float64(res.Requests+res.Errors))
		}
		base := floorResults[1]
		if i == 0 {
			base = floorResults[0]
		}
		ratio := "–"
		if base.P50 > 0 {
			ratio = fmt.Sprintf("%.1f×", float64(res.P50)/float64(base.P50))
		}
		row(w, rt.name, res, perReq, ratio)
		if ops := calls.Snapshot(); ops["Scan"] > 0 {
			return fmt.Errorf("%s used Scan %d times", rt.name, ops["Scan"])
		}
		worst = max(worst, res.P95)
	}
	fmt.Fprintf(w, "\nWorst route p95 in this run: %s, against the brief's 200 ms target (which also covers API Gateway and the network, not measured here). No route made a Scan.\n", fmtDur(worst))
	return nil
}

func row(w io.Writer, name string, r loadtest.Result, calls, ratio string) {
	fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %d | %s | %s |\n", name, r.Requests, r.Throughput(),
		fmtDur(r.P50), fmtDur(r.P95), fmtDur(r.P99), r.Errors, calls, ratio)
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}
