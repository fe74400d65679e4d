package telemetry

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every custom metric.
const Namespace = "MountainHighway"

// Units used by the metrics, as CloudWatch spells them.
const (
	Milliseconds = "Milliseconds"
	Count        = "Count"
	Bytes        = "Bytes"
)

// Metric is one value in an EMF line.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// Metrics writes CloudWatch embedded-metric-format lines. CloudWatch Logs
// turns each line into metrics asynchronously, so emitting costs a write to
// stdout and never a synchronous call to the CloudWatch metrics API.
type Metrics struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewMetrics returns a writer of EMF lines to w.
func NewMetrics(w io.Writer) *Metrics {
	return &Metrics{w: w, now: time.Now}
}

// Emit writes one EMF line: the metrics, aggregated over the dimensions given
// (all of them, as one dimension set), plus properties that are searchable in
// Logs Insights but are not dimensions (correlation id, request id…).
func (m *Metrics) Emit(dims map[string]string, props map[string]any, metrics ...Metric) error {
	doc := make(map[string]any, len(dims)+len(props)+len(metrics)+1)
	for k, v := range props {
		doc[k] = v
	}
	names := make([]string, 0, len(dims))
	for k, v := range dims {
		names = append(names, k)
		doc[k] = v
	}
	sort.Strings(names)
	defs := make([]map[string]string, 0, len(metrics))
	for _, mt := range metrics {
		defs = append(defs, map[string]string{"Name": mt.Name, "Unit": mt.Unit})
		doc[mt.Name] = mt.Value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": m.now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{names},
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err = m.w.Write(append(line, '\n'))
	return err
}
