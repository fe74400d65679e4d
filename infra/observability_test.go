package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/lambdasqs"
	"github.com/mountainhighway/marketplace/internal/registry"
)

// repoRoot is the repository root as seen from the tests, which run in infra/.
const repoRoot = ".."

// bodyWidget is a dashboard widget as CloudWatch reads it back.
type bodyWidget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties struct {
		Title       string         `json:"title"`
		Region      string         `json:"region"`
		View        string         `json:"view"`
		Period      int            `json:"period"`
		Markdown    string         `json:"markdown"`
		Query       string         `json:"query"`
		Metrics     [][]any        `json:"metrics"`
		Stacked     bool           `json:"stacked"`
		YAxis       map[string]any `json:"yAxis"`
		Annotations *struct {
			Horizontal []struct {
				Label string  `json:"label"`
				Value float64 `json:"value"`
			} `json:"horizontal"`
		} `json:"annotations"`
	} `json:"properties"`
}

// metricRef is one entry of a widget's metrics array, decoded.
type metricRef struct {
	Namespace, Name string
	Dims            map[string]string
	Stat, Label     string
}

// metrics decodes a widget's metrics array, failing on any entry that is not
// [namespace, name, key, value, …, {stat, label}].
func (w bodyWidget) metrics(t testing.TB) []metricRef {
	t.Helper()
	var out []metricRef
	for _, m := range w.Properties.Metrics {
		require.GreaterOrEqual(t, len(m), 3, "metric %v of %q", m, w.Properties.Title)
		opts, ok := m[len(m)-1].(map[string]any)
		require.Truef(t, ok, "metric %v of %q has no options object last", m, w.Properties.Title)
		strs := make([]string, len(m)-1)
		for i, v := range m[:len(m)-1] {
			s, ok := v.(string)
			require.Truef(t, ok, "metric %v of %q: element %d is %T", m, w.Properties.Title, i, v)
			strs[i] = s
		}
		require.Truef(t, len(strs)%2 == 0, "metric %v of %q: dimensions are not key/value pairs", m, w.Properties.Title)
		ref := metricRef{Namespace: strs[0], Name: strs[1], Dims: map[string]string{}}
		for i := 2; i < len(strs); i += 2 {
			ref.Dims[strs[i]] = strs[i+1]
		}
		ref.Stat, _ = opts["stat"].(string)
		ref.Label, _ = opts["label"].(string)
		require.NotEmptyf(t, ref.Stat, "metric %v of %q has no stat", m, w.Properties.Title)
		out = append(out, ref)
	}
	return out
}

