package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/problem"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// itemGet is the registry entry the wrapper serves in these tests.
func itemGet() registry.Function {
	return registry.Function{
		Name:    "item-get",
		HTTP:    &registry.Route{Method: "GET", Path: "/v1/items/{id}"},
		Auth:    registry.Public,
		MaxBody: 16,
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// syncBuffer is an io.Writer safe for the wrapper's concurrent writers (the
// timeout timer logs from its own goroutine).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordingTransport is a sentry.Transport that keeps what it is given.
type recordingTransport struct {
	mu      sync.Mutex
	events  []*sentry.Event
	flushes []time.Duration
}

var _ sentry.Transport = (*recordingTransport)(nil)

func (r *recordingTransport) Configure(sentry.ClientOptions) {}
func (r *recordingTransport) Close()                         {}

func (r *recordingTransport) SendEvent(e *sentry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recordingTransport) Flush(timeout time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes = append(r.flushes, timeout)
	return true
}

// FlushWithContext records the time the context leaves, which is what the
// client passes on when it flushes through a context.
func (r *recordingTransport) FlushWithContext(ctx context.Context) bool {
	timeout := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return r.Flush(timeout)
}

func (r *recordingTransport) Events() []*sentry.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sentry.Event(nil), r.events...)
}

func (r *recordingTransport) Flushes() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.flushes...)
}

// MustSentry returns a Sentry client delivering to a recordingTransport.
func MustSentry(tb testing.TB) (*sentry.Client, *recordingTransport) {
	tb.Helper()
	tr := &recordingTransport{}
	c, err := sentry.NewClient(sentry.ClientOptions{Dsn: "https://public@example.com/1", Transport: tr})
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c, tr
}

// fixture is one wrapped handler and what it reports.
type fixture struct {
	out     *syncBuffer
	sentry  *recordingTransport // nil when Sentry is off
	handler http.Handler
}

// newFixture wraps h for itemGet with Sentry on; edit adjusts the options.
func newFixture(t *testing.T, h http.Handler, edit func(*lambdahttp.Options)) *fixture {
	t.Helper()
	client, tr := MustSentry(t)
	f := &fixture{out: &syncBuffer{}, sentry: tr}
	opts := lambdahttp.Options{
		Function: itemGet(),
		Stage:    "test",
		LogLevel: slog.LevelInfo,
		Out:      f.out,
		Sentry:   client,
	}
	if edit != nil {
		edit(&opts)
	}
	if opts.Sentry == nil {
		f.sentry = nil
	}
	f.handler = lambdahttp.New(opts).Handler(h)
	return f
}

func (f *fixture) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(path string) *httptest.ResponseRecorder {
	return f.serve(httptest.NewRequest(http.MethodGet, path, nil))
}

// lines parses every line written to Options.Out; each must be JSON.
func (f *fixture) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(f.out.String()) {
		var m map[string]any
		require.NoErrorf(t, json.Unmarshal([]byte(line), &m), "output line is not JSON: %q", line)
		out = append(out, m)
	}
	return out
}

// logs returns the log lines with message msg.
func (f *fixture) logs(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range f.lines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// completed returns the "request completed" lines.
func (f *fixture) completed(t *testing.T) []map[string]any {
	t.Helper()
	return f.logs(t, "request completed")
}

// emf returns the EMF lines.
func (f *fixture) emf(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range f.lines(t) {
		if _, ok := l["_aws"]; ok {
			out = append(out, l)
		}
	}
	return out
}

// only returns the single element of lines.
func only(t *testing.T, lines []map[string]any, what string) map[string]any {
	t.Helper()
	require.Lenf(t, lines, 1, "want exactly one %s line", what)
	return lines[0]
}

// decodeProblem checks rec is a problem response and returns its body.
func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Details {
	t.Helper()
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"), "body: %s", rec.Body.String())
	var d problem.Details
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d), rec.Body.String())
	assert.Equal(t, rec.Code, d.Status, "status in body")
	return d
}

// app is the handler under the wrapper. It answers like httpapi.HandlerFunc
// does: errors are recorded on the invocation and written as problems.
func app() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch id := r.PathValue("id"); id {
		case "boom":
			err = fault.Wrap("items.Get", errors.New("dynamodb: AccessDeniedException arn:aws:iam::123:role/secret"))
		case "missing":
			err = fault.E("items.Get", fault.NotFound, "no item "+id)
		case "busy":
			err = fault.E("items.Get", fault.Unavailable, "try again")
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
			return
		}
		inv := telemetry.FromContext(r.Context())
		inv.RecordError(err)
		problem.Write(w, err, inv.CorrelationID)
	})
}

