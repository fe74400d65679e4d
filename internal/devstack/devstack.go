// Package devstack runs the whole system in one process for mh dev: DynamoDB
// served by minidyn's HTTP server, S3 by gofakes3, and every HTTP route of
// the registry served from the same handlers and wrapper the Lambda
// functions run, reached through the real AWS SDK over loopback HTTP.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/demo"
	"github.com/mountainhighway/marketplace/internal/deps"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/imagejob"
	"github.com/mountainhighway/marketplace/internal/jobs"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/password"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/s3media"
	"github.com/mountainhighway/marketplace/internal/telemetry"
	"github.com/mountainhighway/marketplace/internal/token"
)

// Names of the local resources.
const (
	TableName     = "mountain-highway-dev"
	UploadsBucket = "mountain-highway-dev-uploads"
	MediaBucket   = "mountain-highway-dev-media"
	ImagesQueue   = "images"
)

// Options configures a Stack.
type Options struct {
	Addr string    // listen address of the API, 127.0.0.1:8080 by default
	Seed int       // number of demo listings to seed
	Out  io.Writer // function logs and metrics
	// DynamoEndpoint, when set, replaces the embedded minidyn with another
	// DynamoDB (mh bench uses DynamoDB Local); Table names the table to
	// create there (TableName by default).
	DynamoEndpoint string
	Table          string
	// DynamoOptions are applied to the DynamoDB client (e.g. a call counter).
	DynamoOptions []func(*dynamodb.Options)
}

// Stack is a running dev stack.
type Stack struct {
	URL       string // base URL of the API
	DynamoURL string
	S3URL     string

	api    *http.Server
	ln     net.Listener
	dynamo *httptest.Server
	s3     *httptest.Server
	jobs   *jobs.Dispatcher
}

// Start starts the stack and returns once it serves requests.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8080"
	}
	if opts.Table == "" {
		opts.Table = TableName
	}
	s := &Stack{DynamoURL: opts.DynamoEndpoint}
	if s.DynamoURL == "" {
		s.dynamo = httptest.NewServer(miniserver.NewServer())
		s.DynamoURL = s.dynamo.URL
	}

	backend := s3mem.New()
	for _, b := range []string{UploadsBucket, MediaBucket} {
		if err := backend.CreateBucket(b); err != nil {
			s.closeBackends()
			return nil, fmt.Errorf("devstack: s3 bucket: %w", err)
		}
	}
	s.jobs = jobs.New(jobs.Options{})
	s.s3 = httptest.NewServer(notifyUploads(gofakes3.New(backend).Server(), s.jobs))
	s.S3URL = s.s3.URL

	// Listen first: the API's URL is the issuer of its access tokens.
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		s.closeBackends()
		return nil, fmt.Errorf("devstack: listen: %w", err)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	h, err := s.setup(ctx, opts)
	if err != nil {
		s.closeBackends()
		return nil, errors.Join(err, ln.Close())
	}
	s.api = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.api.Serve(ln) }() // Serve returns ErrServerClosed on Close
	return s, nil
}

