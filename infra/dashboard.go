package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// Dashboard grid: CloudWatch lays widgets on a grid 24 units wide.
const (
	gridWidth    = 24
	headerHeight = 3
	rowHeight    = 6
	logsHeight   = 9
)

// dashboardPeriodSeconds is the resolution of the graphs: Lambda and API
// Gateway publish one-minute data, and on-call wants to see a recovery
// within minutes, not a five-minute average of it.
const dashboardPeriodSeconds = 60

// maxDashboardWidgets is CloudWatch's limit per dashboard; PutDashboard
// rejects a larger body, which would fail a deploy half-way through.
const maxDashboardWidgets = 500

// The metrics the wrapper (internal/lambdahttp) writes as EMF on every
// request, under telemetry.Namespace with the dimensions Function (the
// registry name) and Stage. A test runs the wrapper and compares.
const (
	emfLatency      = "Latency"
	emfErrors       = "Errors"       // responses with status ≥ 500
	emfClientErrors = "ClientErrors" // responses with status 4xx
	emfColdStart    = "ColdStart"    // 1 on the first request of an environment
)

// The metrics the queue wrapper (internal/lambdasqs) writes per batch, with
// the same namespace and dimensions; a test runs it and compares. Failed is
// emfFailed (alerting.go).
const (
	emfProcessed = "Processed" // messages handled successfully
)

// dashboardInput is everything the overview dashboard shows, as plain
// values: the deployed names are resolved before the body is built.
type dashboardInput struct {
	Stage, Release, Region string
	APIID, APIStage        string
	Table                  string   // deployed table name
	Indexes                []string // its global secondary indexes
	Queues                 []dashboardQueue
	Functions              []dashboardFunction
}

// dashboardQueue is one registry queue with its deployed names.
type dashboardQueue struct {
	Name       string // registry name, "images"
	Queue, DLQ string // deployed queue names
}

// dashboardFunction is one registry entry with its deployed names.
type dashboardFunction struct {
	Spec     registry.Function
	Name     string // deployed function name, mh-<stage>-<registry name>
	LogGroup string
}

// widget is one element of a dashboard body.
type widget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties any    `json:"properties"`
}

// textProperties are a text widget's: Markdown only.
type textProperties struct {
	Markdown string `json:"markdown"`
}

// metricProperties are a metric graph's, as the dashboard body structure
// documents them; the region is required by CloudWatch.
type metricProperties struct {
	Title       string       `json:"title"`
	Region      string       `json:"region"`
	View        string       `json:"view"`
	Stacked     bool         `json:"stacked"`
	Period      int          `json:"period"`
	Metrics     [][]any      `json:"metrics"`
	Annotations *annotations `json:"annotations,omitempty"`
	YAxis       yAxes        `json:"yAxis"`
}

// annotations are lines drawn across a graph, such as an alarm threshold.
type annotations struct {
	Horizontal []annotation `json:"horizontal"`
}

// annotation is one horizontal line at Value.
type annotation struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// yAxes configures the graph's axes; only the left one is used.
type yAxes struct {
	Left yAxis `json:"left"`
}

// yAxis starts at zero so that a flat line near zero is not magnified into
// an alarming-looking wave by auto-scaling.
type yAxis struct {
	Min       float64 `json:"min"`
	Label     string  `json:"label,omitempty"`
	ShowUnits bool    `json:"showUnits"`
}

// logProperties are a Logs Insights table's; Query starts with its SOURCEs.
type logProperties struct {
	Title  string `json:"title"`
	Region string `json:"region"`
	View   string `json:"view"`
	Query  string `json:"query"`
}

// metricOptions are the per-metric rendering options of a metric widget.
type metricOptions struct {
	Stat  string `json:"stat"`
	Label string `json:"label"`
}

// metric is one entry of a widget's metrics array:
// [namespace, name, dimension, value, …, options].
func metric(namespace, name string, dims []string, stat, label string) []any {
	m := []any{namespace, name}
	for _, d := range dims {
		m = append(m, d)
	}
	return append(m, metricOptions{Stat: stat, Label: label})
}

// dashboardBody returns the JSON body of the overview dashboard: a header,
// the API row, the table row, the Security row, one row per queue, one row
// per registry function, and the latest error lines.
func dashboardBody(in dashboardInput) (string, error) {
	widgets := dashboardWidgets(in)
	if len(widgets) > maxDashboardWidgets {
		return "", fmt.Errorf("dashboard %s: %d widgets, CloudWatch allows %d", "mh-"+in.Stage+"-overview", len(widgets), maxDashboardWidgets)
	}
	b, err := json.Marshal(map[string]any{"widgets": widgets})
	return string(b), err
}

