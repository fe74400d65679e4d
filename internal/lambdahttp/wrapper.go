// Package lambdahttp runs a plain net/http handler as one function of the
// route registry, identically in AWS Lambda (adapted from API Gateway HTTP API
// v2 events by aws-lambda-go-api-proxy) and in the dev server. The wrapper
// gives every request a correlation id, request-scoped JSON logs, EMF latency
// and error metrics, a Sentry hub, a body size limit, the invocation deadline
// and panic recovery, so no function can forget them.
package lambdahttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/getsentry/sentry-go"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/problem"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// CorrelationHeader carries the correlation id in and out of every request.
const CorrelationHeader = "X-Correlation-Id"

// Options configures a Wrapper.
type Options struct {
	Function    registry.Function
	Stage       string
	LogLevel    slog.Level
	DebugSample float64 // fraction of requests logged at debug level
	Out         io.Writer
	Sentry      *sentry.Client // nil disables error reporting
	// Verifier authenticates bearer tokens; functions whose registry auth
	// level is not public refuse every request without one.
	Verifier auth.Verifier
	// FlushTimeout bounds the wait for Sentry delivery when the invocation
	// has no deadline (the dev server); in Lambda the remaining time bounds it.
	FlushTimeout time.Duration
}

// Wrapper wraps the handler of one registry function.
type Wrapper struct {
	opts    Options
	metrics *telemetry.Metrics
	base    *slog.Logger
	debug   *slog.Logger
	dims    map[string]string
	gzip    *sync.Pool
	cold    atomic.Bool
}

// New returns a Wrapper for opts.Function. The first request it serves is
// reported as a cold start.
func New(opts Options) *Wrapper {
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = 2 * time.Second
	}
	fn := slog.String("function", opts.Function.Name)
	w := &Wrapper{
		opts:    opts,
		metrics: telemetry.NewMetrics(opts.Out),
		base:    telemetry.NewLogger(opts.Out, opts.LogLevel, false).With(fn),
		debug:   telemetry.NewLogger(opts.Out, opts.LogLevel, true).With(fn),
		dims:    map[string]string{"Stage": opts.Stage, "Function": opts.Function.Name},
		gzip:    newGzipPool(),
	}
	w.cold.Store(true)
	return w
}

// Handler returns h mounted on the function's route pattern and wrapped. The
// mux makes r.PathValue work the same in Lambda and in the dev server;
// requests outside the route get a 404 or 405 problem.
func (w *Wrapper) Handler(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	if rt := w.opts.Function.HTTP; rt != nil {
		mux.Handle(rt.Pattern(), h)
	}
	return w.wrap(Routed(mux))
}

// Routed serves requests through mux, answering problem JSON instead of the
// mux's plain-text 404 and 405 pages.
func Routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(rw, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		err := fault.E("lambdahttp.route", fault.NotFound, "no route matches "+r.Method+" "+r.URL.Path)
		if probe.code == http.StatusMethodNotAllowed {
			err = fault.E("lambdahttp.route", fault.MethodNotAllowed, "method "+r.Method+" is not allowed here")
			rw.Header().Set("Allow", probe.header.Get("Allow"))
		}
		inv := telemetry.FromContext(r.Context())
		inv.RecordError(err)
		problem.Write(rw, err, inv.CorrelationID)
	})
}

// statusProbe records what the mux's fallback handler would answer.
type statusProbe struct {
	header http.Header
	code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.code = code }

func (w *Wrapper) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cold := w.cold.Swap(false)
		ctx := r.Context()

		inv := &telemetry.Invocation{
			CorrelationID: correlationID(r),
			RequestID:     requestID(ctx),
			Metrics:       w.metrics,
			Dimensions:    w.dims,
		}
		logger := w.base
		if w.opts.DebugSample > 0 && rand.Float64() < w.opts.DebugSample {
			logger = w.debug
		}
		inv.Logger = logger.With(
			slog.String("requestId", inv.RequestID),
			slog.String("correlationId", inv.CorrelationID),
			slog.Bool("coldStart", cold),
		)
		ctx = telemetry.NewContext(ctx, inv)

		var hub *sentry.Hub
		if w.opts.Sentry != nil {
			hub = sentry.NewHub(w.opts.Sentry, sentry.NewScope())
			hub.Scope().SetTag("function", w.opts.Function.Name)
			hub.Scope().SetTag("correlation_id", inv.CorrelationID)
			hub.Scope().SetTag("request_id", inv.RequestID)
			hub.Scope().SetRequest(r)
			ctx = sentry.SetHubOnContext(ctx, hub)
		}

		if deadline, ok := ctx.Deadline(); ok {
			// Warn shortly before the deadline so a timeout leaves a trace
			// in the logs with the correlation id, not just Lambda's report.
			margin := min(time.Until(deadline)/10, 500*time.Millisecond)
			t := time.AfterFunc(time.Until(deadline)-margin, func() {
				inv.Logger.Warn("invocation is about to time out", slog.Duration("remaining", time.Until(deadline)))
			})
			defer t.Stop()
		}

		rec := &recorder{ResponseWriter: rw}
		rec.Header().Set(CorrelationHeader, inv.CorrelationID)
		r = r.WithContext(ctx)
		inv.Logger.Debug("request received", slog.String("method", r.Method), slog.String("path", r.URL.Path))

		captured := false
		func() {
			defer func() {
				if p := recover(); p != nil {
					err := fmt.Errorf("panic: %v", p)
					inv.RecordError(err)
					inv.Logger.Error("handler panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
					if hub != nil {
						hub.RecoverWithContext(ctx, p)
						captured = true
					}
					if !rec.wroteHeader {
						problem.Write(rec, fault.Wrap("lambdahttp.panic", err), inv.CorrelationID)
					}
				}
			}()
			r, ok := w.admit(rec, r, inv, hub)
			if !ok {
				return
			}
			if acceptsGzip(r) && r.Method != http.MethodHead {
				gz := newGzipWriter(rec, w.gzip)
				next.ServeHTTP(gz, r)
				gz.finish()
			} else {
				next.ServeHTTP(rec, r)
			}
			if !rec.wroteHeader {
				// net/http would send 200 on return; the API Gateway adapter
				// needs the status written explicitly.
				rec.WriteHeader(http.StatusOK)
			}
		}()

		status := rec.status()
		elapsed := time.Since(start)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("durationMs", ms(elapsed)),
			slog.Int("bytes", rec.bytes),
		}
		level := slog.LevelInfo
		if err := inv.Err(); err != nil {
			attrs = append(attrs, slog.String("error", err.Error()), slog.String("errorKind", fault.KindOf(err).String()))
			if status >= 500 {
				level = slog.LevelError
				if hub != nil && !captured {
					hub.CaptureException(err)
					captured = true
				}
			}
		}
		inv.Logger.LogAttrs(ctx, level, "request completed", attrs...)

		w.emit(inv, status, elapsed, cold)
		if captured {
			w.flush(ctx, hub)
		}
	})
}

