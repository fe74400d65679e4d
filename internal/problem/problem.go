// Package problem writes errors as RFC 9457 problem details
// (application/problem+json). It holds the one table that maps the domain's
// error kinds to HTTP status codes; internal details never reach the client.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// ContentType is the media type of every error body.
const ContentType = "application/problem+json"

// Details is the body of an error response.
type Details struct {
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Status   int                `json:"status"`
	Detail   string             `json:"detail,omitempty"`
	Instance string             `json:"instance,omitempty"`
	Errors   []fault.FieldError `json:"errors,omitempty"`
}

// Status returns the HTTP status for an error kind.
func Status(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case fault.Conflict:
		return http.StatusConflict
	case fault.PreconditionFailed:
		return http.StatusPreconditionFailed
	case fault.PreconditionRequired:
		return http.StatusPreconditionRequired
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// From builds the problem details for err. instance is the correlation id.
// Errors that are not classified, or classified Internal, get a generic
// message: their text may hold internals and is for the logs only.
func From(err error, instance string) Details {
	kind := fault.KindOf(err)
	status := Status(kind)
	d := Details{
		Type:     "urn:mountainhighway:problem:" + kind.String(),
		Title:    http.StatusText(status),
		Status:   status,
		Instance: instance,
	}
	if fe, ok := fault.As(err); ok && kind != fault.Internal {
		d.Detail = fe.Message
		d.Errors = fe.Fields
	}
	if kind == fault.Internal {
		d.Detail = "Something went wrong on our side. Quote the instance id if you contact support."
	}
	return d
}

// Write writes err as a problem response; instance is the correlation id.
// A rate-limited error with a RetryAfter sets the Retry-After header, in
// whole seconds rounded up so that a client never retries too early.
func Write(w http.ResponseWriter, err error, instance string) {
	d := From(err, instance)
	if fe, ok := fault.As(err); ok && fe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((fe.RetryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	// The status line is already sent; a failed write means the client left.
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // problem bodies are read by people and clients, not embedded in HTML
	_ = enc.Encode(d)
}