// dashboardWidgets lays out the widgets top to bottom; every row fills the
// grid's width so that rows line up whatever the screen.
func dashboardWidgets(in dashboardInput) []widget {
	var ws []widget
	ws = append(ws, widget{
		Type: "text", X: 0, Y: 0, Width: gridWidth, Height: headerHeight,
		Properties: textProperties{Markdown: headerMarkdown(in)},
	})
	y := headerHeight
	ws = append(ws, row(y, apiWidgets(in))...)
	y += rowHeight
	ws = append(ws, row(y, tableWidgets(in))...)
	y += rowHeight
	if sec := securityWidgets(in); len(sec) > 0 {
		ws = append(ws, row(y, sec)...)
		y += rowHeight
	}
	for _, q := range in.Queues {
		ws = append(ws, row(y, queueWidgets(in, q))...)
		y += rowHeight
	}
	for _, fn := range in.Functions {
		ws = append(ws, row(y, functionWidgets(in, fn))...)
		y += rowHeight
	}
	for i, part := range chunks(in.Functions) {
		title := "Latest ERROR lines, all functions"
		if len(in.Functions) > maxQueryLogGroups {
			title = fmt.Sprintf("%s (part %d)", title, i+1)
		}
		ws = append(ws, widget{
			Type: "log", X: 0, Y: y, Width: gridWidth, Height: logsHeight,
			Properties: logProperties{
				Title:  title,
				Region: in.Region,
				View:   "table",
				Query:  logWidgetQuery(part, latestErrorsQuery),
			},
		})
		y += logsHeight
	}
	return ws
}

// sized is a widget's width and its properties, before it is placed.
type sized struct {
	width int
	props any
}

// row places widgets left to right at height y.
func row(y int, items []sized) []widget {
	ws := make([]widget, 0, len(items))
	x := 0
	for _, it := range items {
		ws = append(ws, widget{Type: "metric", X: x, Y: y, Width: it.width, Height: rowHeight, Properties: it.props})
		x += it.width
	}
	return ws
}

// headerMarkdown says what is deployed where, how to read the rows below,
// and where the runbooks and saved queries are.
func headerMarkdown(in dashboardInput) string {
	return strings.Join([]string{
		fmt.Sprintf("# Mountain Highway · %s · release `%s` · %s", in.Stage, in.Release, in.Region),
		"Row 1 is the HTTP API, row 2 the DynamoDB table, row 3 Security (sign-ins, lockouts, refresh-token reuse, sign-ups and role changes), " +
			"then one row per queue (backlog, in flight, age of the oldest message, dead-letter queue). " +
			"Then one row per function: Lambda's own metrics on the left, the wrapper's EMF metrics " +
			"(namespace " + telemetry.Namespace + ") on the right. The latest ERROR lines are at the bottom.",
		fmt.Sprintf("Alarms notify SNS topic `mh-%s-alarms`; each names its runbook in `docs/runbooks/`. "+
			"Saved queries: CloudWatch → Logs Insights → Saved queries → `mh-%s/`.", in.Stage, in.Stage),
	}, "\n\n")
}

// apiWidgets watch the HTTP API as a whole. HTTP APIs publish Count, 4xx,
// 5xx and Latency with ApiId and Stage; the REST API names (5XXError,
// ApiName) would draw empty graphs.
func apiWidgets(in dashboardInput) []sized {
	const ns = "AWS/ApiGateway"
	dims := []string{"ApiId", in.APIID, "Stage", in.APIStage}
	graph := func(title, unit string, metrics ...[]any) metricProperties {
		return metricProperties{
			Title: title, Region: in.Region, View: "timeSeries", Period: dashboardPeriodSeconds,
			Metrics: metrics, YAxis: yAxes{Left: yAxis{Label: unit}},
		}
	}
	return []sized{
		{6, graph("API requests", "count", metric(ns, "Count", dims, "Sum", "requests"))},
		{6, graph("API 4xx", "count", metric(ns, "4xx", dims, "Sum", "4xx"))},
		{6, graph("API 5xx", "count", metric(ns, "5xx", dims, "Sum", "5xx"))},
		{6, graph("API latency", "ms",
			metric(ns, "Latency", dims, "p50", "p50"),
			metric(ns, "Latency", dims, "p95", "p95"),
			metric(ns, "Latency", dims, "p99", "p99"),
		)},
	}
}

