package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/lambdahttp"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

// TestSecurityAlarms checks the two security alarms with their expected
// values written out, so that a changed threshold or dimension fails here.
func TestSecurityAlarms(t *testing.T) {
	tests := []struct {
		logical, event, function, runbook string
		threshold                         float64
	}{
		{"security-token-reuse", "refresh_token_reused", "auth-refresh", "docs/runbooks/security-token-reuse.md", 1},
		{"security-credential-stuffing", "login_lockout", "auth-login", "docs/runbooks/security-credential-stuffing.md", 20},
	}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			topicArn := m.one(t, typeTopic, "alarms").out("arn")
			for _, tt := range tests {
				a := m.one(t, typeAlarm, tt.logical)
				assert.Equal(t, "mh-"+stage+"-"+tt.logical, a.in("name"))
				assert.Equal(t, "MountainHighway", a.in("namespace"), tt.logical)
				assert.Equal(t, "Events", a.in("metricName"), tt.logical)
				assert.Equal(t, map[string]any{"Event": tt.event, "Function": tt.function, "Stage": stage}, a.in("dimensions"),
					"%s: EMF dimension sets are exact, so all three must be named", tt.logical)
				assert.Equal(t, "Sum", a.in("statistic"), tt.logical)
				assert.Equal(t, float64(300), a.in("period"), tt.logical)
				assert.Equal(t, float64(1), a.in("evaluationPeriods"), tt.logical)
				assert.Equal(t, "GreaterThanOrEqualToThreshold", a.in("comparisonOperator"), tt.logical)
				assert.Equal(t, tt.threshold, a.in("threshold"), tt.logical)
				assert.Equal(t, "notBreaching", a.in("treatMissingData"), "%s: no event is no attack", tt.logical)
				assert.Equal(t, []any{topicArn}, a.in("alarmActions"), tt.logical)
				assert.Equal(t, []any{topicArn}, a.in("okActions"), tt.logical)
				desc, _ := a.in("alarmDescription").(string)
				assert.Contains(t, desc, tt.runbook, tt.logical)
				assert.Contains(t, desc, tt.event, tt.logical)
				assert.Contains(t, desc, "mh-"+stage+"-"+tt.function, tt.logical)
			}
		})
	}
}

// TestSecurityEmittersAreRegistryFunctions checks that every function the
// alarms and the Security row name is an HTTP function of the registry: a
// renamed function would otherwise leave an alarm watching nothing.
func TestSecurityEmittersAreRegistryFunctions(t *testing.T) {
	check := func(name, what string) {
		spec, ok := registry.Lookup(name)
		if assert.Truef(t, ok, "%s names %q, which is not in the registry", what, name) {
			assert.NotNilf(t, spec.HTTP, "%s names %q, which has no route", what, name)
		}
	}
	for _, a := range securityAlarms {
		check(a.Function, "alarm "+a.Slug)
	}
	seen := map[string]bool{}
	for _, g := range securityGraphs {
		for _, ev := range g.Events {
			assert.Falsef(t, seen[ev.Name], "%s graphed twice", ev.Name)
			seen[ev.Name] = true
			require.NotEmpty(t, ev.Emitters, ev.Name)
			for _, fn := range ev.Emitters {
				check(fn, "event "+ev.Name)
			}
		}
	}
	for _, name := range []string{"login_succeeded", "login_failed", "login_lockout", "refresh_token_reused", "role_changed", "user_registered"} {
		assert.Truef(t, seen[name], "the Security row graphs %s", name)
	}
}

// securityRow returns the dashboard row whose widgets are titled Security.
func securityRow(t testing.TB, ws []bodyWidget) []bodyWidget {
	t.Helper()
	var found []bodyWidget
	for _, row := range rows(ws) {
		if strings.HasPrefix(row[0].Properties.Title, "Security: ") {
			require.Nil(t, found, "one Security row")
			found = row
		}
	}
	return found
}