func TestCorrelationIDFromHeader(t *testing.T) {
	tests := []struct {
		name   string
		header []string // nil: no header
		adopt  bool
	}{
		{"valid uuid", []string{"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"}, true},
		{"valid short", []string{"abc.DEF:123_x"}, true},
		{"absent", nil, false},
		{"empty", []string{""}, false},
		{"too long", []string{strings.Repeat("a", 129)}, false},
		{"with spaces", []string{"abc def"}, false},
		{"with newline", []string{"abc\n{\"level\":\"ERROR\"}"}, false},
		{"header injection", []string{"abc\r\nSet-Cookie: x=1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, app(), nil)
			req := httptest.NewRequest(http.MethodGet, "/v1/items/missing", nil)
			if tt.header != nil {
				req.Header[lambdahttp.CorrelationHeader] = tt.header
			}
			rec := f.serve(req)
			require.Equal(t, http.StatusNotFound, rec.Code)

			got := rec.Header().Get(lambdahttp.CorrelationHeader)
			if tt.adopt {
				assert.Equalf(t, tt.header[0], got, "correlation id = %q, want the header's %q", got, tt.header[0])
			} else {
				assert.Regexpf(t, generatedID, got, "correlation id = %q, want a generated one", got)
			}
			line := only(t, f.completed(t), "request completed")
			assert.Equal(t, got, line["correlationId"], "log correlationId")
			assert.Equal(t, got, only(t, f.emf(t), "EMF")["correlationId"], "EMF correlationId")
			assert.Equal(t, got, decodeProblem(t, rec).Instance, "problem instance")
		})
	}
}

func TestGeneratedIDsDiffer(t *testing.T) {
	f := newFixture(t, app(), nil)
	a := f.get("/v1/items/a").Header().Get(lambdahttp.CorrelationHeader)
	b := f.get("/v1/items/a").Header().Get(lambdahttp.CorrelationHeader)
	assert.NotEqual(t, a, b)
	for _, l := range f.completed(t) {
		assert.Regexp(t, generatedID, l["requestId"], "outside Lambda the request id is generated")
		assert.NotEqual(t, l["requestId"], l["correlationId"])
	}
}

// gatewayEvent is an API Gateway HTTP API v2 event for GET path.
func gatewayEvent(path string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "GET /v1/items/{id}",
		RawPath:  path,
		Headers:  headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID:  "Jx3kSiWaoAMEb7Q=",
			DomainName: "api.example.com",
			Stage:      "$default",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path, SourceIP: "192.0.2.1"},
		},
	}
}

func TestThroughAPIGateway(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"gateway request id without a header", nil, "Jx3kSiWaoAMEb7Q="},
		{"valid header wins", map[string]string{"x-correlation-id": "from-client-1"}, "from-client-1"},
		{"invalid header falls back to the gateway id", map[string]string{"x-correlation-id": "bad id"}, "Jx3kSiWaoAMEb7Q="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, app(), nil)
			ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
			res, err := httpadapter.NewV2(f.handler).ProxyWithContext(ctx, gatewayEvent("/v1/items/lst_1", tt.headers))
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.JSONEq(t, `{"id":"lst_1"}`, res.Body, "r.PathValue works behind the adapter")
			assert.Equal(t, tt.want, res.Headers[lambdahttp.CorrelationHeader])

			line := only(t, f.completed(t), "request completed")
			assert.Equal(t, tt.want, line["correlationId"])
			assert.Equal(t, "8476a536-e9f4-11e8-9739-2dfe598c3fcd", line["requestId"], "the Lambda request id is logged")
			assert.Equal(t, "8476a536-e9f4-11e8-9739-2dfe598c3fcd", only(t, f.emf(t), "EMF")["requestId"])
		})
	}
}

