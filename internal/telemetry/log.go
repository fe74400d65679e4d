package telemetry

import (
	"context"
	"io"
	"log/slog"
)

// NewLogger returns a JSON logger writing one line per record to w. Records
// below min are dropped; debug lowers the minimum to debug. The wrappers turn
// debug on for a sampled fraction of invocations so that a full trace of
// some requests is always available at low cost.
func NewLogger(w io.Writer, min slog.Level, debug bool) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	level := min
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(levelHandler{Handler: h, min: level})
}

// levelHandler filters records below min in front of a handler that accepts
// everything, so that one shared JSON handler can serve loggers of different
// verbosity.
type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
