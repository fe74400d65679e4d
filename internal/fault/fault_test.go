package fault_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
)

func TestKindString(t *testing.T) {
	tests := []struct {
		kind fault.Kind
		want string
	}{
		{fault.Internal, "internal"},
		{fault.Invalid, "invalid"},
		{fault.NotFound, "not_found"},
		{fault.MethodNotAllowed, "method_not_allowed"},
		{fault.Conflict, "conflict"},
		{fault.PreconditionFailed, "precondition_failed"},
		{fault.Unauthenticated, "unauthenticated"},
		{fault.Forbidden, "forbidden"},
		{fault.TooLarge, "too_large"},
		{fault.RateLimited, "rate_limited"},
		{fault.Unavailable, "unavailable"},
		{fault.Kind(200), "internal"}, // unknown kinds must never look like client mistakes
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got := tt.kind.String()
		assert.Equalf(t, tt.want, got, "Kind(%d).String() = %q, want %q", tt.kind, got, tt.want)
		if tt.kind <= fault.Unavailable {
			assert.Falsef(t, seen[got], "Kind(%d).String() = %q is not unique", tt.kind, got)
			seen[got] = true
		}
	}
}

func TestInternalIsZero(t *testing.T) {
	var k fault.Kind
	assert.Equal(t, fault.Internal, k, "the zero Kind must be Internal")
	assert.Equal(t, fault.Internal, (&fault.Error{}).Kind)
}

func TestErrorMessages(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	tests := []struct {
		name    string
		err     *fault.Error
		want    string
		kind    fault.Kind
		message string
		cause   error
	}{
		{
			name:    "E",
			err:     fault.E("listing.Get", fault.NotFound, "no such listing"),
			want:    "listing.Get: not_found: no such listing",
			kind:    fault.NotFound,
			message: "no such listing",
		},
		{
			name:    "Wrap keeps the cause in the text",
			err:     fault.Wrap("dynamo.Get", cause),
			want:    "dynamo.Get: internal: internal error: dial tcp: connection refused",
			kind:    fault.Internal,
			message: "internal error",
			cause:   cause,
		},
		{
			name:    "Validation with one field names it",
			err:     fault.Validation("listing.Create", fault.FieldError{Field: "title", Message: "is required"}),
			want:    "listing.Create: invalid: title: is required",
			kind:    fault.Invalid,
			message: "title: is required",
		},
		{
			name: "Validation with several fields is generic",
			err: fault.Validation("listing.Create",
				fault.FieldError{Field: "title", Message: "is required"},
				fault.FieldError{Field: "price", Message: "must be positive"}),
			want:    "listing.Create: invalid: the request is invalid",
			kind:    fault.Invalid,
			message: "the request is invalid",
		},
		{
			name:    "Validation without fields is generic",
			err:     fault.Validation("op"),
			want:    "op: invalid: the request is invalid",
			kind:    fault.Invalid,
			message: "the request is invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equalf(t, tt.want, tt.err.Error(), "Error() = %q, want %q", tt.err.Error(), tt.want)
			assert.Equal(t, tt.kind, tt.err.Kind)
			assert.Equal(t, tt.message, tt.err.Message)
			assert.Equal(t, tt.cause, tt.err.Unwrap())
			if tt.cause != nil {
				assert.ErrorIs(t, tt.err, tt.cause)
			}
		})
	}
}

func TestValidationKeepsFields(t *testing.T) {
	fields := []fault.FieldError{
		{Field: "query.limit", Message: "too big"},
		fault.Fieldf("query.category", "must be one of %s, %s", "a", "b"),
	}
	err := fault.Validation("op", fields...)
	require.Len(t, err.Fields, 2)
	assert.Equal(t, fields, err.Fields)
	assert.Equal(t, fault.FieldError{Field: "query.category", Message: "must be one of a, b"}, err.Fields[1])
}

func TestKindOfAndAs(t *testing.T) {
	notFound := fault.E("find", fault.NotFound, "gone")
	limited := &fault.Error{Op: "limit", Kind: fault.RateLimited, Message: "slow down", RetryAfter: 3 * time.Second}
	tests := []struct {
		name   string
		err    error
		kind   fault.Kind
		wantOp string // Op of the *Error As finds; "" when it finds none
	}{
		{"nil", nil, fault.Internal, ""},
		{"plain error", errors.New("boom"), fault.Internal, ""},
		{"direct", notFound, fault.NotFound, "find"},
		{"wrapped once", fmt.Errorf("handler: %w", notFound), fault.NotFound, "find"},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", limited)), fault.RateLimited, "limit"},
		{"joined", errors.Join(errors.New("x"), limited), fault.RateLimited, "limit"},
		{"outermost wins", fault.Wrap("outer", notFound), fault.Internal, "outer"},
		{"formatted with %v loses it", fmt.Errorf("handler: %v", notFound), fault.Internal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fault.KindOf(tt.err)
			assert.Equalf(t, tt.kind, got, "KindOf(%v) = %s, want %s", tt.err, got, tt.kind)
			fe, ok := fault.As(tt.err)
			if tt.wantOp == "" {
				assert.False(t, ok, "As found %v", fe)
				return
			}
			require.True(t, ok, "As found nothing")
			assert.Equal(t, tt.wantOp, fe.Op)
			assert.Equal(t, tt.kind, fe.Kind)
		})
	}
}

func TestWrapUnwrapsToCauseKind(t *testing.T) {
	inner := fault.E("store", fault.Conflict, "version mismatch")
	outer := fault.Wrap("service", inner)
	var fe *fault.Error
	require.ErrorAs(t, outer.Unwrap(), &fe)
	assert.Equal(t, fault.Conflict, fe.Kind, "the cause keeps its own kind")
	assert.Nil(t, fault.E("op", fault.Invalid, "m").Unwrap())
}
