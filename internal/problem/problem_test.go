package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/problem"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		kind fault.Kind
		want int
	}{
		{fault.Internal, http.StatusInternalServerError},
		{fault.Invalid, http.StatusBadRequest},
		{fault.NotFound, http.StatusNotFound},
		{fault.MethodNotAllowed, http.StatusMethodNotAllowed},
		{fault.Conflict, http.StatusConflict},
		{fault.PreconditionFailed, http.StatusPreconditionFailed},
		{fault.Unauthenticated, http.StatusUnauthorized},
		{fault.Forbidden, http.StatusForbidden},
		{fault.TooLarge, http.StatusRequestEntityTooLarge},
		{fault.RateLimited, http.StatusTooManyRequests},
		{fault.Unavailable, http.StatusServiceUnavailable},
		{fault.Kind(99), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		got := problem.Status(tt.kind)
		assert.Equalf(t, tt.want, got, "Status(%s) = %d, want %d", tt.kind, got, tt.want)
	}
}

const generic = "Something went wrong on our side. Quote the instance id if you contact support."

func TestFrom(t *testing.T) {
	secret := errors.New("dynamodb: table mh-prod-main: AccessDeniedException for arn:aws:iam::123")
	fields := []fault.FieldError{{Field: "query.limit", Message: "must be a whole number between 1 and 100"}}
	tests := []struct {
		name string
		err  error
		want problem.Details
	}{
		{
			name: "plain error is internal and generic",
			err:  secret,
			want: problem.Details{Type: "urn:mountainhighway:problem:internal", Title: "Internal Server Error", Status: 500, Detail: generic, Instance: "cid"},
		},
		{
			name: "wrapped internal hides its message and cause",
			err:  fault.Wrap("dynamo.Get", secret),
			want: problem.Details{Type: "urn:mountainhighway:problem:internal", Title: "Internal Server Error", Status: 500, Detail: generic, Instance: "cid"},
		},
		{
			name: "explicit internal kind with fields hides them",
			err:  &fault.Error{Op: "op", Kind: fault.Internal, Message: "secret detail", Fields: fields},
			want: problem.Details{Type: "urn:mountainhighway:problem:internal", Title: "Internal Server Error", Status: 500, Detail: generic, Instance: "cid"},
		},
		{
			name: "invalid keeps message and fields",
			err:  fault.Validation("listing.ParseQuery", fields...),
			want: problem.Details{Type: "urn:mountainhighway:problem:invalid", Title: "Bad Request", Status: 400, Detail: "query.limit: must be a whole number between 1 and 100", Instance: "cid", Errors: fields},
		},
		{
			name: "not found through a %w chain",
			err:  fmt.Errorf("handler: %w", fault.E("listing.Get", fault.NotFound, "no listing lst_1")),
			want: problem.Details{Type: "urn:mountainhighway:problem:not_found", Title: "Not Found", Status: 404, Detail: "no listing lst_1", Instance: "cid"},
		},
		{
			name: "unavailable shows its safe message",
			err:  fault.E("op", fault.Unavailable, "try again shortly"),
			want: problem.Details{Type: "urn:mountainhighway:problem:unavailable", Title: "Service Unavailable", Status: 503, Detail: "try again shortly", Instance: "cid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problem.From(tt.err, "cid")
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got.Detail, "AccessDenied")
		})
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"validation", fault.Validation("op", fault.FieldError{Field: "query.sort", Message: "must be newest"}), 400, ""},
		{"internal", fault.Wrap("op", errors.New("password=hunter2")), 500, ""},
		{"rate limited", &fault.Error{Op: "op", Kind: fault.RateLimited, Message: "slow down", RetryAfter: 30 * time.Second}, 429, "30"},
		{"retry after rounds up to seconds", &fault.Error{Op: "op", Kind: fault.RateLimited, Message: "slow down", RetryAfter: 2500 * time.Millisecond}, 429, "3"},
		{"retry after never rounds down to zero", &fault.Error{Op: "op", Kind: fault.RateLimited, Message: "slow down", RetryAfter: 400 * time.Millisecond}, 429, "1"},
		{"retry after through a chain", fmt.Errorf("x: %w", &fault.Error{Kind: fault.Unavailable, RetryAfter: time.Minute}), 503, "60"},
		{"no retry after", fault.E("op", fault.RateLimited, "slow down"), 429, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, tt.err, "corr-1")

			res := rec.Result()
			assert.Equal(t, tt.status, res.StatusCode)
			assert.Equal(t, problem.ContentType, res.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
			assert.Equal(t, tt.retryAfter, res.Header.Get("Retry-After"))

			body := rec.Body.String()
			assert.NotContains(t, body, "hunter2")
			var got problem.Details
			require.NoError(t, json.Unmarshal([]byte(body), &got), "body %s", body)
			assert.Equal(t, problem.From(tt.err, "corr-1"), got)
			assert.Equal(t, "corr-1", got.Instance)

			// Optional members are omitted, not sent empty.
			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &raw))
			_, hasErrors := raw["errors"]
			assert.Equal(t, len(got.Errors) > 0, hasErrors, "errors member present in %s", body)
			assert.True(t, strings.HasSuffix(body, "\n"))
		})
	}
}
