package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/cursor"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/password"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
	"github.com/mountainhighway/marketplace/internal/token"
)

const (
	issuer   = "https://api.example.test"
	audience = "mountain-highway"
)

// api serves every HTTP registry route through the real wrapper and the
// real adapters, over a fresh DynamoDB Local table.
type api struct {
	t       *testing.T
	handler map[string]http.Handler
	store   *dynamo.Listings
	users   *dynamo.Users
	calls   *dynamo.Calls
	keys    token.KeySet
	logs    *logBuffer
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// suiteCalls counts every DynamoDB call any test of this package makes
// through the routes; TestMain fails the suite if one of them is a Scan.
var suiteCalls = dynamo.NewCalls()

// actions holds what every route did against the registry's grants.
var actions = dynamotest.NewActions()

func TestMain(m *testing.M) {
	code := m.Run()
	if v := actions.Violations(); code == 0 && len(v) > 0 {
		fmt.Fprintf(os.Stderr, "functions used DynamoDB actions their registry entry (and IAM role) does not grant:\n  %s\n", strings.Join(v, "\n  "))
		code = 1
	}
	if code == 0 && os.Getenv(dynamotest.EndpointEnv) != "" {
		calls := suiteCalls.Snapshot()
		switch {
		case suiteCalls.Total() == 0:
			fmt.Fprintln(os.Stderr, "no DynamoDB call was counted: the counter is not installed")
			code = 1
		case calls["Scan"] > 0:
			fmt.Fprintf(os.Stderr, "a request path used Scan %d times: %v\n", calls["Scan"], calls)
			code = 1
		default:
			fmt.Fprintf(os.Stderr, "DynamoDB calls made by the routes during the suite, none a Scan: %v\n", calls)
		}
	}
	os.Exit(code)
}

func newAPI(t *testing.T) *api {
	t.Helper()
	calls := dynamo.NewCalls()
	db, name := dynamotest.NewTable(t, calls.Option(), suiteCalls.Option(), actions.Option)
	k, err := token.NewKey(time.Now())
	require.NoError(t, err)
	ks := token.KeySet{Keys: []token.Key{k}}
	jwks, err := ks.JWKS()
	require.NoError(t, err)
	keys := dynamo.NewKeys(db, name)
	require.NoError(t, keys.Put(t.Context(), jwks))
	iss, err := token.NewIssuer(ks, issuer, audience, 15*time.Minute, time.Now)
	require.NoError(t, err)
	doc, err := token.OpenIDConfiguration(issuer)
	require.NoError(t, err)

	index := dynamo.NewSearchIndex(db, name)
	a := &api{t: t, handler: map[string]http.Handler{}, store: dynamo.NewListings(db, name).WithIndex(index), users: dynamo.NewUsers(db, name), calls: calls, keys: ks, logs: &logBuffer{}}
	routes := httpapi.Routes(httpapi.Deps{
		Stage: "test", Release: "r1",
		Listings:  listing.NewService(a.store, cursor.New([]byte("0123456789abcdef0123456789abcdef"))).WithSearch(index, a.store, telemetry.Events{}),
		Editor:    listing.NewEditor(a.store, time.Now),
		Favorites: listing.NewFavorites(dynamo.NewFavorites(db, name), cursor.New([]byte("0123456789abcdef0123456789abcdef")), telemetry.Events{}, time.Now),
		// Flush on every view, so tests see the counts at once.
		Views: listing.NewViews(dynamo.NewFavorites(db, name), 0, time.Now),
		Accounts: account.NewService(account.Deps{
			Store: a.users, Sessions: dynamo.NewSessions(db, name), Hasher: password.Argon2id{}, Issuer: iss,
			Guard: dynamo.NewLoginGuard(db, name, dynamo.DefaultGuardPolicy()), Events: telemetry.Events{},
		}),
		Keys: keys,
		Probes: map[string]httpapi.Probe{"dynamodb": func(ctx context.Context) error {
			_, err := keys.JWKS(ctx)
			return err
		}},
		OpenIDDoc: doc,
	})
	verifier := token.NewVerifier(keys, issuer, audience, time.Now)
	for _, fn := range registry.HTTP() {
		w := lambdahttp.New(lambdahttp.Options{Function: fn, Stage: "test", Out: a.logs, Verifier: verifier})
		a.handler[fn.Name] = w.Handler(routes[fn.Name])
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request to the function fn. body, when not nil, is sent as
// JSON; bearer, when not empty, as the access token.
func (a *api) do(fn, method, target, bearer string, body any) response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h, ok := a.handler[fn]
	require.True(a.t, ok, "no function %s", fn)
	h.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		require.NoError(a.t, json.Unmarshal(rec.Body.Bytes(), &r.body), rec.Body.String())
	}
	return r
}

func (a *api) get(fn, target string) response {
	a.t.Helper()
	return a.do(fn, http.MethodGet, target, "", nil)
}

// raw posts body as is, with the given content type.
func (a *api) raw(fn, target, contentType, body string) response {
	a.t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	a.handler[fn].ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if rec.Body.Len() > 0 {
		require.NoError(a.t, json.Unmarshal(rec.Body.Bytes(), &r.body), rec.Body.String())
	}
	return r
}