// TestDashboardSecurityRow checks the Security row: right under the table
// row, one line per event and emitting function with the exact dimension
// set, and the two alarm thresholds drawn at the alarm period.
func TestDashboardSecurityRow(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			_, ws := dashboard(t, validSetup(stage).mustRun(t))
			row := securityRow(t, ws)
			require.NotEmpty(t, row, "no Security row")
			assert.Equal(t, row[0].Y, rows(ws)[3][0].Y, "Security is row 3, after the API and the table")

			type line struct{ event, function string }
			got := map[line]bool{}
			thresholds := map[string]float64{}
			for _, w := range row {
				assert.Equal(t, "metric", w.Type)
				for _, r := range w.metrics(t) {
					assert.Equal(t, "MountainHighway", r.Namespace, w.Properties.Title)
					assert.Equal(t, "Events", r.Name, w.Properties.Title)
					assert.Equal(t, "Sum", r.Stat, w.Properties.Title)
					require.Len(t, r.Dims, 3, "Event, Function and Stage: %v", r.Dims)
					assert.Equal(t, stage, r.Dims["Stage"])
					got[line{r.Dims["Event"], r.Dims["Function"]}] = true
				}
				if a := w.Properties.Annotations; a != nil {
					assert.Equal(t, alarmPeriodSeconds, w.Properties.Period, "%q is drawn at its alarm's period", w.Properties.Title)
					for _, h := range a.Horizontal {
						for _, r := range w.metrics(t) {
							thresholds[r.Dims["Event"]] = h.Value
						}
					}
				}
			}
			assert.Equal(t, map[line]bool{
				{"login_succeeded", "auth-login"}:        true,
				{"login_failed", "auth-login"}:           true,
				{"login_lockout", "auth-login"}:          true,
				{"refresh_token_reused", "auth-refresh"}: true,
				{"user_registered", "auth-register"}:     true,
				{"role_changed", "me-seller"}:            true,
				{"role_changed", "admin-user-roles"}:     true,
			}, got)
			assert.Equal(t, map[string]float64{"login_lockout": 20, "refresh_token_reused": 1}, thresholds)
		})
	}
}

// TestSecurityFollowsDeployedFunctions deploys part of the account
// functions: only the alarms and graphs of deployed emitters exist, and the
// row still fills the grid; with none of them there is no row at all.
func TestSecurityFollowsDeployedFunctions(t *testing.T) {
	route := func(name, path string) registry.Function {
		return registry.Function{Name: name, HTTP: &registry.Route{Method: "POST", Path: path}, Auth: registry.Public, Timeout: time.Second, Alarms: registry.Alarms{Errors: 1, P95: time.Second}}
	}
	tests := []struct {
		name   string
		specs  []registry.Function
		alarms []string
		graphs []string
	}{
		{"no account functions", workers(2), nil, nil},
		{"sign-in only", []registry.Function{route("auth-login", "/v1/auth/login")}, []string{"security-credential-stuffing"}, []string{"Security: sign-ins", "Security: lockouts"}},
		{"refresh only", []registry.Function{route("auth-refresh", "/v1/auth/refresh")}, []string{"security-token-reuse"}, []string{"Security: refresh-token reuse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := runObservability(t, tt.specs)
			var titles []string
			_, ws := dashboard(t, m)
			for _, w := range securityRow(t, ws) {
				titles = append(titles, w.Properties.Title)
				assert.Equal(t, gridWidth/len(tt.graphs), w.Width, w.Properties.Title)
			}
			assert.Equal(t, tt.graphs, titles)

			am, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
				d, err := deploySpecs(ctx, tt.specs)
				if err != nil {
					return err
				}
				_, err = newAlerting(ctx, d.cfg, d.fns, d.api, d.jobs)
				return err
			})
			require.NoError(t, err)
			var security []string
			for _, a := range am.ofType(typeAlarm) {
				if strings.HasPrefix(a.Name, "security-") {
					security = append(security, a.Name)
				}
			}
			assert.Equal(t, tt.alarms, security)
		})
	}
}

// anyToken accepts every bearer token as an account holding every role, so
// that protected emitters run their handler.
type anyToken struct{}

func (anyToken) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{UserID: "u1", Roles: []auth.Role{auth.Buyer, auth.Seller, auth.Admin}}, nil
}