// dashboard returns the one dashboard of a run and its decoded widgets.
func dashboard(t testing.TB, m *mocks) (recorded, []bodyWidget) {
	t.Helper()
	d := m.one(t, typeDashboard, "overview")
	body, ok := d.in("dashboardBody").(string)
	require.Truef(t, ok, "dashboardBody is %T, want a JSON string", d.in("dashboardBody"))
	var parsed struct {
		Widgets []bodyWidget `json:"widgets"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&parsed), "dashboard body must be JSON of the expected shape")
	require.NotEmpty(t, parsed.Widgets)
	return d, parsed.Widgets
}

// rows groups widgets by their top edge, in order.
func rows(ws []bodyWidget) [][]bodyWidget {
	byY := map[int][]bodyWidget{}
	var ys []int
	for _, w := range ws {
		if _, ok := byY[w.Y]; !ok {
			ys = append(ys, w.Y)
		}
		byY[w.Y] = append(byY[w.Y], w)
	}
	slices.Sort(ys)
	out := make([][]bodyWidget, len(ys))
	for i, y := range ys {
		out[i] = byY[y]
	}
	return out
}

// rowMetrics returns every metric of a row.
func rowMetrics(t testing.TB, row []bodyWidget) []metricRef {
	t.Helper()
	var out []metricRef
	for _, w := range row {
		out = append(out, w.metrics(t)...)
	}
	return out
}

// has reports whether refs holds a metric with this namespace, name and stat.
func has(refs []metricRef, namespace, name, stat string) bool {
	return slices.ContainsFunc(refs, func(r metricRef) bool {
		return r.Namespace == namespace && r.Name == name && r.Stat == stat
	})
}

// functionRows returns the rows that graph a Lambda function, keyed by the
// FunctionName they graph, failing if a row mixes functions.
func functionRows(t testing.TB, ws []bodyWidget) map[string][]bodyWidget {
	t.Helper()
	out := map[string][]bodyWidget{}
	for _, row := range rows(ws) {
		names := map[string]bool{}
		for _, r := range rowMetrics(t, row) {
			if r.Namespace == "AWS/Lambda" {
				names[r.Dims["FunctionName"]] = true
			}
		}
		if len(names) == 0 {
			continue
		}
		require.Lenf(t, names, 1, "a row graphs one function, this one graphs %v", names)
		for n := range names {
			require.NotContainsf(t, out, n, "two rows graph %s", n)
			out[n] = row
		}
	}
	return out
}

// runObservability deploys the given registry entries with their API and the
// observability component only, so tests can use entries the registry lacks.
func runObservability(t testing.TB, specs []registry.Function) *mocks {
	t.Helper()
	m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		region, err := awsRegion(ctx)
		if err != nil {
			return err
		}
		d, err := deploySpecs(ctx, specs)
		if err != nil {
			return err
		}
		_, err = newObservability(ctx, d.cfg, region, d.data, d.fns, d.api, d.jobs)
		return err
	})
	require.NoError(t, err)
	return m
}

// workers returns n registry entries without an HTTP route, with distinct
// p95 thresholds.
func workers(n int) []registry.Function {
	specs := make([]registry.Function, n)
	for i := range specs {
		specs[i] = registry.Function{
			Name:    fmt.Sprintf("worker-%02d", i),
			Timeout: time.Minute,
			Alarms:  registry.Alarms{Errors: 3, P95: time.Duration(1000+i) * time.Millisecond},
		}
	}
	return specs
}

func TestDashboardLayout(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			d, ws := dashboard(t, m)
			assert.Equal(t, "mh-"+stage+"-overview", d.in("dashboardName"))
			assert.Equal(t, "mountain-highway:infra:Observability", d.Parent)

			header := ws[0]
			assert.Equal(t, "text", header.Type, "the first widget is the header")
			assert.Equal(t, 0, header.Y)
			assert.Equal(t, gridWidth, header.Width)
			assert.Contains(t, header.Properties.Markdown, stage)
			assert.Contains(t, header.Properties.Markdown, "mh-"+stage+"/", "the header points at the saved queries")

			type cell struct{ x, y int }
			taken := map[cell]string{}
			for _, w := range ws {
				title := w.Properties.Title
				assert.GreaterOrEqual(t, w.X, 0, title)
				assert.LessOrEqual(t, w.X+w.Width, gridWidth, "%q runs off the grid", title)
				assert.Positive(t, w.Height, title)
				for x := w.X; x < w.X+w.Width; x++ {
					for y := w.Y; y < w.Y+w.Height; y++ {
						if other, ok := taken[cell{x, y}]; ok {
							t.Errorf("%q overlaps %q at %d,%d", title, other, x, y)
						}
						taken[cell{x, y}] = title
					}
				}
				if w.Type == "text" {
					continue
				}
				assert.Equal(t, testRegion, w.Properties.Region, "%q must name the stack's aws:region", title)
				assert.NotEmpty(t, title)
			}
			for _, row := range rows(ws) {
				width := 0
				for _, w := range row {
					width += w.Width
				}
				assert.Equal(t, gridWidth, width, "row at y=%d fills the grid", row[0].Y)
			}
		})
	}
}

// TestDashboardAPIRow checks the HTTP API metric names and dimensions: the
// REST API names (4XXError, 5XXError, ApiName) would draw empty graphs.
func TestDashboardAPIRow(t *testing.T) {
	_, ws := dashboard(t, validSetup(stageProd).mustRun(t))
	var api []metricRef
	for _, w := range ws {
		for _, r := range w.metrics(t) {
			if r.Namespace == "AWS/ApiGateway" {
				api = append(api, r)
			}
		}
	}
	require.NotEmpty(t, api)
	names := map[string]bool{}
	for _, r := range api {
		names[r.Name] = true
		assert.Equal(t, map[string]string{"ApiId": "api-id", "Stage": "$default"}, r.Dims, r.Name)
		assert.NotContains(t, []string{"4XXError", "5XXError"}, r.Name)
	}
	assert.Equal(t, map[string]bool{"Count": true, "4xx": true, "5xx": true, "Latency": true}, names)
	for _, stat := range []string{"p50", "p95", "p99"} {
		assert.True(t, has(api, "AWS/ApiGateway", "Latency", stat), "Latency %s", stat)
	}
	for _, n := range []string{"Count", "4xx", "5xx"} {
		assert.True(t, has(api, "AWS/ApiGateway", n, "Sum"), "%s Sum", n)
	}
}

// TestDashboardRowPerFunction checks that every registry function has its own
// row, naming it by deployed name for Lambda's metrics and by registry name
// and stage for the wrapper's, with the p95 alarm drawn at its threshold.
func TestDashboardRowPerFunction(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			_, ws := dashboard(t, validSetup(stage).mustRun(t))
			byName := functionRows(t, ws)
			require.Len(t, byName, len(registry.All()), "one row per registry function")
			for _, spec := range registry.All() {
				row, ok := byName[physical(stage, spec.Name)]
				require.Truef(t, ok, "no row for %s", spec.Name)
				assertFunctionRow(t, row, spec, stage)
			}
		})
	}
}

func assertFunctionRow(t *testing.T, row []bodyWidget, spec registry.Function, stage string) {
	t.Helper()
	refs := rowMetrics(t, row)
	for _, r := range refs {
		switch r.Namespace {
		case "AWS/Lambda":
			assert.Equal(t, map[string]string{"FunctionName": physical(stage, spec.Name)}, r.Dims, "%s %s", spec.Name, r.Name)
		case "MountainHighway":
			assert.Equal(t, map[string]string{"Function": spec.Name, "Stage": stage}, r.Dims, "%s %s", spec.Name, r.Name)
		default:
			t.Errorf("%s row graphs %s %s", spec.Name, r.Namespace, r.Name)
		}
	}
	want := []struct{ namespace, name, stat string }{
		{"AWS/Lambda", "Invocations", "Sum"},
		{"AWS/Lambda", "Errors", "Sum"},
		{"AWS/Lambda", "Throttles", "Sum"},
		{"AWS/Lambda", "Duration", "p50"},
		{"AWS/Lambda", "Duration", "p95"},
		{"AWS/Lambda", "Duration", "p99"},
		{"AWS/Lambda", "ConcurrentExecutions", "Maximum"},
		{"MountainHighway", "Latency", "p95"},
		{"MountainHighway", "ColdStart", "Sum"},
	}
	// HTTP functions answer with statuses, workers with messages handled:
	// each row graphs what its wrapper writes, and nothing the other does.
	emitted := []string{"Errors", "ClientErrors"}
	absent := []string{"Processed", "Failed"}
	if spec.Queue != nil {
		emitted, absent = absent, emitted
	}
	for _, name := range emitted {
		want = append(want, struct{ namespace, name, stat string }{"MountainHighway", name, "Sum"})
	}
	for _, w := range want {
		assert.Truef(t, has(refs, w.namespace, w.name, w.stat), "%s row lacks %s %s %s", spec.Name, w.namespace, w.name, w.stat)
	}
	for _, name := range absent {
		assert.Falsef(t, has(refs, "MountainHighway", name, "Sum"), "%s row graphs %s, which its wrapper never writes", spec.Name, name)
	}

	var annotated []bodyWidget
	for _, w := range row {
		assert.Contains(t, w.Properties.Title, spec.Name, "every widget title names its function")
		if w.Properties.Annotations != nil {
			annotated = append(annotated, w)
		}
	}
	require.Len(t, annotated, 1, "%s: the duration widget carries the p95 alarm line", spec.Name)
	dur := annotated[0]
	assert.True(t, has(dur.metrics(t), "AWS/Lambda", "Duration", "p95"), "%s: the annotation sits on the duration graph", spec.Name)
	require.Len(t, dur.Properties.Annotations.Horizontal, 1)
	assert.Equal(t, float64(spec.Alarms.P95.Milliseconds()), dur.Properties.Annotations.Horizontal[0].Value, spec.Name)
	assert.Equal(t, alarmPeriodSeconds, dur.Properties.Period, "%s: the duration graph uses the alarm's period", spec.Name)
}

// TestDashboardFollowsRegistry adds entries the registry does not have, with
// thresholds no default matches, so a hard-coded row cannot pass.
func TestDashboardFollowsRegistry(t *testing.T) {
	specs := workers(3)
	_, ws := dashboard(t, runObservability(t, specs))
	byName := functionRows(t, ws)
	require.Len(t, byName, len(specs))
	for _, spec := range specs {
		row, ok := byName[physical(stageStaging, spec.Name)]
		require.Truef(t, ok, "no row for %s", spec.Name)
		assertFunctionRow(t, row, spec, stageStaging)
	}
}

// TestDashboardEMFMatchesWrapper runs the real wrapper and checks that the
// dashboard graphs the namespace, dimensions and metric names it writes.
func TestDashboardEMFMatchesWrapper(t *testing.T) {
	_, ws := dashboard(t, validSetup(stageStaging).mustRun(t))
	for _, spec := range publicHTTP(t) {
		emf, directive := requestMetrics(t, wrapperLines(t, spec, stageStaging))
		emitted := map[string]bool{}
		for _, d := range directive.Metrics {
			emitted[d.Name] = true
		}
		require.Len(t, directive.Dimensions, 1)
		dimKeys := directive.Dimensions[0]

		var graphed []metricRef
		for _, r := range rowMetrics(t, functionRows(t, ws)[physical(stageStaging, spec.Name)]) {
			if r.Namespace != "AWS/Lambda" {
				graphed = append(graphed, r)
			}
		}
		require.Len(t, graphed, 4, spec.Name)
		for _, r := range graphed {
			assert.Equal(t, directive.Namespace, r.Namespace, spec.Name)
			assert.Truef(t, emitted[r.Name], "%s: the dashboard graphs %s, the wrapper emits %v", spec.Name, r.Name, emitted)
			keys := make([]string, 0, len(r.Dims))
			for k, v := range r.Dims {
				keys = append(keys, k)
				assert.Equal(t, emf[k], v, "%s: dimension %s", spec.Name, k)
			}
			assert.ElementsMatch(t, dimKeys, keys, spec.Name)
		}
	}
}

// publicHTTP returns the registry's public HTTP functions, which the wrapper
// serves without a token verifier.
func publicHTTP(t testing.TB) []registry.Function {
	t.Helper()
	var out []registry.Function
	for _, spec := range registry.HTTP() {
		if spec.Auth == registry.Public {
			out = append(out, spec)
		}
	}
	require.NotEmpty(t, out, "the registry has public HTTP functions")
	return out
}

// emfDirective is the CloudWatch part of an EMF line.
type emfDirective struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []struct{ Name, Unit string }
}

// requestMetrics returns the EMF line the wrapper writes for every request
// (the one carrying Latency), decoded, with its directive.
func requestMetrics(t testing.TB, lines []map[string]any) (map[string]any, emfDirective) {
	t.Helper()
	for i := len(lines) - 1; i >= 0; i-- {
		if _, ok := lines[i]["_aws"]; !ok {
			continue
		}
		raw, err := json.Marshal(lines[i]["_aws"])
		require.NoError(t, err)
		var aws struct{ CloudWatchMetrics []emfDirective }
		require.NoError(t, json.Unmarshal(raw, &aws))
		for _, d := range aws.CloudWatchMetrics {
			for _, m := range d.Metrics {
				if m.Name == emfLatency {
					return lines[i], d
				}
			}
		}
	}
	require.FailNow(t, "the wrapper wrote no EMF line with Latency")
	return nil, emfDirective{}
}

// wrapperLines serves one panicking request through the real wrapper and
// returns what it wrote: log lines, then the EMF line.
func wrapperLines(t *testing.T, spec registry.Function, stage string) []map[string]any {
	t.Helper()
	var out bytes.Buffer
	w := lambdahttp.New(lambdahttp.Options{Function: spec, Stage: stage, Out: &out})
	h := w.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(spec.HTTP.Path, "x")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(spec.HTTP.Method, path, nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		lines = append(lines, line)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, lines)
	return lines
}

// TestQueriesReadWrapperFields checks that the fields the saved queries and
// the dashboard filter on are the ones the wrapper writes on the line that
// closes a failed request.
func TestQueriesReadWrapperFields(t *testing.T) {
	spec := publicHTTP(t)[0]
	var completed map[string]any
	for _, line := range wrapperLines(t, spec, stageStaging) {
		if line["msg"] == "request completed" {
			completed = line
		}
	}
	require.NotNil(t, completed, "the wrapper logs a request completed line")
	assert.Equal(t, "ERROR", completed["level"], `queries filter level = "ERROR"`)
	assert.Equal(t, true, completed["coldStart"], "the first request is a cold start")
	assert.Equal(t, spec.Name, completed["function"])

	byQuery := map[string]string{"latest-errors (dashboard)": latestErrorsQuery.String()}
	for _, q := range savedQueries() {
		byQuery[q.Slug] = q.Query.String()
	}
	uses := map[string][]string{
		"latest-errors (dashboard)": {"function", "correlationId", "msg", "error", "level"},
		"errors-by-function":        {"function", "errorKind", "level"},
		"slowest-requests":          {"function", "durationMs", "status", "method", "path", "correlationId", "coldStart", "msg"},
		"correlation-id":            {"function", "level", "msg", "status", "durationMs", "error", "correlationId"},
		"cold-starts-by-function":   {"msg", "coldStart", "durationMs", "function"},
	}
	for name, fields := range uses {
		q, ok := byQuery[name]
		require.Truef(t, ok, "no query %s", name)
		for _, f := range fields {
			assert.Containsf(t, q, f, "%s reads %s", name, f)
			assert.Containsf(t, completed, f, "%s reads %s, which the wrapper does not write", name, f)
		}
	}
	assert.Contains(t, byQuery["latest-errors (dashboard)"], `filter level = "ERROR"`)
}

func TestLatestErrorsWidget(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			_, ws := dashboard(t, validSetup(stage).mustRun(t))
			var logs []bodyWidget
			for _, w := range ws {
				if w.Type == "log" {
					logs = append(logs, w)
				}
			}
			require.Len(t, logs, 1)
			q := logs[0].Properties.Query
			for _, spec := range registry.All() {
				assert.Contains(t, q, "SOURCE '/aws/lambda/"+physical(stage, spec.Name)+"'")
			}
			assert.Equal(t, len(registry.All()), strings.Count(q, "SOURCE "))
			assert.Equal(t,
				`fields @timestamp, function, correlationId, msg, error | filter level = "ERROR" | sort @timestamp desc | limit 50`,
				strings.Join(strings.Fields(q[strings.Index(q, "fields "):]), " "))
			assert.Equal(t, "table", logs[0].Properties.View)
			assert.Equal(t, testRegion, logs[0].Properties.Region)
			last := ws[len(ws)-1]
			assert.Equal(t, "log", last.Type, "the errors row is the last one")
		})
	}
}

func TestSavedQueries(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			var functionGroups []any
			for _, spec := range registry.All() {
				functionGroups = append(functionGroups, "/aws/lambda/"+physical(stage, spec.Name))
			}
			accessLog := "/aws/apigateway/mh-" + stage + "-api"
			tests := []struct {
				slug     string
				groups   []any
				contains string
			}{
				{"errors-by-function", functionGroups, "stats count(*) as errors by function"},
				{"invocation-failures", functionGroups, "Task timed out"},
				{"slowest-requests", functionGroups, "sort durationMs desc"},
				{"correlation-id", append([]any{accessLog}, functionGroups...), `filter correlationId = "REPLACE_ME"`},
				{"cold-starts-by-function", functionGroups, "coldStart = 1"},
				{"security-events", functionGroups, `event in ["login_succeeded", "login_failed", "login_lockout", "refresh_token_reused", "user_registered", "role_changed"]`},
				{"login-failures-by-ip", functionGroups, "count_distinct(emailHash) as accounts by ip"},
				{"api-5xx-by-route", []any{accessLog}, "by routeKey"},
				{"worker-message-failures", functionGroups, `filter msg = "message failed"`},
			}
			require.Len(t, m.ofType(typeQuery), len(tests))
			for _, tt := range tests {
				q := m.one(t, typeQuery, "query-"+tt.slug)
				assert.Equal(t, "mh-"+stage+"/"+tt.slug, q.in("name"))
				assert.ElementsMatch(t, tt.groups, q.in("logGroupNames"), tt.slug)
				assert.Contains(t, q.in("queryString"), tt.contains, tt.slug)
				assert.Equal(t, "mountain-highway:infra:Observability", q.Parent, tt.slug)
			}
		})
	}
}

// TestManyFunctionsSplitQueries checks that a registry past the Logs Insights
// limit of log groups per query still has every log group searched, with the
// first query keeping the name the runbooks give.
func TestManyFunctionsSplitQueries(t *testing.T) {
	specs := workers(maxQueryLogGroups + 10)
	m := runObservability(t, specs)
	want := map[string]bool{}
	for _, spec := range specs {
		want["/aws/lambda/"+physical(stageStaging, spec.Name)] = true
	}

	for _, slug := range []string{"errors-by-function", "correlation-id"} {
		first := m.one(t, typeQuery, "query-"+slug)
		second := m.one(t, typeQuery, "query-"+slug+"-2")
		assert.Equal(t, "mh-staging/"+slug, first.in("name"))
		assert.Equal(t, "mh-staging/"+slug+"-2", second.in("name"))
		got := map[string]bool{}
		for _, q := range []recorded{first, second} {
			groups, ok := q.in("logGroupNames").([]any)
			require.True(t, ok)
			assert.LessOrEqual(t, len(groups), maxQueryLogGroups, q.Name)
			for _, g := range groups {
				got[g.(string)] = true
			}
		}
		delete(got, "/aws/apigateway/mh-staging-api")
		assert.Equal(t, want, got, "%s searches every function log group once split", slug)
	}

	_, ws := dashboard(t, m)
	var sources int
	var logs int
	for _, w := range ws {
		if w.Type == "log" {
			logs++
			n := strings.Count(w.Properties.Query, "SOURCE ")
			assert.LessOrEqual(t, n, maxQueryLogGroups)
			sources += n
			assert.Contains(t, w.Properties.Title, "part")
		}
	}
	assert.Equal(t, 2, logs)
	assert.Equal(t, len(specs), sources)
	assert.Len(t, functionRows(t, ws), len(specs))
}

func TestDashboardWidgetLimit(t *testing.T) {
	require.NoError(t, checkDashboard(registry.All()))
	tooMany := workers(100)
	err := checkDashboard(tooMany)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "allows 500")

	in := dashboardInput{Stage: stageStaging}
	for _, spec := range tooMany {
		in.Functions = append(in.Functions, dashboardFunction{Spec: spec})
	}
	_, err = dashboardBody(in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mh-staging-overview")
}

func TestRegionRequired(t *testing.T) {
	m, err := validSetup(stageStaging).with("aws:region", "").run(run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aws:region")
	assert.Empty(t, m.ofType(typeTable), "nothing is created without a region")
}

func TestAsStrings(t *testing.T) {
	got, err := asStrings([]any{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, got)
	_, err = asStrings([]any{"a", 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "value 1 is int")
}

// runbookPath matches a runbook named in an alarm description.
var runbookPath = regexp.MustCompile(`docs/runbooks/[A-Za-z0-9._-]+\.md`)

// TestAlarmRunbooksExist reads every alarm the program creates and checks
// that the runbook its description names is in the repository.
func TestAlarmRunbooksExist(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	alarms := m.ofType(typeAlarm)
	require.NotEmpty(t, alarms)
	seen := map[string]bool{}
	for _, a := range alarms {
		desc, ok := a.in("alarmDescription").(string)
		require.Truef(t, ok, "%s has no description", a.Name)
		paths := runbookPath.FindAllString(desc, -1)
		assert.NotEmptyf(t, paths, "%s names no runbook: %q", a.Name, desc)
		for _, p := range paths {
			seen[p] = true
		}
	}
	for p := range seen {
		info, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(p)))
		if assert.NoErrorf(t, err, "an alarm names %s, which does not exist", p) {
			assert.Greaterf(t, info.Size(), int64(500), "%s is too short to help anyone", p)
		}
	}
}

// TestRunbooksNameRealThings checks that the saved queries and the dashboard
// a runbook sends on-call to are ones the program creates.
func TestRunbooksNameRealThings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "runbooks", "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	slugs := map[string]bool{}
	for _, q := range savedQueries() {
		slugs[q.Slug] = true
	}
	queryRef := regexp.MustCompile(`mh-<stage>/([a-z0-9-]+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		text := string(b)
		name := filepath.Base(f)
		assert.Containsf(t, text, "mh-<stage>-overview", "%s sends on-call to the dashboard", name)
		assert.Containsf(t, text, "pulumi stack history", "%s says how to roll back", name)
		refs := queryRef.FindAllStringSubmatch(text, -1)
		assert.NotEmptyf(t, refs, "%s names no saved query", name)
		for _, r := range refs {
			assert.Truef(t, slugs[r[1]], "%s names saved query mh-<stage>/%s, which the program does not create", name, r[1])
		}
	}
}

// TestDashboardTableRow checks that the table and each of its indexes are
// watched for throttling, and that the latency graph follows the operations
// the registry grants.
func TestDashboardTableRow(t *testing.T) {
	_, ws := dashboard(t, validSetup(stageStaging).mustRun(t))
	var refs []metricRef
	for _, w := range ws {
		for _, r := range w.metrics(t) {
			if r.Namespace == "AWS/DynamoDB" {
				refs = append(refs, r)
			}
		}
	}
	require.NotEmpty(t, refs)
	throttled := map[string]bool{}
	var ops []string
	for _, r := range refs {
		assert.Equal(t, "mh-staging-table", r.Dims["TableName"], r.Name)
		switch r.Name {
		case "ReadThrottleEvents", "WriteThrottleEvents":
			throttled[r.Name+"/"+r.Dims["GlobalSecondaryIndexName"]] = true
		case "SuccessfulRequestLatency":
			ops = append(ops, r.Dims["Operation"])
		default:
			t.Errorf("unexpected DynamoDB metric %s", r.Name)
		}
	}
	for _, ix := range []string{"", "GSI1", "GSI2"} {
		assert.True(t, throttled["ReadThrottleEvents/"+ix], "read throttles of %q", ix)
		assert.True(t, throttled["WriteThrottleEvents/"+ix], "write throttles of %q", ix)
	}
	var want []string
	for _, spec := range registry.All() {
		for _, a := range spec.Table {
			op := strings.TrimPrefix(string(a), "dynamodb:")
			if a == registry.ConditionCheck {
				op = "TransactWriteItems" // DynamoDB reports condition checks inside transactions
			}
			if !slices.Contains(want, op) {
				want = append(want, op)
			}
		}
	}
	assert.Equal(t, want, ops)
}

func TestTableOperations(t *testing.T) {
	fns := []dashboardFunction{
		{Spec: registry.Function{Table: []registry.TableAction{registry.GetItem, registry.Query}}},
		{Spec: registry.Function{Table: []registry.TableAction{registry.PutItem, registry.ConditionCheck, registry.GetItem}}},
		{Spec: registry.Function{}},
	}
	assert.Equal(t, []string{"GetItem", "Query", "PutItem", "TransactWriteItems"}, tableOperations(fns))
}

// TestInvocationFailuresQueryMatches checks the failures query's pattern
// against the lines it exists for: Lambda's own, the start-up message of
// lambdahttp.Main, and the wrapper's real warning before a timeout.
func TestInvocationFailuresQueryMatches(t *testing.T) {
	var query string
	for _, q := range savedQueries() {
		if q.Slug == "invocation-failures" {
			query = q.Query.String()
		}
	}
	m := regexp.MustCompile(`like /(.*)/\n`).FindStringSubmatch(query)
	require.Len(t, m, 2, "the query filters @message with a regular expression: %s", query)
	pattern := regexp.MustCompile(m[1])

	spec := publicHTTP(t)[0]
	out := &lockedBuffer{}
	w := lambdahttp.New(lambdahttp.Options{Function: spec, Stage: stageStaging, Out: out})
	h := w.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		// Outlive the deadline a little, so the warning's timer has run
		// even on a loaded machine.
		time.Sleep(100 * time.Millisecond)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(spec.HTTP.Path, "x")
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(spec.HTTP.Method, path, nil).WithContext(ctx))
	var warning string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.Contains(line, `"level":"WARN"`) {
			warning = line
		}
	}
	require.NotEmpty(t, warning, "the wrapper warns before the deadline: %s", out.String())

	tests := []struct {
		line string
		want bool
	}{
		{warning, true},
		{"2026-01-01T00:00:00.000Z 8f5e Task timed out after 3.00 seconds", true},
		{"INIT_REPORT Init Duration: 9.51 ms Phase: init Status: error Error Type: Runtime.ExitError", true},
		{"REPORT RequestId: 8f5e Duration: 3000.00 ms Status: timeout", true},
		{"listing-get: config: TABLE_NAME is required", true},
		{`{"level":"INFO","msg":"request completed","function":"health","status":200}`, false},
		{"START RequestId: 8f5e Version: $LATEST", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, pattern.MatchString(tt.line), "%q", tt.line)
	}
}

