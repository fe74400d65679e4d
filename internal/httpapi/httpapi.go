// Package httpapi holds the HTTP handlers of every registry route, as plain
// net/http handlers over the domain services. The same handlers run in
// Lambda (through package lambdahttp) and in the dev server.
package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/mountainhighway/marketplace/internal/problem"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// HandlerFunc is a handler that returns its error instead of writing it, so
// that every error is written one way: as problem JSON carrying the
// correlation id, and recorded for the wrapper to log and report.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		inv := telemetry.FromContext(r.Context())
		inv.RecordError(err)
		problem.Write(w, err, inv.CorrelationID)
	}
}

// writeJSON writes v with status. cache is the Cache-Control value.
func writeJSON(w http.ResponseWriter, status int, cache string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // JSON for API clients, not for embedding in HTML
	if err := enc.Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	if cache != "" {
		w.Header().Set("Cache-Control", cache)
	}
	w.WriteHeader(status)
	// The status is already sent; a failed write means the client left.
	_, _ = w.Write(buf.Bytes())
	return nil
}