// emittedEvent serves one request through the real wrapper of spec whose
// handler emits event the way the account service does, and returns the
// event's log line and its EMF line.
func emittedEvent(t *testing.T, spec registry.Function, stage, event string) (logLine, emf map[string]any, directive emfDirective) {
	t.Helper()
	var out bytes.Buffer
	w := lambdahttp.New(lambdahttp.Options{Function: spec, Stage: stage, Out: &out, Verifier: anyToken{}})
	h := w.Handler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		telemetry.Events{}.Emit(r.Context(), event, map[string]any{
			"userId": "u1", "familyId": "f1", "ip": "192.0.2.1", "emailHash": "e1", "lockedForSeconds": 30,
		})
		rw.WriteHeader(http.StatusNoContent)
	}))
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(spec.HTTP.Path, "x")
	req := httptest.NewRequest(spec.HTTP.Method, path, nil)
	req.Header.Set("Authorization", "Bearer test")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code, "%s: %s", spec.Name, rec.Body)

	written := out.String()
	sc := bufio.NewScanner(strings.NewReader(written))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if line["msg"] == "event" {
			logLine = line
		}
		aws, ok := line["_aws"]
		if !ok {
			continue
		}
		raw, err := json.Marshal(aws)
		require.NoError(t, err)
		var parsed struct{ CloudWatchMetrics []emfDirective }
		require.NoError(t, json.Unmarshal(raw, &parsed))
		for _, d := range parsed.CloudWatchMetrics {
			for _, mt := range d.Metrics {
				if mt.Name == emfEvents {
					emf, directive = line, d
				}
			}
		}
	}
	require.NoError(t, sc.Err())
	require.NotNil(t, logLine, "the wrapper logs the event: %s", written)
	require.NotNil(t, emf, "the wrapper writes an EMF line with %s: %s", emfEvents, written)
	return logLine, emf, directive
}

// TestSecurityMetricsMatchWrapper emits every security event through the
// real wrapper of its emitting function and checks that each alarm and each
// Security graph names exactly the namespace, metric, dimension set and
// values the EMF line carries.
func TestSecurityMetricsMatchWrapper(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	_, ws := dashboard(t, m)
	graphed := map[string]metricRef{}
	for _, w := range securityRow(t, ws) {
		for _, r := range w.metrics(t) {
			graphed[r.Dims["Event"]+"/"+r.Dims["Function"]] = r
		}
	}
	alarms := map[string]recorded{}
	for _, a := range securityAlarms {
		alarms[a.Event+"/"+a.Function] = m.one(t, typeAlarm, a.Slug)
	}

	for _, g := range securityGraphs {
		for _, ev := range g.Events {
			for _, fn := range ev.Emitters {
				key := ev.Name + "/" + fn
				spec, ok := registry.Lookup(fn)
				require.True(t, ok, fn)
				_, emf, directive := emittedEvent(t, spec, stageProd, ev.Name)
				require.Len(t, directive.Dimensions, 1, key)
				emitted := map[string]string{}
				for _, k := range directive.Dimensions[0] {
					emitted[k], _ = emf[k].(string)
				}

				r, ok := graphed[key]
				if assert.Truef(t, ok, "the Security row does not graph %s", key) {
					assert.Equal(t, directive.Namespace, r.Namespace, key)
					assert.Equal(t, emitted, r.Dims, key)
				}
				if a, ok := alarms[key]; ok {
					assert.Equal(t, directive.Namespace, a.in("namespace"), key)
					assert.Equal(t, emfEvents, a.in("metricName"), key)
					dims := map[string]string{}
					for k, v := range a.in("dimensions").(map[string]any) {
						dims[k], _ = v.(string)
					}
					assert.Equal(t, emitted, dims, key)
					delete(alarms, key)
				}
			}
		}
	}
	assert.Empty(t, alarms, "alarms on events the Security row does not know")
}

// TestSecurityQueriesReadEventFields checks that the fields the security
// queries read are on the line the wrapper writes for an event.
func TestSecurityQueriesReadEventFields(t *testing.T) {
	spec, ok := registry.Lookup("auth-login")
	require.True(t, ok)
	line, _, _ := emittedEvent(t, spec, stageStaging, "login_lockout")
	byQuery := map[string]string{}
	for _, q := range savedQueries() {
		byQuery[q.Slug] = q.Query.String()
	}
	uses := map[string][]string{
		"security-events":      {"msg", "event", "function", "userId", "familyId", "ip", "emailHash", "lockedForSeconds", "correlationId"},
		"login-failures-by-ip": {"msg", "event", "emailHash", "ip"},
	}
	for name, fields := range uses {
		q, ok := byQuery[name]
		require.Truef(t, ok, "no query %s", name)
		for _, f := range fields {
			assert.Containsf(t, q, f, "%s reads %s", name, f)
			assert.Containsf(t, line, f, "%s reads %s, which the event line lacks", name, f)
		}
		assert.Contains(t, q, `msg = "event"`, name)
	}
	assert.Equal(t, "event", line["msg"])
	assert.Equal(t, "login_lockout", line["event"])
	assert.Equal(t, "auth-login", line["function"])
}