// queueRows returns the dashboard rows that graph SQS, keyed by the main
// queue they graph.
func queueRows(t testing.TB, ws []bodyWidget) map[string][]bodyWidget {
	t.Helper()
	out := map[string][]bodyWidget{}
	for _, row := range rows(ws) {
		var main string
		for _, r := range rowMetrics(t, row) {
			if r.Namespace == "AWS/SQS" && !strings.HasSuffix(r.Dims["QueueName"], "-dlq") {
				main = r.Dims["QueueName"]
			}
		}
		if main != "" {
			require.NotContains(t, out, main, "two rows graph %s", main)
			out[main] = row
		}
	}
	return out
}

// TestDashboardQueueRows checks one row per registry queue: backlog, in
// flight, age with the age alarm's line, and DLQ depth with the DLQ alarm's
// line, each on the deployed queue names.
func TestDashboardQueueRows(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			_, ws := dashboard(t, validSetup(stage).mustRun(t))
			byQueue := queueRows(t, ws)
			workers := registryConsumers(t)
			require.Len(t, byQueue, len(workers), "one row per queue")
			for _, spec := range workers {
				name := physical(stage, spec.Queue.Name)
				row, ok := byQueue[name]
				require.Truef(t, ok, "no row for queue %s", name)
				require.Len(t, row, 4, name)
				want := []struct {
					metric, queue string
					alarm         float64 // 0 for no annotation
				}{
					{"ApproximateNumberOfMessagesVisible", name, 0},
					{"ApproximateNumberOfMessagesNotVisible", name, 0},
					{"ApproximateAgeOfOldestMessage", name, 900},
					{"ApproximateNumberOfMessagesVisible", name + "-dlq", 1},
				}
				for i, w := range want {
					refs := row[i].metrics(t)
					require.Len(t, refs, 1, row[i].Properties.Title)
					assert.Equal(t, metricRef{Namespace: "AWS/SQS", Name: w.metric, Dims: map[string]string{"QueueName": w.queue}, Stat: "Maximum", Label: refs[0].Label}, refs[0])
					assert.Contains(t, row[i].Properties.Title, spec.Queue.Name+" queue")
					if w.alarm == 0 {
						assert.Nil(t, row[i].Properties.Annotations, row[i].Properties.Title)
						continue
					}
					require.NotNil(t, row[i].Properties.Annotations, row[i].Properties.Title)
					assert.Equal(t, w.alarm, row[i].Properties.Annotations.Horizontal[0].Value, row[i].Properties.Title)
					assert.Equal(t, alarmPeriodSeconds, row[i].Properties.Period, "%s: the alarm's period", row[i].Properties.Title)
				}
			}
			header := ws[0].Properties.Markdown
			assert.Contains(t, header, "one row per queue")
		})
	}
}

