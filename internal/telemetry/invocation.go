// Package telemetry carries what every invocation reports about itself: the
// correlation id, a request-scoped slog logger writing JSON lines, the error
// a handler ended with, and CloudWatch embedded-metric-format (EMF) lines.
// It is transport-neutral: the HTTP, queue and scheduled wrappers all use it.
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
)

// Invocation is the per-request state shared between a wrapper and the
// handler it runs.
type Invocation struct {
	CorrelationID string
	RequestID     string
	Logger        *slog.Logger
	// Metrics and Dimensions, when set, receive the invocation's events.
	Metrics    *Metrics
	Dimensions map[string]string

	mu  sync.Mutex
	err error
}

// RecordError remembers the error a handler answered with, so the wrapper can
// log it and report it once, after the response is written.
func (i *Invocation) RecordError(err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.err = err
}

// Err returns the recorded error, if any.
func (i *Invocation) Err() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.err
}

type invocationKey struct{}

// NewContext returns ctx carrying inv.
func NewContext(ctx context.Context, inv *Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// FromContext returns the invocation carried by ctx. Outside a wrapper (a
// unit test calling a handler directly) it returns a fresh invocation that
// logs through slog.Default, so callers never check for nil.
func FromContext(ctx context.Context) *Invocation {
	if inv, ok := ctx.Value(invocationKey{}).(*Invocation); ok {
		return inv
	}
	return &Invocation{CorrelationID: NewID(), Logger: slog.Default()}
}

// NewID returns a random 128-bit identifier in hex, used when a request
// arrives without a correlation id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// ValidCorrelationID reports whether a caller-supplied id is safe to adopt:
// short, and made of characters that cannot forge log lines or headers. The
// set includes base64's, which API Gateway request ids use.
func ValidCorrelationID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '=' || c == '+' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}
