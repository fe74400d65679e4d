package telemetry

import (
	"context"
	"log/slog"
	"maps"
	"slices"
)

// Event records a business or security event once: one "event" log line
// carrying the correlation id and the fields, and one EMF count in the
// metric Events with dimension Event, so alarms and dashboards can watch
// it and the analytics pipeline can read it from the logs.
func (i *Invocation) Event(name string, fields map[string]any) {
	attrs := []slog.Attr{slog.String("event", name)}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		attrs = append(attrs, slog.Any(k, fields[k]))
	}
	i.Logger.LogAttrs(context.Background(), slog.LevelInfo, "event", attrs...)
	if i.Metrics == nil {
		return
	}
	dims := maps.Clone(i.Dimensions)
	if dims == nil {
		dims = map[string]string{}
	}
	dims["Event"] = name
	if err := i.Metrics.Emit(dims, map[string]any{"correlationId": i.CorrelationID}, Metric{Name: "Events", Unit: Count, Value: 1}); err != nil {
		i.Logger.Error("writing metrics failed", slog.String("error", err.Error()))
	}
}

// Events emits events through the invocation of the context they are
// emitted in. It is what domain packages receive as their event sink.
type Events struct{}

// Emit records event name with fields.
func (Events) Emit(ctx context.Context, name string, fields map[string]any) {
	FromContext(ctx).Event(name, fields)
}