// TestDashboardBudgetCountsQueues checks that the widget budget includes the
// queue rows: 80 workers fit as functions alone, not with their queues.
func TestDashboardBudgetCountsQueues(t *testing.T) {
	plain := workers(80)
	require.NoError(t, checkDashboard(plain))
	queued := workers(80)
	for i := range queued {
		queued[i].Queue = &registry.Queue{Name: fmt.Sprintf("q%02d", i), BatchSize: 1, MaxReceiveCount: 3}
	}
	err := checkDashboard(queued)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "allows 500")
}

// sqsWrapperLines runs one batch of two messages through the real queue
// wrapper, the second failing on its last delivery, and returns what it
// wrote.
func sqsWrapperLines(t *testing.T, spec registry.Function, stage string) []map[string]any {
	t.Helper()
	var out bytes.Buffer
	w := lambdasqs.New(lambdasqs.Options{Function: spec, Stage: stage, Out: &out})
	h := w.Handler(func(_ context.Context, msg events.SQSMessage) error {
		if msg.MessageId == "poison" {
			return errors.New("cannot decode")
		}
		return nil
	})
	resp, err := h(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "fine", Body: "{}"},
		{MessageId: "poison", Body: "{}", Attributes: map[string]string{lambdasqs.ReceiveCountAttribute: "3"}},
	}})
	require.NoError(t, err)
	require.Len(t, resp.BatchItemFailures, 1)

	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		lines = append(lines, line)
	}
	require.NoError(t, sc.Err())
	return lines
}