// tableWidgets watch the table every function shares. DynamoDB throttling
// shows up in the functions first as latency (the SDK retries with backoff),
// then as 5xx, so this row is where their rows' symptoms are explained; the
// indexes get their own lines because one hot index key (GSI2 PUBLISHED
// holds the whole feed) throttles while the table looks idle.
func tableWidgets(in dashboardInput) []sized {
	const ns = "AWS/DynamoDB"
	tableDims := []string{"TableName", in.Table}
	throttles := [][]any{
		metric(ns, "ReadThrottleEvents", tableDims, "Sum", "table reads"),
		metric(ns, "WriteThrottleEvents", tableDims, "Sum", "table writes"),
	}
	for _, ix := range in.Indexes {
		dims := []string{"TableName", in.Table, "GlobalSecondaryIndexName", ix}
		throttles = append(throttles,
			metric(ns, "ReadThrottleEvents", dims, "Sum", ix+" reads"),
			metric(ns, "WriteThrottleEvents", dims, "Sum", ix+" writes"),
		)
	}
	var latency [][]any
	for _, op := range tableOperations(in.Functions) {
		latency = append(latency, metric(ns, "SuccessfulRequestLatency", []string{"TableName", in.Table, "Operation", op}, "Average", op))
	}
	graph := func(title, unit string, metrics [][]any) metricProperties {
		return metricProperties{
			Title: title, Region: in.Region, View: "timeSeries", Period: dashboardPeriodSeconds,
			Metrics: metrics, YAxis: yAxes{Left: yAxis{Label: unit}},
		}
	}
	return []sized{
		{12, graph("Table "+in.Table+": throttle events", "count", throttles)},
		{12, graph("Table "+in.Table+": request latency", "ms", latency)},
	}
}

// securityWidgets are the Security row: the security events' EMF counts,
// one line per emitting function (the Function dimension is part of the
// metric), and each alarm's threshold drawn on its graph at the alarm's
// period. Events whose functions are not deployed are left out, and so is
// the row when none is.
func securityWidgets(in dashboardInput) []sized {
	var graphs []metricProperties
	for _, g := range securityGraphs {
		props := metricProperties{
			Title: "Security: " + g.Title, Region: in.Region, View: "timeSeries", Period: dashboardPeriodSeconds,
			YAxis: yAxes{Left: yAxis{Label: "count"}},
		}
		var lines []annotation
		for _, ev := range g.Events {
			for _, fn := range ev.Emitters {
				if !deployed(in.Functions, fn) {
					continue
				}
				label := ev.Name
				if len(ev.Emitters) > 1 {
					label += " (" + fn + ")"
				}
				dims := []string{"Event", ev.Name, "Function", fn, "Stage", in.Stage}
				props.Metrics = append(props.Metrics, metric(telemetry.Namespace, emfEvents, dims, "Sum", label))
				for _, a := range securityAlarms {
					if a.Event == ev.Name && a.Function == fn {
						lines = append(lines, annotation{Label: fmt.Sprintf("%s alarm %g", a.Slug, a.Threshold), Value: a.Threshold})
					}
				}
			}
		}
		if len(props.Metrics) == 0 {
			continue
		}
		if len(lines) > 0 {
			// Summed over the alarm's own period, so the line crossing the
			// annotation is exactly what pages.
			props.Period = alarmPeriodSeconds
			props.Annotations = &annotations{Horizontal: lines}
		}
		graphs = append(graphs, props)
	}
	out := make([]sized, len(graphs))
	for i, g := range graphs {
		// 1 to 4 graphs; each count divides the grid's 24 units.
		out[i] = sized{gridWidth / len(graphs), g}
	}
	return out
}

// queueWidgets are one queue's row: its backlog, the messages a consumer
// holds, how long the oldest has waited (with the age alarm's line) and
// the dead-letter queue's depth (with the DLQ alarm's line). Each metric is
// Maximum, as the alarms use it.
func queueWidgets(in dashboardInput, q dashboardQueue) []sized {
	const ns = "AWS/SQS"
	dims := []string{"QueueName", q.Queue}
	graph := func(title, unit string, period int, m []any, alarm *annotation) metricProperties {
		p := metricProperties{
			Title: q.Name + " queue: " + title, Region: in.Region, View: "timeSeries", Period: period,
			Metrics: [][]any{m}, YAxis: yAxes{Left: yAxis{Label: unit}},
		}
		if alarm != nil {
			p.Annotations = &annotations{Horizontal: []annotation{*alarm}}
		}
		return p
	}
	ageAlarm := float64(queueAgeThreshold / time.Second)
	return []sized{
		{6, graph("visible (backlog)", "count", dashboardPeriodSeconds,
			metric(ns, "ApproximateNumberOfMessagesVisible", dims, "Maximum", "visible"), nil)},
		{6, graph("in flight", "count", dashboardPeriodSeconds,
			metric(ns, "ApproximateNumberOfMessagesNotVisible", dims, "Maximum", "in flight"), nil)},
		{6, graph("age of oldest message", "s", alarmPeriodSeconds,
			metric(ns, "ApproximateAgeOfOldestMessage", dims, "Maximum", "age"),
			&annotation{Label: fmt.Sprintf("age alarm %g s", ageAlarm), Value: ageAlarm})},
		{6, graph("dead-letter queue depth", "count", alarmPeriodSeconds,
			metric(ns, "ApproximateNumberOfMessagesVisible", []string{"QueueName", q.DLQ}, "Maximum", "dead letters"),
			&annotation{Label: fmt.Sprintf("DLQ alarm %d", dlqDepthThreshold), Value: dlqDepthThreshold})},
	}
}