// TestThroughAPIGatewayHandlerWritingNothing fails until wrapper.go makes
// an implicit 200 explicit. In net/http (and the dev server) a handler that
// returns without writing answers 200 — and the wrapper logs and counts a
// 200 — but the wrapper never calls WriteHeader on the adapter's writer, so
// httpadapter's GetProxyResponse fails with "Status code not set on
// response": the Lambda returns an error and the client gets a failure.
func TestThroughAPIGatewayHandlerWritingNothing(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	res, err := httpadapter.NewV2(f.handler).ProxyWithContext(t.Context(), gatewayEvent("/v1/items/x", nil))
	logged := only(t, f.completed(t), "request completed")["status"]
	assert.NoError(t, err, "the wrapper logged status %v but the adapter failed", logged)
	assert.Equalf(t, http.StatusOK, res.StatusCode, "Lambda answered %d while the wrapper logged status %v", res.StatusCode, logged)
}

func TestCompletedLogLine(t *testing.T) {
	f := newFixture(t, app(), nil)
	req := httptest.NewRequest(http.MethodGet, "/v1/items/a", nil)
	req.Header.Set(lambdahttp.CorrelationHeader, "corr-1")
	for range 2 {
		require.Equal(t, http.StatusOK, f.serve(req).Code)
	}
	lines := f.completed(t)
	require.Len(t, lines, 2)
	for i, l := range lines {
		assert.Equal(t, "INFO", l["level"])
		assert.Equal(t, "item-get", l["function"])
		assert.Equal(t, "corr-1", l["correlationId"])
		assert.Regexp(t, generatedID, l["requestId"])
		assert.Equal(t, i == 0, l["coldStart"], "coldStart of request %d", i+1)
		assert.Equal(t, 200.0, l["status"])
		assert.Equal(t, "GET", l["method"])
		assert.Equal(t, "/v1/items/a", l["path"])
		assert.Equal(t, float64(len(`{"id":"a"}`+"\n")), l["bytes"])
		require.IsType(t, 0.0, l["durationMs"])
		assert.GreaterOrEqual(t, l["durationMs"].(float64), 0.0)
		assert.NotContains(t, l, "error")
	}
	emf := f.emf(t)
	require.Len(t, emf, 2)
	assert.Equal(t, 1.0, emf[0]["ColdStart"])
	assert.Equal(t, 0.0, emf[1]["ColdStart"])
}

func TestColdStartOnceUnderConcurrency(t *testing.T) {
	f := newFixture(t, app(), nil)
	const n = 32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { f.get("/v1/items/a") })
	}
	wg.Wait()
	cold := 0
	lines := f.completed(t)
	require.Len(t, lines, n)
	for _, l := range lines {
		if l["coldStart"] == true {
			cold++
		}
	}
	assert.Equal(t, 1, cold, "cold starts among %d concurrent first requests", n)
}

func TestEMF(t *testing.T) {
	tests := []struct {
		path                   string
		status                 int
		errs, clientErrs, cold float64
	}{
		{"/v1/items/a", 200, 0, 0, 1},
		{"/v1/items/missing", 404, 0, 1, 1},
		{"/v1/elsewhere", 404, 0, 1, 1},
		{"/v1/items/boom", 500, 1, 0, 1},
		{"/v1/items/busy", 503, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f := newFixture(t, app(), nil)
			rec := f.get(tt.path)
			require.Equal(t, tt.status, rec.Code)
			m := only(t, f.emf(t), "EMF")

			aws, ok := m["_aws"].(map[string]any)
			require.True(t, ok, "_aws: %v", m["_aws"])
			assert.IsType(t, 0.0, aws["Timestamp"])
			cw, ok := aws["CloudWatchMetrics"].([]any)
			require.True(t, ok)
			require.Len(t, cw, 1)
			def := cw[0].(map[string]any)
			assert.Equal(t, "MountainHighway", def["Namespace"])
			assert.Equal(t, []any{[]any{"Function", "Stage"}}, def["Dimensions"])
			assert.ElementsMatch(t, []any{
				map[string]any{"Name": "Latency", "Unit": "Milliseconds"},
				map[string]any{"Name": "Errors", "Unit": "Count"},
				map[string]any{"Name": "ClientErrors", "Unit": "Count"},
				map[string]any{"Name": "ColdStart", "Unit": "Count"},
			}, def["Metrics"])

			assert.Equal(t, "item-get", m["Function"])
			assert.Equal(t, "test", m["Stage"])
			assert.Equal(t, float64(tt.status), m["status"])
			assert.Equal(t, rec.Header().Get(lambdahttp.CorrelationHeader), m["correlationId"])
			assert.NotEmpty(t, m["requestId"])
			assert.Equalf(t, tt.errs, m["Errors"], "Errors for %d", tt.status)
			assert.Equalf(t, tt.clientErrs, m["ClientErrors"], "ClientErrors for %d", tt.status)
			assert.Equal(t, tt.cold, m["ColdStart"])
			require.IsType(t, 0.0, m["Latency"])
			assert.GreaterOrEqual(t, m["Latency"].(float64), 0.0)
		})
	}
}