// TestWorkerEMFMatchesWrapper runs the real queue wrapper for every registry
// worker and checks that the Failed alarm and the worker's dashboard row
// name the namespace, dimensions and metrics it writes.
func TestWorkerEMFMatchesWrapper(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	_, ws := dashboard(t, m)
	for _, spec := range registryConsumers(t) {
		var emf map[string]any
		var directive emfDirective
		for _, line := range sqsWrapperLines(t, spec, stageStaging) {
			if _, ok := line["_aws"]; ok {
				emf = line
				raw, err := json.Marshal(line["_aws"])
				require.NoError(t, err)
				var aws struct{ CloudWatchMetrics []emfDirective }
				require.NoError(t, json.Unmarshal(raw, &aws))
				require.Len(t, aws.CloudWatchMetrics, 1)
				directive = aws.CloudWatchMetrics[0]
			}
		}
		require.NotNil(t, emf, "%s: the wrapper wrote an EMF line", spec.Name)
		emitted := map[string]bool{}
		for _, d := range directive.Metrics {
			emitted[d.Name] = true
		}
		require.Len(t, directive.Dimensions, 1)
		assert.Equal(t, float64(1), emf[emfFailed], "%s: the poison message counts as failed", spec.Name)

		alarm := m.one(t, typeAlarm, spec.Name+"-failed")
		assert.Equal(t, directive.Namespace, alarm.in("namespace"), spec.Name)
		assert.True(t, emitted[alarm.in("metricName").(string)], "%s: the alarm watches %s, the wrapper emits %v", spec.Name, alarm.in("metricName"), emitted)
		dims, ok := alarm.in("dimensions").(map[string]any)
		require.True(t, ok)
		keys := make([]string, 0, len(dims))
		for k, v := range dims {
			keys = append(keys, k)
			assert.Equal(t, emf[k], v, "%s: dimension %s", spec.Name, k)
		}
		assert.ElementsMatch(t, directive.Dimensions[0], keys, spec.Name)

		var graphed int
		for _, r := range rowMetrics(t, functionRows(t, ws)[physical(stageStaging, spec.Name)]) {
			if r.Namespace == "AWS/Lambda" {
				continue
			}
			graphed++
			assert.Equal(t, directive.Namespace, r.Namespace, spec.Name)
			assert.Truef(t, emitted[r.Name], "%s: the dashboard graphs %s, the wrapper emits %v", spec.Name, r.Name, emitted)
			for k, v := range r.Dims {
				assert.Equal(t, emf[k], v, "%s: dimension %s", spec.Name, k)
			}
			assert.Len(t, r.Dims, len(directive.Dimensions[0]), spec.Name)
		}
		assert.Equal(t, 4, graphed, spec.Name)
	}
}

// TestWorkerQueryReadsWrapperFields checks that the worker failures query
// filters on the message and reads the fields the queue wrapper writes when
// a message fails.
func TestWorkerQueryReadsWrapperFields(t *testing.T) {
	spec := registryConsumers(t)[0]
	var failed map[string]any
	for _, line := range sqsWrapperLines(t, spec, stageStaging) {
		if line["msg"] == "message failed" {
			failed = line
		}
	}
	require.NotNil(t, failed, "the wrapper logs a failed message")
	assert.Equal(t, "ERROR", failed["level"])
	assert.Equal(t, float64(3), failed["receiveCount"])

	var query string
	for _, q := range savedQueries() {
		if q.Slug == "worker-message-failures" {
			query = q.Query.String()
		}
	}
	require.NotEmpty(t, query)
	for _, f := range []string{"function", "messageId", "receiveCount", "correlationId", "errorKind", "error"} {
		assert.Contains(t, query, f)
		assert.Containsf(t, failed, f, "the query reads %s, which the wrapper does not write", f)
	}
}

// lockedBuffer is a bytes.Buffer safe for the wrapper's timer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