func (s *Stack) setup(ctx context.Context, opts Options) (http.Handler, error) {
	db, err := dynamo.NewClient(ctx, "eu-west-1", s.DynamoURL, opts.DynamoOptions...)
	if err != nil {
		return nil, err
	}
	if err := dynamo.CreateTable(ctx, db, opts.Table); err != nil {
		return nil, err
	}
	index := dynamo.NewSearchIndex(db, opts.Table)
	store := dynamo.NewListings(db, opts.Table).WithIndex(index)
	if opts.Seed > 0 {
		seeded := demo.Listings(opts.Seed, 1, time.Now())
		if err := store.Put(ctx, seeded...); err != nil {
			return nil, fmt.Errorf("devstack: seed: %w", err)
		}
		for i := range seeded {
			if err := index.Reindex(ctx, nil, &seeded[i]); err != nil {
				return nil, fmt.Errorf("devstack: seed index: %w", err)
			}
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	accounts, verifier, doc, err := s.identity(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	images, err := s.images(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	routes := httpapi.Routes(httpapi.Deps{
		Stage:     "dev",
		Release:   "dev",
		Listings:  listing.NewService(store, cursor.New(key)).WithSearch(index, store, telemetry.Events{}).WithMedia(s3media.BaseURL(s.S3URL + "/" + MediaBucket)),
		Images:    images,
		Probes:    deps.Probes(config.Config{TableName: opts.Table}, db),
		Editor:    listing.NewEditor(store, time.Now),
		Favorites: listing.NewFavorites(dynamo.NewFavorites(db, opts.Table), cursor.New(key), telemetry.Events{}, time.Now).WithMedia(s3media.BaseURL(s.S3URL + "/" + MediaBucket)),
		Views:     listing.NewViews(dynamo.NewFavorites(db, opts.Table), deps.ViewFlushInterval, time.Now),
		Accounts:  accounts,
		Keys:      dynamo.NewKeys(db, opts.Table),
		OpenIDDoc: doc,
	})
	mux := http.NewServeMux()
	for _, fn := range registry.HTTP() {
		h, ok := routes[fn.Name]
		if !ok {
			return nil, fmt.Errorf("devstack: no handler for registry function %s", fn.Name)
		}
		w := lambdahttp.New(lambdahttp.Options{Function: fn, Stage: "dev", LogLevel: slog.LevelInfo, Out: opts.Out, Verifier: verifier})
		mux.Handle(fn.HTTP.Pattern(), w.Handler(h))
	}
	return lambdahttp.Routed(mux), nil
}

// images builds the image service on the embedded S3 and runs the image
// worker behind the in-process images queue, wrapped as in Lambda.
func (s *Stack) images(ctx context.Context, db *dynamodb.Client, opts Options) (*listing.Images, error) {
	client, err := s3media.NewClient(ctx, "eu-west-1", s.S3URL, "local", "local")
	if err != nil {
		return nil, err
	}
	media := s3media.NewListingMedia(client, UploadsBucket, MediaBucket, s.S3URL+"/"+MediaBucket)
	images := listing.NewImages(dynamo.NewListings(db, opts.Table), media, media, telemetry.Events{}, time.Now)
	fn, ok := registry.Lookup("image-worker")
	if !ok || fn.Queue == nil {
		return nil, errors.New("devstack: no image-worker in the registry")
	}
	w := lambdasqs.New(lambdasqs.Options{Function: fn, Stage: "dev", LogLevel: slog.LevelInfo, Out: opts.Out})
	err = s.jobs.Register(fn.Queue.Name, jobs.Consumer{
		Handler:         w.Handler(imagejob.Handler(images)),
		MaxReceiveCount: fn.Queue.MaxReceiveCount,
		BatchSize:       fn.Queue.BatchSize,
		Timeout:         fn.Timeout,
	})
	if err != nil {
		return nil, err
	}
	return images, nil
}

// notifyUploads stands in for the uploads bucket's event notification,
// which gofakes3 lacks: after a successful POST or PUT of a key under
// uploads/ in the uploads bucket, it queues the S3 event AWS would send.
func notifyUploads(next http.Handler, d *jobs.Dispatcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.status/100 != 2 {
			return
		}
		key := uploadKey(r)
		if !strings.HasPrefix(key, s3media.UploadsPrefix) {
			return
		}
		body, err := json.Marshal(events.S3Event{Records: []events.S3EventRecord{{
			EventSource: "aws:s3", EventName: "ObjectCreated:Post", AWSRegion: "eu-west-1",
			S3: events.S3Entity{Bucket: events.S3Bucket{Name: UploadsBucket}, Object: events.S3Object{Key: url.QueryEscape(key)}},
		}}})
		if err == nil {
			_, _ = d.Enqueue(r.Context(), ImagesQueue, body, nil) // best effort, like S3's own notifications
		}
	})
}

// uploadKey returns the key of a PUT (from the path) or of a form POST
// (from the form field gofakes3 parsed, left in the request).
func uploadKey(r *http.Request) string {
	if !strings.HasPrefix(r.URL.Path, "/"+UploadsBucket) {
		return ""
	}
	prefix := "/" + UploadsBucket + "/"
	if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, prefix) {
		return strings.TrimPrefix(r.URL.Path, prefix)
	}
	if r.MultipartForm != nil {
		if ks := r.MultipartForm.Value["key"]; len(ks) == 1 {
			return ks[0]
		}
	}
	return ""
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// DemoPassword is the password of every demo account.
const DemoPassword = "mountain-highway-demo"

// DemoAccounts are the seeded accounts, one per role, by email.
var DemoAccounts = map[string][]auth.Role{
	"buyer@example.com":  {auth.Buyer},
	"seller@example.com": {auth.Buyer, auth.Seller},
	"admin@example.com":  {auth.Admin, auth.Buyer},
}

// identity generates this run's signing key, publishes its public half in
// the table (where every verifier reads it, as in AWS), and seeds the demo
// accounts when demo data is wanted.
func (s *Stack) identity(ctx context.Context, db *dynamodb.Client, opts Options) (*account.Service, *token.Verifier, []byte, error) {
	k, err := token.NewKey(time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	ks := token.KeySet{Keys: []token.Key{k}}
	jwks, err := ks.JWKS()
	if err != nil {
		return nil, nil, nil, err
	}
	keys := dynamo.NewKeys(db, opts.Table)
	if err := keys.Put(ctx, jwks); err != nil {
		return nil, nil, nil, err
	}
	issuer, err := token.NewIssuer(ks, s.URL, Audience, deps.AccessTokenTTL, time.Now)
	if err != nil {
		return nil, nil, nil, err
	}
	doc, err := token.OpenIDConfiguration(s.URL)
	if err != nil {
		return nil, nil, nil, err
	}
	users := dynamo.NewUsers(db, opts.Table)
	accounts := account.NewService(account.Deps{
		Store:    users,
		Sessions: dynamo.NewSessions(db, opts.Table),
		Hasher:   password.Argon2id{},
		Issuer:   issuer,
		Guard:    dynamo.NewLoginGuard(db, opts.Table, dynamo.DefaultGuardPolicy()),
		Events:   telemetry.Events{},
	})
	if opts.Seed > 0 {
		// Seeding is not a request: keep its events out of the logs.
		ctx := telemetry.NewContext(ctx, &telemetry.Invocation{Logger: slog.New(slog.DiscardHandler)})
		for _, email := range slices.Sorted(maps.Keys(DemoAccounts)) {
			t, err := accounts.Register(ctx, account.Registration{Email: email, Password: DemoPassword, Name: "Demo " + strings.Split(email, "@")[0]})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("devstack: demo account %s: %w", email, err)
			}
			if _, err := users.SetRoles(ctx, t.User.ID, DemoAccounts[email], time.Now()); err != nil {
				return nil, nil, nil, fmt.Errorf("devstack: demo account %s: %w", email, err)
			}
		}
	}
	verifier := token.NewVerifier(keys, s.URL, Audience, time.Now)
	return accounts, verifier, doc, nil
}

// Audience is the audience of the dev stack's access tokens.
const Audience = "mountain-highway"

// Close stops the API and the backing services.
func (s *Stack) Close() error {
	err := s.api.Close()
	s.closeBackends()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Stack) closeBackends() {
	if s.jobs != nil {
		s.jobs.Close()
	}
	if s.dynamo != nil {
		s.dynamo.Close()
	}
	if s.s3 != nil {
		s.s3.Close()
	}
}