// admit applies the registry's auth level and body limit before the
// handler runs. When it refuses the request it has written the problem.
func (w *Wrapper) admit(rec *recorder, r *http.Request, inv *telemetry.Invocation, hub *sentry.Hub) (*http.Request, bool) {
	refuse := func(err error) (*http.Request, bool) {
		inv.RecordError(err)
		if fault.KindOf(err) == fault.Unauthenticated {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="mountain-highway"`)
		}
		problem.Write(rec, err, inv.CorrelationID)
		return r, false
	}
	if w.opts.Function.Auth != registry.Public {
		p, err := w.authenticate(r)
		if err != nil {
			return refuse(err)
		}
		inv.Logger = inv.Logger.With(slog.String("userId", p.UserID))
		if hub != nil {
			hub.Scope().SetUser(sentry.User{ID: p.UserID})
		}
		r = r.WithContext(auth.NewContext(r.Context(), p))
	}
	if max := w.opts.Function.MaxBody; max > 0 && r.Body != nil {
		if r.ContentLength > max {
			return refuse(fault.E("lambdahttp.body", fault.TooLarge, fmt.Sprintf("the request body must be at most %d bytes", max)))
		}
		r.Body = http.MaxBytesReader(rec, r.Body, max)
	}
	return r, true
}

// authenticate verifies the bearer token and the registry's auth level. It
// fails closed: a protected function without a verifier refuses everyone.
func (w *Wrapper) authenticate(r *http.Request) (auth.Principal, error) {
	const op = "lambdahttp.authenticate"
	if w.opts.Verifier == nil {
		return auth.Principal{}, fault.Wrap(op, errors.New("protected function has no token verifier"))
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return auth.Principal{}, fault.E(op, fault.Unauthenticated, "sign in: send an access token as Authorization: Bearer <token>")
	}
	p, err := w.opts.Verifier.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		switch fault.KindOf(err) {
		case fault.Internal:
			return auth.Principal{}, fault.Wrap(op, err)
		case fault.Unavailable:
			// The keys could not be read: the token may well be fine, so
			// the client should retry, not sign in again.
			return auth.Principal{}, err
		}
		return auth.Principal{}, fault.E(op, fault.Unauthenticated, "the access token is invalid or expired; refresh it or sign in again")
	}
	if err := p.Allow(w.opts.Function.Auth); err != nil {
		return auth.Principal{}, err
	}
	return p, nil
}

func (w *Wrapper) emit(inv *telemetry.Invocation, status int, elapsed time.Duration, cold bool) {
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	err := w.metrics.Emit(
		w.dims,
		map[string]any{"correlationId": inv.CorrelationID, "requestId": inv.RequestID, "status": status},
		telemetry.Metric{Name: "Latency", Unit: telemetry.Milliseconds, Value: ms(elapsed)},
		telemetry.Metric{Name: "Errors", Unit: telemetry.Count, Value: bit(status >= 500)},
		telemetry.Metric{Name: "ClientErrors", Unit: telemetry.Count, Value: bit(status >= 400 && status < 500)},
		telemetry.Metric{Name: "ColdStart", Unit: telemetry.Count, Value: bit(cold)},
	)
	if err != nil {
		inv.Logger.Error("writing metrics failed", slog.String("error", err.Error()))
	}
}

// flush waits for Sentry delivery, bounded by the invocation's remaining
// time so that reporting an error can never turn it into a timeout.
func (w *Wrapper) flush(ctx context.Context, hub *sentry.Hub) {
	timeout := w.opts.FlushTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-100*time.Millisecond)
	}
	if timeout > 0 {
		hub.Flush(timeout)
	}
}

func correlationID(r *http.Request) string {
	if id := r.Header.Get(CorrelationHeader); telemetry.ValidCorrelationID(id) {
		return id
	}
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && telemetry.ValidCorrelationID(gw.RequestID) {
		return gw.RequestID
	}
	return telemetry.NewID()
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return telemetry.NewID()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// recorder remembers the status and size of the response.
type recorder struct {
	http.ResponseWriter
	code        int
	bytes       int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) status() int {
	if !r.wroteHeader {
		return http.StatusOK
	}
	return r.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