// tableOperations are the DynamoDB operations the functions are allowed, in
// registry order. ConditionCheckItem is not an operation of its own: DynamoDB
// reports it inside TransactWriteItems.
func tableOperations(fns []dashboardFunction) []string {
	var ops []string
	for _, fn := range fns {
		for _, a := range fn.Spec.Table {
			op := strings.TrimPrefix(string(a), "dynamodb:")
			if a == registry.ConditionCheck {
				op = "TransactWriteItems"
			}
			if !slices.Contains(ops, op) {
				ops = append(ops, op)
			}
		}
	}
	return ops
}

// functionWidgets are one function's row: what Lambda measures (by deployed
// name) and what the wrapper measures (by registry name and stage).
func functionWidgets(in dashboardInput, fn dashboardFunction) []sized {
	const lambda = "AWS/Lambda"
	name := fn.Spec.Name
	lambdaDims := []string{"FunctionName", fn.Name}
	emfDims := []string{"Function", name, "Stage", in.Stage}
	p95 := fn.Spec.Alarms.P95.Milliseconds()
	graph := func(title, unit string, period int, metrics ...[]any) metricProperties {
		return metricProperties{
			Title: title, Region: in.Region, View: "timeSeries", Period: period,
			Metrics: metrics, YAxis: yAxes{Left: yAxis{Label: unit}},
		}
	}

	duration := graph(fmt.Sprintf("%s: duration (p95 alarm at %d ms)", name, p95), "ms",
		// The alarm's own period, so the p95 line crossing the annotation
		// is exactly what pages.
		alarmPeriodSeconds,
		metric(lambda, "Duration", lambdaDims, "p50", "p50"),
		metric(lambda, "Duration", lambdaDims, "p95", "p95"),
		metric(lambda, "Duration", lambdaDims, "p99", "p99"),
	)
	duration.Annotations = &annotations{Horizontal: []annotation{{
		Label: fmt.Sprintf("p95 alarm %d ms", p95),
		Value: float64(p95),
	}}}

	// Workers report messages, not responses: the queue wrapper writes
	// Processed and Failed per batch, and its Latency is the batch's.
	latency := graph(name+": handler latency (wrapper)", "ms", dashboardPeriodSeconds,
		metric(telemetry.Namespace, emfLatency, emfDims, "p95", "p95"),
	)
	outcomes := graph(name+": 5xx, 4xx, cold starts (wrapper)", "count", dashboardPeriodSeconds,
		metric(telemetry.Namespace, emfErrors, emfDims, "Sum", "5xx"),
		metric(telemetry.Namespace, emfClientErrors, emfDims, "Sum", "4xx"),
		metric(telemetry.Namespace, emfColdStart, emfDims, "Sum", "cold starts"),
	)
	if fn.Spec.Queue != nil {
		latency.Title = name + ": batch latency (wrapper)"
		outcomes = graph(name+": messages processed, failed, cold starts (wrapper)", "count", dashboardPeriodSeconds,
			metric(telemetry.Namespace, emfProcessed, emfDims, "Sum", "processed"),
			metric(telemetry.Namespace, emfFailed, emfDims, "Sum", "failed"),
			metric(telemetry.Namespace, emfColdStart, emfDims, "Sum", "cold starts"),
		)
	}

	return []sized{
		{6, graph(name+": invocations, errors, throttles", "count", dashboardPeriodSeconds,
			metric(lambda, "Invocations", lambdaDims, "Sum", "invocations"),
			metric(lambda, "Errors", lambdaDims, "Sum", "errors"),
			metric(lambda, "Throttles", lambdaDims, "Sum", "throttles"),
		)},
		{6, duration},
		{4, graph(name+": concurrent executions", "count", dashboardPeriodSeconds,
			metric(lambda, "ConcurrentExecutions", lambdaDims, "Maximum", "concurrent"),
		)},
		{4, latency},
		{4, outcomes},
	}
}

// logWidgetQuery prefixes a query with the log groups it searches, which is
// how a dashboard log widget names them.
func logWidgetQuery(fns []dashboardFunction, q insightsQuery) string {
	sources := make([]string, 0, len(fns))
	for _, fn := range fns {
		sources = append(sources, "SOURCE '"+fn.LogGroup+"'")
	}
	return strings.Join(sources, " | ") + " | " + q.String()
}
