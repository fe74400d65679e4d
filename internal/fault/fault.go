// Package fault is the one error vocabulary of the domain: an error carries
// the operation that failed, a Kind that says what went wrong from the
// caller's point of view, a message that is safe to show to the caller, and
// optionally field-level details for validation failures. Transport layers
// map the Kind to a status once (see package problem).
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind uint8

// The kinds of error. Internal is the zero value so that an unclassified
// error is never mistaken for a client mistake.
const (
	Internal             Kind = iota // a bug or an unavailable dependency
	Invalid                          // the request is malformed or fails validation
	NotFound                         // the object does not exist or is not visible to the caller
	MethodNotAllowed                 // the route exists but not for this method
	Conflict                         // the request conflicts with the current state
	PreconditionFailed               // an If-Match version is stale
	PreconditionRequired             // a conditional header (If-Match) is missing
	Unauthenticated                  // no valid credentials
	Forbidden                        // authenticated but not allowed
	TooLarge                         // the request body is larger than allowed
	RateLimited                      // too many requests; retry later
	Unavailable                      // a dependency is temporarily unavailable; retry
)

// String returns the kind's name, as used in logs and metrics.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not_found"
	case MethodNotAllowed:
		return "method_not_allowed"
	case Conflict:
		return "conflict"
	case PreconditionFailed:
		return "precondition_failed"
	case PreconditionRequired:
		return "precondition_required"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	case TooLarge:
		return "too_large"
	case RateLimited:
		return "rate_limited"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// FieldError describes one invalid input field. Field is a JSON-pointer-like
// path ("price.amount", "query.limit") and Message says what is expected.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a classified error. Message is shown to the caller; Err, the
// underlying cause, is only logged.
type Error struct {
	Op      string
	Kind    Kind
	Message string
	Fields  []FieldError
	// RetryAfter tells a rate-limited caller when to come back.
	RetryAfter time.Duration
	Err        error
}

// E builds an Error for operation op.
func E(op string, kind Kind, message string) *Error {
	return &Error{Op: op, Kind: kind, Message: message}
}

// Wrap classifies err as Internal for operation op, keeping err as the cause.
func Wrap(op string, err error) *Error {
	return &Error{Op: op, Kind: Internal, Message: "internal error", Err: err}
}

// Validation builds an Invalid error listing the offending fields.
func Validation(op string, fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Op: op, Kind: Invalid, Message: msg, Fields: fields}
}

// Error implements error. It includes the cause and is for logs only.
func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String() + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// Fieldf is a convenience for building a FieldError with a formatted message.
func Fieldf(field, format string, args ...any) FieldError {
	return FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}
