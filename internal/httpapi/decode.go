package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// decodeJSON reads one JSON object from the request body into v. It is
// strict, so clients learn about their mistakes instead of having fields
// silently dropped: the media type must be JSON, unknown fields — including
// ones the caller may not set, such as roles or owner — are rejected by
// name, and trailing data is an error. Every failure is a 4xx problem.
func decodeJSON(r *http.Request, v any) error {
	const op = "httpapi.decodeJSON"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			e := fault.E(op, fault.Invalid, "send the body as application/json")
			e.Fields = []fault.FieldError{{Field: "header.Content-Type", Message: "must be application/json"}}
			return e
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(op, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.Validation(op, fault.FieldError{Field: "body", Message: "must hold a single JSON object"})
	}
	return nil
}

func bodyError(op string, err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		message string
		field   = "body"
	)
	switch {
	case errors.As(err, &tooBig):
		return fault.E(op, fault.TooLarge, fmt.Sprintf("the request body must be at most %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		message = "is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		message = "ends in the middle of a JSON value"
	case errors.As(err, &syntax):
		message = fmt.Sprintf("is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field = typ.Field
		if field == "" {
			field = "body"
			message = "must be a JSON object"
		} else {
			message = "must be a " + jsonType(typ.Type.Kind().String())
		}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		message = "is not a field of this request, or is not yours to set"
	default:
		message = "could not be read as JSON"
	}
	return fault.Validation(op, fault.FieldError{Field: field, Message: message})
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}