type failingEMF struct{ w io.Writer }

func (f failingEMF) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"_aws"`)) {
		return 0, errors.New("stdout closed")
	}
	return f.w.Write(p)
}

func TestMetricsWriteFailureIsLogged(t *testing.T) {
	f := newFixture(t, app(), nil)
	f.handler = lambdahttp.New(lambdahttp.Options{Function: itemGet(), Out: failingEMF{f.out}}).Handler(app())
	require.Equal(t, http.StatusOK, f.get("/v1/items/a").Code)
	line := only(t, f.logs(t, "writing metrics failed"), "metrics failure")
	assert.Equal(t, "ERROR", line["level"])
	assert.Equal(t, "stdout closed", line["error"])
	assert.NotEmpty(t, line["correlationId"])
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
		kind   string
		detail string
		allow  string
	}{
		{"path value", http.MethodGet, "/v1/items/lst_42", 200, "", "", ""},
		{"head on a GET route", http.MethodHead, "/v1/items/lst_42", 200, "", "", ""},
		{"other path", http.MethodGet, "/v1/other", 404, "not_found", "no route matches GET /v1/other", ""},
		{"sub path", http.MethodGet, "/v1/items/a/b", 404, "not_found", "no route matches GET /v1/items/a/b", ""},
		{"root", http.MethodGet, "/", 404, "not_found", "no route matches GET /", ""},
		{"wrong method", http.MethodPost, "/v1/items/lst_42", 405, "method_not_allowed", "method POST is not allowed here", "GET, HEAD"},
		{"delete", http.MethodDelete, "/v1/items/lst_42", 405, "method_not_allowed", "method DELETE is not allowed here", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var called atomic.Bool
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called.Store(true)
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, r.PathValue("id"))
			})
			f := newFixture(t, h, nil)
			rec := f.serve(httptest.NewRequest(tt.method, tt.path, nil))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			cid := rec.Header().Get(lambdahttp.CorrelationHeader)
			require.NotEmpty(t, cid)
			line := only(t, f.completed(t), "request completed")
			if tt.status == 200 {
				assert.True(t, called.Load())
				if tt.method == http.MethodGet {
					assert.Equal(t, "lst_42", rec.Body.String(), "r.PathValue(\"id\")")
				}
				return
			}
			assert.False(t, called.Load(), "the handler must not run")
			d := decodeProblem(t, rec)
			assert.Equal(t, problem.Details{
				Type:     "urn:mountainhighway:problem:" + tt.kind,
				Title:    http.StatusText(tt.status),
				Status:   tt.status,
				Detail:   tt.detail,
				Instance: cid,
			}, d)
			assert.Equal(t, tt.allow, rec.Header().Get("Allow"))
			assert.Equal(t, "INFO", line["level"])
			assert.Equal(t, tt.kind, line["errorKind"])
			assert.Equal(t, float64(tt.status), line["status"])
			assert.Empty(t, f.sentry.Events(), "client errors are not reported")
		})
	}
}

func TestFunctionWithoutRouteAnswers404(t *testing.T) {
	f := newFixture(t, app(), func(o *lambdahttp.Options) { o.Function = registry.Function{Name: "worker", Auth: registry.Public} })
	rec := f.get("/v1/items/a")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, "not_found", only(t, f.completed(t), "request completed")["errorKind"])
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name          string
		maxBody       int64
		body          string
		chunked       bool // no Content-Length
		status        int
		handlerRuns   bool
		wantReadError bool
	}{
		{"within the limit", 16, strings.Repeat("x", 16), false, 200, true, false},
		{"over the limit", 16, strings.Repeat("x", 17), false, 413, false, false},
		{"far over the limit", 16, strings.Repeat("x", 1<<20), false, 413, false, false},
		{"chunked within the limit", 16, strings.Repeat("x", 16), true, 200, true, false},
		{"chunked over the limit", 16, strings.Repeat("x", 100), true, 200, true, true},
		{"no limit", 0, strings.Repeat("x", 1<<16), false, 200, true, false},
		{"empty body", 16, "", false, 200, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				ran     atomic.Bool
				readErr error
				read    int
			)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran.Store(true)
				b, err := io.ReadAll(r.Body)
				read, readErr = len(b), err
				w.WriteHeader(http.StatusOK)
			})
			f := newFixture(t, h, func(o *lambdahttp.Options) { o.Function.MaxBody = tt.maxBody })
			req := httptest.NewRequest(http.MethodGet, "/v1/items/a", strings.NewReader(tt.body))
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := f.serve(req)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			assert.Equal(t, tt.handlerRuns, ran.Load(), "handler ran")

			if tt.status == http.StatusRequestEntityTooLarge {
				d := decodeProblem(t, rec)
				assert.Equal(t, "urn:mountainhighway:problem:too_large", d.Type)
				assert.Equal(t, fmt.Sprintf("the request body must be at most %d bytes", tt.maxBody), d.Detail)
				assert.Equal(t, rec.Header().Get(lambdahttp.CorrelationHeader), d.Instance)
				line := only(t, f.completed(t), "request completed")
				assert.Equal(t, "too_large", line["errorKind"])
				assert.Equal(t, 1.0, only(t, f.emf(t), "EMF")["ClientErrors"])
				return
			}
			if tt.wantReadError {
				var mbe *http.MaxBytesError
				require.ErrorAsf(t, readErr, &mbe, "reading a chunked body over the limit gave %v", readErr)
				assert.Equal(t, tt.maxBody, mbe.Limit)
				assert.LessOrEqual(t, int64(read), tt.maxBody, "bytes read past the limit")
				return
			}
			require.NoError(t, readErr)
			assert.Equal(t, len(tt.body), read)
		})
	}
}

func TestPanic(t *testing.T) {
	const secret = "runtime error: password=hunter2"
	tests := []struct {
		name  string
		value any
		check func(t *testing.T, e *sentry.Event)
	}{
		{"string", secret, func(t *testing.T, e *sentry.Event) {
			assert.Equal(t, secret, e.Message)
		}},
		{"error", errors.New(secret), func(t *testing.T, e *sentry.Event) {
			require.NotEmpty(t, e.Exception)
			assert.Equal(t, secret, e.Exception[len(e.Exception)-1].Value)
		}},
		{"other value", struct{ Password string }{"hunter2"}, func(t *testing.T, e *sentry.Event) {
			assert.Contains(t, e.Message, "hunter2")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tt.value) }), nil)
			req := httptest.NewRequest(http.MethodGet, "/v1/items/a", nil)
			req.Header.Set(lambdahttp.CorrelationHeader, "corr-panic")
			var rec *httptest.ResponseRecorder
			require.NotPanics(t, func() { rec = f.serve(req) })

			require.Equal(t, http.StatusInternalServerError, rec.Code)
			d := decodeProblem(t, rec)
			assert.Equal(t, "urn:mountainhighway:problem:internal", d.Type)
			assert.Equal(t, "corr-panic", d.Instance)
			assert.NotEmpty(t, d.Detail)
			assert.NotContains(t, rec.Body.String(), "hunter2", "the panic must not reach the client")

			line := only(t, f.logs(t, "handler panicked"), "panic log")
			assert.Equal(t, "ERROR", line["level"])
			assert.Equal(t, "corr-panic", line["correlationId"])
			assert.Equal(t, "item-get", line["function"])
			assert.NotEmpty(t, line["panic"])
			stack, _ := line["stack"].(string)
			assert.Contains(t, stack, "goroutine", "a stack trace")
			assert.Contains(t, stack, "wrapper_test.go", "the stack reaches the panicking handler")

			assert.Equal(t, 500.0, only(t, f.completed(t), "request completed")["status"])
			assert.Equal(t, 1.0, only(t, f.emf(t), "EMF")["Errors"])

			evs := f.sentry.Events()
			require.Len(t, evs, 1, "exactly one Sentry event")
			assert.Equal(t, "item-get", evs[0].Tags["function"])
			assert.Equal(t, "corr-panic", evs[0].Tags["correlation_id"])
			assert.NotEmpty(t, evs[0].Tags["request_id"])
			assert.Equal(t, sentry.LevelFatal, evs[0].Level)
			tt.check(t, evs[0])
			assert.Len(t, f.sentry.Flushes(), 1, "flushed once after capturing")
		})
	}
}

func TestPanicAfterWriteKeepsTheResponse(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "partial")
		panic("late")
	}), nil)
	rec := f.get("/v1/items/a")
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "partial", rec.Body.String(), "no problem body appended")
	assert.Len(t, f.sentry.Events(), 1)
	assert.Len(t, f.logs(t, "handler panicked"), 1)
}

func TestPanicWithoutSentry(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") }), func(o *lambdahttp.Options) { o.Sentry = nil })
	var rec *httptest.ResponseRecorder
	require.NotPanics(t, func() { rec = f.get("/v1/items/a") })
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Len(t, f.logs(t, "handler panicked"), 1)
}

func TestHandlerErrors(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		status   int
		level    string
		kind     string
		reported bool
	}{
		{"internal", "/v1/items/boom", 500, "ERROR", "internal", true},
		{"unavailable", "/v1/items/busy", 503, "ERROR", "unavailable", true},
		{"not found", "/v1/items/missing", 404, "INFO", "not_found", false},
		{"success", "/v1/items/fine", 200, "INFO", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, app(), nil)
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set(lambdahttp.CorrelationHeader, "corr-err")
			rec := f.serve(req)
			require.Equal(t, tt.status, rec.Code)
			assert.NotContains(t, rec.Body.String(), "AccessDenied", "internal details must not reach the client")

			line := only(t, f.completed(t), "request completed")
			assert.Equal(t, tt.level, line["level"])
			if tt.kind == "" {
				assert.NotContains(t, line, "error")
				assert.NotContains(t, line, "errorKind")
			} else {
				assert.Equal(t, tt.kind, line["errorKind"])
				assert.NotEmpty(t, line["error"])
			}
			if tt.kind == "internal" {
				assert.Contains(t, line["error"], "AccessDeniedException", "the log keeps the cause")
			}

			evs := f.sentry.Events()
			if !tt.reported {
				assert.Empty(t, evs, "no Sentry event for %d", tt.status)
				assert.Empty(t, f.sentry.Flushes(), "no flush when nothing was captured")
				return
			}
			require.Len(t, evs, 1, "exactly one Sentry event")
			e := evs[0]
			assert.Equal(t, "item-get", e.Tags["function"])
			assert.Equal(t, "corr-err", e.Tags["correlation_id"])
			require.NotEmpty(t, e.Exception)
			var values []string
			for _, x := range e.Exception {
				values = append(values, x.Value)
			}
			if tt.kind == "internal" {
				assert.Contains(t, strings.Join(values, "\n"), "AccessDeniedException", "Sentry gets the cause")
			}
			require.NotNil(t, e.Request)
			assert.Contains(t, e.Request.URL, "/v1/items/")
			assert.Len(t, f.sentry.Flushes(), 1)
		})
	}
}

func TestWithoutSentry(t *testing.T) {
	f := newFixture(t, app(), func(o *lambdahttp.Options) { o.Sentry = nil })
	require.NotPanics(t, func() {
		assert.Equal(t, http.StatusInternalServerError, f.get("/v1/items/boom").Code)
		assert.Equal(t, http.StatusOK, f.get("/v1/items/a").Code)
	})
	assert.Equal(t, "ERROR", f.completed(t)[0]["level"])
}

func TestFlushTimeout(t *testing.T) {
	tests := []struct {
		name     string
		flush    time.Duration
		deadline time.Duration // 0: none
		min, max time.Duration // bounds of the flush timeout; max 0: no flush
	}{
		// The client turns the timeout into a context deadline, so the
		// recorded value is a little below what the wrapper passed.
		{"default", 0, 0, 1900 * time.Millisecond, 2 * time.Second},
		{"configured", 3 * time.Second, 0, 2900 * time.Millisecond, 3 * time.Second},
		{"bounded by the deadline", 3 * time.Second, time.Second, 500 * time.Millisecond, 900 * time.Millisecond},
		{"configured below the deadline", 100 * time.Millisecond, 10 * time.Second, 50 * time.Millisecond, 100 * time.Millisecond},
		{"no time left", 3 * time.Second, 50 * time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, app(), func(o *lambdahttp.Options) { o.FlushTimeout = tt.flush })
			req := httptest.NewRequest(http.MethodGet, "/v1/items/boom", nil)
			if tt.deadline > 0 {
				ctx, cancel := context.WithTimeout(t.Context(), tt.deadline)
				defer cancel()
				req = req.WithContext(ctx)
			}
			require.Equal(t, http.StatusInternalServerError, f.serve(req).Code)
			require.Len(t, f.sentry.Events(), 1, "the error is captured either way")
			flushes := f.sentry.Flushes()
			if tt.max == 0 {
				assert.Empty(t, flushes, "no flush without time left")
				return
			}
			require.Len(t, flushes, 1)
			assert.GreaterOrEqual(t, flushes[0], tt.min)
			assert.LessOrEqual(t, flushes[0], tt.max)
		})
	}
}

func TestDebugSample(t *testing.T) {
	tests := []struct {
		name   string
		sample float64
		level  slog.Level
		want   int
	}{
		{"always", 1, slog.LevelInfo, 1},
		{"never", 0, slog.LevelInfo, 0},
		{"never but debug level", 0, slog.LevelDebug, 1},
		{"always above warn", 1, slog.LevelWarn, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, app(), func(o *lambdahttp.Options) { o.DebugSample, o.LogLevel = tt.sample, tt.level })
			req := httptest.NewRequest(http.MethodGet, "/v1/items/a", nil)
			req.Header.Set(lambdahttp.CorrelationHeader, "corr-dbg")
			f.serve(req)
			lines := f.logs(t, "request received")
			require.Len(t, lines, tt.want)
			if tt.want == 1 {
				assert.Equal(t, "DEBUG", lines[0]["level"])
				assert.Equal(t, "GET", lines[0]["method"])
				assert.Equal(t, "/v1/items/a", lines[0]["path"])
				assert.Equal(t, "corr-dbg", lines[0]["correlationId"])
				assert.Equal(t, "item-get", lines[0]["function"])
			}
		})
	}
}

func TestInfoLevelDropsDebugWithoutSampling(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		telemetry.FromContext(r.Context()).Logger.Debug("handler detail")
		w.WriteHeader(http.StatusNoContent)
	}), nil)
	f.get("/v1/items/a")
	assert.Empty(t, f.logs(t, "handler detail"))
	assert.Len(t, f.completed(t), 1, "info lines still pass")
}

func TestTimeoutWarning(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Past the warning point (a tenth of the time before the deadline)
		// and past the deadline itself, as a hung dependency would.
		<-r.Context().Done()
		time.Sleep(50 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/v1/items/a", nil).WithContext(ctx)
	req.Header.Set(lambdahttp.CorrelationHeader, "corr-slow")
	f.serve(req)

	// The timer logs from its own goroutine; allow for a slow scheduler.
	require.Eventually(t, func() bool { return strings.Contains(f.out.String(), "invocation is about to time out") }, time.Second, 10*time.Millisecond)
	line := only(t, f.logs(t, "invocation is about to time out"), "timeout warning")
	assert.Equal(t, "WARN", line["level"])
	assert.Equal(t, "corr-slow", line["correlationId"])
	assert.Equal(t, "item-get", line["function"])
	remaining, ok := line["remaining"].(float64)
	require.True(t, ok, "remaining: %v", line["remaining"])
	assert.Less(t, time.Duration(remaining), 200*time.Millisecond)

	// The warning comes before the request completes.
	var msgs []any
	for _, l := range f.lines(t) {
		msgs = append(msgs, l["msg"])
	}
	warnAt := indexOf(msgs, "invocation is about to time out")
	doneAt := indexOf(msgs, "request completed")
	assert.Less(t, warnAt, doneAt, "log order %v", msgs)
}

func indexOf(s []any, v any) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestNoTimeoutWarningForFastRequests(t *testing.T) {
	f := newFixture(t, app(), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	f.serve(httptest.NewRequest(http.MethodGet, "/v1/items/a", nil).WithContext(ctx))
	// Wait past where the warning would have fired had the timer not been stopped.
	time.Sleep(400 * time.Millisecond)
	assert.Empty(t, f.logs(t, "invocation is about to time out"))
}

func TestResponseControllerReachesTheWriter(t *testing.T) {
	var flushErr error
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "chunk")
		flushErr = http.NewResponseController(w).Flush()
	}), nil)
	rec := f.get("/v1/items/a")
	require.NoError(t, flushErr, "http.ResponseController must see through the wrapper's recorder")
	assert.True(t, rec.Flushed)
	assert.Equal(t, "chunk", rec.Body.String())
}
