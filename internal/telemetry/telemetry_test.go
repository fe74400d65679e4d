package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/telemetry"
)

func TestValidCorrelationID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"empty", "", false},
		{"uuid", "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b", true},
		{"hex", telemetry.NewID(), true},
		{"all allowed punctuation", "a-b_c.d:e=f+g/h", true},
		{"api gateway request id", "Jx3kSiWaoAMEb7Q=", true},
		{"one char", "x", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", "abc def", false},
		{"newline", "abc\ndef", false},
		{"carriage return", "abc\r\nX-Evil: 1", false},
		{"tab", "abc\tdef", false},
		{"quote", `abc"def`, false},
		{"comma", "abc,def", false},
		{"semicolon", "abc;def", false},
		{"percent", "abc%0Adef", false},
		{"non-ascii letter", "abcé", false},
		{"nul", "abc\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := telemetry.ValidCorrelationID(tt.id)
			assert.Equalf(t, tt.want, got, "ValidCorrelationID(%q) = %v, want %v", tt.id, got, tt.want)
		})
	}
}

func TestNewID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := telemetry.NewID()
		require.Truef(t, hex32.MatchString(id), "NewID() = %q, want 32 lowercase hex digits", id)
		require.Truef(t, telemetry.ValidCorrelationID(id), "NewID() = %q is not a valid correlation id", id)
		require.Falsef(t, seen[id], "NewID() repeated %q", id)
		seen[id] = true
	}
}

func TestContext(t *testing.T) {
	inv := &telemetry.Invocation{CorrelationID: "c-1", RequestID: "r-1", Logger: slog.Default()}
	ctx := telemetry.NewContext(context.Background(), inv)
	assert.Same(t, inv, telemetry.FromContext(ctx))

	a := telemetry.FromContext(context.Background())
	b := telemetry.FromContext(context.Background())
	require.NotNil(t, a)
	require.NotNil(t, a.Logger, "the fallback must log somewhere")
	assert.Same(t, slog.Default(), a.Logger)
	assert.True(t, telemetry.ValidCorrelationID(a.CorrelationID), "fallback correlation id %q", a.CorrelationID)
	assert.NotSame(t, a, b, "each fallback is fresh")
	assert.NotEqual(t, a.CorrelationID, b.CorrelationID)
	assert.NoError(t, a.Err())
	a.RecordError(errors.New("x"))
	assert.NoError(t, b.Err(), "fallbacks share no state")
}

func TestRecordError(t *testing.T) {
	inv := &telemetry.Invocation{}
	require.NoError(t, inv.Err())
	first, last := errors.New("first"), errors.New("last")
	inv.RecordError(first)
	assert.Same(t, first, inv.Err())
	inv.RecordError(last)
	assert.Same(t, last, inv.Err(), "the last recorded error wins")

	// The wrapper reads the error while a timer goroutine may log; -race checks the locking.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			inv.RecordError(first)
			_ = inv.Err()
		})
	}
	wg.Wait()
	assert.Same(t, first, inv.Err())
}

// records parses the JSON lines in buf.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		require.NoErrorf(t, json.Unmarshal([]byte(line), &m), "line %q is not JSON", line)
		out = append(out, m)
	}
	return out
}

// logged returns the messages of the records in buf.
func logged(t *testing.T, buf *bytes.Buffer) []string {
	t.Helper()
	var got []string
	for _, r := range records(t, buf) {
		got = append(got, r["msg"].(string))
	}
	return got
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name  string
		min   slog.Level
		debug bool
		want  []string // which of the debug/info/warn/error records pass
	}{
		{"debug", slog.LevelDebug, false, []string{"d", "i", "w", "e"}},
		{"info", slog.LevelInfo, false, []string{"i", "w", "e"}},
		{"info sampled", slog.LevelInfo, true, []string{"d", "i", "w", "e"}},
		{"warn", slog.LevelWarn, false, []string{"w", "e"}},
		{"error", slog.LevelError, false, []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := telemetry.NewLogger(&buf, tt.min, tt.debug)
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			got := logged(t, &buf)
			assert.Equalf(t, tt.want, got, "NewLogger(%s, %v) logged %q, want %q", tt.min, tt.debug, got, tt.want)
		})
	}
}

func TestNewLoggerSampledPassesDebugAboveMin(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelError, true)
	log.Debug("d")
	log.Error("e")
	assert.Equal(t, []string{"d", "e"}, logged(t, &buf))
}

