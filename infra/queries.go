package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mountainhighway/marketplace/internal/account"
)

// maxQueryLogGroups is how many log groups one Logs Insights query may search:
// StartQuery's limit, which saved queries and dashboard log widgets inherit.
// A registry with more functions gets one query (or widget) per chunk.
const maxQueryLogGroups = 50

// insightsQuery is a Logs Insights query as its commands, one per line; the
// console shows a saved query exactly as it is stored, so lines keep it readable.
type insightsQuery []string

// String returns the query in the form StartQuery accepts.
func (q insightsQuery) String() string { return strings.Join(q, "\n| ") }

// querySources says which log groups a saved query searches.
type querySources int

const (
	// functionLogs are the log groups of every registry function.
	functionLogs querySources = iota
	// functionAndAccessLogs adds the API access log, whose correlationId is
	// the API Gateway request id: a request that never reached a function
	// (throttled, timed out at the gateway) is only there.
	functionAndAccessLogs
	// accessLogOnly is the API access log alone.
	accessLogOnly
)

// savedQuery is one Logs Insights query saved under mh-<stage>/<Slug>.
type savedQuery struct {
	Slug    string
	Sources querySources
	Query   insightsQuery
}

// correlationPlaceholder is what on-call replaces with the id they hold; a
// value that matches nothing makes an unedited run return no rows rather
// than something misleading.
const correlationPlaceholder = "REPLACE_ME"

// latestErrorsQuery lists the newest error-level lines the wrapper wrote,
// with what is needed to follow one up: the function and correlation id.
var latestErrorsQuery = insightsQuery{
	"fields @timestamp, function, correlationId, msg, error",
	`filter level = "ERROR"`,
	"sort @timestamp desc",
	"limit 50",
}

// savedQueries are the queries the runbooks tell on-call to open. They read
// the fields internal/lambdahttp logs on every "request completed" line
// (function, correlationId, status, durationMs, coldStart, error, errorKind)
// and the fields of the API access log format in api.go.
func savedQueries() []savedQuery {
	return []savedQuery{
		{
			Slug: "errors-by-function",
			Query: insightsQuery{
				"fields function, errorKind",
				`filter level = "ERROR"`,
				"stats count(*) as errors by function, errorKind",
				"sort errors desc",
			},
		},
		{
			// Lambda's Errors metric counts failed invocations, which the
			// wrapper never reports as JSON: it turns handler errors and
			// panics into responses. Timeouts, crashes at start-up and
			// out-of-memory kills appear only as Lambda's own text lines,
			// the message lambdahttp.Main prints before exiting at start-up
			// ("<name>: config: …"), and the wrapper's warning shortly
			// before a timeout.
			Slug: "invocation-failures",
			Query: insightsQuery{
				"fields @timestamp, @log, correlationId, @message",
				`filter @message like /Task timed out|Runtime\.[A-Za-z]+|Status: (error|timeout)|: (config|build|sentry): |no HTTP function|invocation is about to time out/`,
				"sort @timestamp desc",
				"limit 100",
			},
		},
		{
			Slug: "slowest-requests",
			Query: insightsQuery{
				"fields @timestamp, function, durationMs, status, method, path, correlationId, coldStart",
				`filter msg = "request completed"`,
				"sort durationMs desc",
				"limit 50",
			},
		},
		{
			Slug:    "correlation-id",
			Sources: functionAndAccessLogs,
			Query: insightsQuery{
				"fields @timestamp, @log, function, level, msg, status, durationMs, error, routeKey, integrationError",
				`filter correlationId = "` + correlationPlaceholder + `"`,
				"sort @timestamp asc",
				"limit 1000",
			},
		},
		{
			Slug: "cold-starts-by-function",
			Query: insightsQuery{
				// Logs Insights reads the JSON boolean coldStart as 1 or 0.
				`filter msg = "request completed" and coldStart = 1`,
				"stats count(*) as coldStarts, avg(durationMs) as avgMs, max(durationMs) as maxMs by function",
				"sort coldStarts desc",
			},
		},
		{
			// Every security event with who and where: the line
			// telemetry.Invocation.Event writes ("msg":"event").
			Slug: "security-events",
			Query: insightsQuery{
				"fields @timestamp, event, function, userId, familyId, ip, emailHash, lockedForSeconds, correlationId",
				`filter msg = "event" and event in ` + quotedList(securityEventNames()),
				"sort @timestamp desc",
				"limit 500",
			},
		},
		{
			// Where failed sign-ins come from and how many accounts each
			// address tries: many addresses with a few accounts each is a
			// distributed credential-stuffing run.
			Slug: "login-failures-by-ip",
			Query: insightsQuery{
				`filter msg = "event" and event in ` + quotedList([]string{account.EventLoginFailed, account.EventLockout}),
				"stats count(*) as events, count_distinct(emailHash) as accounts by ip, event",
				"sort events desc",
				"limit 100",
			},
		},
		{
			// The only view of 5xx that no function logged: Lambda throttled,
			// timed out, or could not be invoked.
			Slug:    "api-5xx-by-route",
			Sources: accessLogOnly,
			Query: insightsQuery{
				"fields routeKey, status, integrationStatus, integrationError",
				"filter status like /^5/",
				"stats count(*) as requests by routeKey, status, integrationStatus, integrationError",
				"sort requests desc",
			},
		},
		{
			// Every message a worker failed, newest first, with what the
			// queue runbooks need: which message, how many deliveries so
			// far (the last before the dead-letter queue is its
			// maxReceiveCount), and why. Lines of internal/lambdasqs.
			Slug: "worker-message-failures",
			Query: insightsQuery{
				"fields @timestamp, function, messageId, receiveCount, correlationId, errorKind, error",
				// A panic is logged as "message failed" too (error "panic: …").
				`filter msg = "message failed"`,
				"sort @timestamp desc",
				"limit 200",
			},
		},
	}
}

// quotedList renders strings as a Logs Insights list: ["a", "b"].
func quotedList(items []string) string {
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = strconv.Quote(it)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// chunks splits items into runs of at most maxQueryLogGroups, in order, so
// that the first chunk (and the resource built from it) keeps its name when
// the registry grows past the limit.
func chunks[T any](items []T) [][]T {
	return slices.Collect(slices.Chunk(items, maxQueryLogGroups))
}