func TestNewLoggerWithAttrsAndGroupKeepLevel(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelInfo, false).With("function", "health").WithGroup("req")
	log.Debug("hidden")
	log.Info("shown", "id", "r-1")
	recs := records(t, &buf)
	require.Len(t, recs, 1, "derived loggers must keep filtering: %s", buf.String())
	assert.Equal(t, "shown", recs[0]["msg"])
	assert.Equal(t, "INFO", recs[0]["level"])
	assert.Equal(t, "health", recs[0]["function"])
	assert.Equal(t, map[string]any{"id": "r-1"}, recs[0]["req"])
	assert.False(t, log.Enabled(context.Background(), slog.LevelDebug))

	buf.Reset()
	sampled := telemetry.NewLogger(&buf, slog.LevelInfo, true).With("k", "v").WithGroup("g")
	sampled.Debug("trace")
	recs = records(t, &buf)
	require.Len(t, recs, 1)
	assert.Equal(t, "DEBUG", recs[0]["level"])
	assert.Equal(t, "v", recs[0]["k"])
}

func TestEmit(t *testing.T) {
	var buf bytes.Buffer
	m := telemetry.NewMetrics(&buf)
	before := time.Now().UnixMilli()
	err := m.Emit(
		map[string]string{"Stage": "prod", "Function": "health", "Area": "platform"},
		map[string]any{"correlationId": "c-1", "status": 200},
		telemetry.Metric{Name: "Latency", Unit: telemetry.Milliseconds, Value: 12.5},
		telemetry.Metric{Name: "Errors", Unit: telemetry.Count, Value: 0},
		telemetry.Metric{Name: "Size", Unit: telemetry.Bytes, Value: 1024},
	)
	after := time.Now().UnixMilli()
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(buf.String(), "\n"), "one line: %q", buf.String())
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line: %q", buf.String())

	var doc struct {
		AWS struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []map[string]string
			}
		} `json:"_aws"`
		Stage, Function, Area string
		CorrelationID         string  `json:"correlationId"`
		Status                int     `json:"status"`
		Latency, Errors, Size float64 `json:",omitempty"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc), buf.String())
	assert.GreaterOrEqual(t, doc.AWS.Timestamp, before)
	assert.LessOrEqual(t, doc.AWS.Timestamp, after)
	require.Len(t, doc.AWS.CloudWatchMetrics, 1)
	cw := doc.AWS.CloudWatchMetrics[0]
	assert.Equal(t, telemetry.Namespace, cw.Namespace)
	assert.Equal(t, "MountainHighway", cw.Namespace)
	assert.Equal(t, [][]string{{"Area", "Function", "Stage"}}, cw.Dimensions, "one dimension set, sorted")
	assert.Equal(t, []map[string]string{
		{"Name": "Latency", "Unit": "Milliseconds"},
		{"Name": "Errors", "Unit": "Count"},
		{"Name": "Size", "Unit": "Bytes"},
	}, cw.Metrics)
	assert.Equal(t, "prod", doc.Stage)
	assert.Equal(t, "health", doc.Function)
	assert.Equal(t, "platform", doc.Area)
	assert.Equal(t, "c-1", doc.CorrelationID)
	assert.Equal(t, 200, doc.Status)
	assert.Equal(t, 12.5, doc.Latency)
	assert.Equal(t, 1024.0, doc.Size)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	assert.Contains(t, raw, "Errors", "a zero metric value is still written")
}

func TestEmitSortsDimensionsEveryTime(t *testing.T) {
	dims := map[string]string{"z": "1", "a": "2", "m": "3", "b": "4", "y": "5"}
	for range 20 {
		var buf bytes.Buffer
		require.NoError(t, telemetry.NewMetrics(&buf).Emit(dims, nil, telemetry.Metric{Name: "N", Unit: telemetry.Count, Value: 1}))
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct{ Dimensions [][]string }
			} `json:"_aws"`
		}
		require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
		require.Equal(t, [][]string{{"a", "b", "m", "y", "z"}}, doc.AWS.CloudWatchMetrics[0].Dimensions)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEmitErrors(t *testing.T) {
	diskFull := errors.New("disk full")
	err := telemetry.NewMetrics(failingWriter{diskFull}).Emit(nil, nil, telemetry.Metric{Name: "N", Unit: telemetry.Count, Value: 1})
	assert.ErrorIs(t, err, diskFull)

	var buf bytes.Buffer
	err = telemetry.NewMetrics(&buf).Emit(nil, map[string]any{"bad": make(chan int)}, telemetry.Metric{Name: "N"})
	require.Error(t, err, "a property JSON cannot encode")
	assert.Empty(t, buf.String(), "nothing is written when encoding fails")
}

func TestEmitConcurrentLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	m := telemetry.NewMetrics(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			assert.NoError(t, m.Emit(map[string]string{"F": "x"}, map[string]any{"i": i}, telemetry.Metric{Name: "N", Unit: telemetry.Count, Value: 1}))
		})
	}
	wg.Wait()
	assert.Len(t, records(t, &buf), 50)
}
