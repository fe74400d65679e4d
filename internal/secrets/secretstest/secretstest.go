// Package secretstest serves the two Secrets Manager operations package
// secrets calls — GetSecretValue and PutSecretValue — over the awsJson1.1
// protocol, for tests that drive the real SDK client: no Secrets Manager
// emulator runs on the machines here. The server checks every request the
// way the service would (operation, content type, signature header, members)
// and fails the test on anything the service would reject, so a test using
// it fails when the client sends the wrong thing.
package secretstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/mountainhighway/marketplace/internal/secrets"
)

// Region is the region of the ARNs the server makes and of Client.
const Region = "eu-west-1"

const targetPrefix = "secretsmanager."

// Request is one operation the server received, for assertions.
type Request struct {
	Operation string // GetSecretValue or PutSecretValue
	SecretID  string
	// Value is the value a PutSecretValue stored, nil otherwise.
	Value []byte
	// Binary reports whether Value came as SecretBinary.
	Binary bool
}

// Server is an in-memory Secrets Manager holding secrets by name.
type Server struct {
	// URL is the endpoint to give the SDK as BaseEndpoint.
	URL string

	tb       testing.TB
	mu       sync.Mutex
	secrets  map[string]*secret
	requests []Request
	failOp   string // the operation to fail, or "" for every one
	failWith string
}

type secret struct {
	name     string
	arn      string
	value    []byte
	binary   bool
	version  string
	versions map[string]bool // client request tokens seen, the service's version ids
}

// NewServer starts a server that reports protocol violations to tb and
// stops when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, secrets: map[string]*secret{}}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Client returns an SDK client pointed at the server.
func (s *Server) Client(tb testing.TB) *secretsmanager.Client {
	tb.Helper()
	c, err := secrets.NewClient(tb.Context(), Region, s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Create adds a secret with no value, as the infra program's
// aws.secretsmanager.Secret does: reading it fails with
// ResourceNotFoundException until a value is put.
func (s *Server) Create(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = &secret{
		name:     name,
		arn:      fmt.Sprintf("arn:aws:secretsmanager:%s:000000000000:secret:%s-AbCdEf", Region, name),
		versions: map[string]bool{},
	}
}

// Value returns the current value of secret name, if it has one.
func (s *Server) Value(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[name]
	if !ok || sec.value == nil {
		return nil, false
	}
	return bytes.Clone(sec.value), true
}

// Requests returns the operations received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// FailWith makes every following call of operation (GetSecretValue,
// PutSecretValue, or "" for both) fail with the given error type — a 400
// the SDK does not retry, such as "InvalidRequestException". An empty type
// restores normal service.
func (s *Server) FailWith(operation, errorType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failOp, s.failWith = operation, errorType
}

// getInput and putInput list every member the service accepts; an unknown
// one fails decoding, as it would fail validation in the service.
type getInput struct {
	SecretID     *string `json:"SecretId"`
	VersionID    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

type putInput struct {
	SecretID           *string  `json:"SecretId"`
	ClientRequestToken *string  `json:"ClientRequestToken"`
	SecretString       *string  `json:"SecretString"`
	SecretBinary       []byte   `json:"SecretBinary"` // base64 in JSON, as the SDK writes blobs
	VersionStages      []string `json:"VersionStages"`
	RotationToken      *string  `json:"RotationToken"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		s.reject(w, "UnknownOperationException", "%s %s is not a Secrets Manager call", r.Method, r.URL.Path)
		return
	case !ok || (op != "GetSecretValue" && op != "PutSecretValue"):
		s.reject(w, "UnknownOperationException", "X-Amz-Target %q is not served", target)
		return
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		s.reject(w, "SerializationException", "Content-Type %q is not application/x-amz-json-1.1", r.Header.Get("Content-Type"))
		return
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") ||
		!strings.Contains(r.Header.Get("Authorization"), "/"+Region+"/secretsmanager/aws4_request"):
		s.reject(w, "MissingAuthenticationTokenException", "request is not SigV4-signed for secretsmanager in %s", Region)
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != "" && (s.failOp == "" || s.failOp == op) {
		writeError(w, s.failWith, "injected failure")
		return
	}
	if op == "GetSecretValue" {
		var in getInput
		if err := dec.Decode(&in); err != nil {
			s.reject(w, "SerializationException", "GetSecretValue body: %v", err)
			return
		}
		s.get(w, in)
		return
	}
	var in putInput
	if err := dec.Decode(&in); err != nil {
		s.reject(w, "SerializationException", "PutSecretValue body: %v", err)
		return
	}
	s.put(w, in)
}

// lookup finds a secret by name or ARN, as the service accepts either.
func (s *Server) lookup(id string) *secret {
	if sec, ok := s.secrets[id]; ok {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

func (s *Server) get(w http.ResponseWriter, in getInput) {
	if in.SecretID == nil || *in.SecretID == "" {
		s.reject(w, "InvalidParameterException", "GetSecretValue: SecretId is required")
		return
	}
	s.requests = append(s.requests, Request{Operation: "GetSecretValue", SecretID: *in.SecretID})
	sec := s.lookup(*in.SecretID)
	switch {
	case sec == nil:
		writeError(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	case sec.value == nil:
		writeError(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
		return
	}
	out := map[string]any{
		"ARN": sec.arn, "Name": sec.name, "VersionId": sec.version,
		"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(time.Now().Unix()),
	}
	if sec.binary {
		out["SecretBinary"] = sec.value // encoding/json writes base64, the protocol's blob form
	} else {
		out["SecretString"] = string(sec.value)
	}
	writeJSON(w, out)
}

func (s *Server) put(w http.ResponseWriter, in putInput) {
	switch {
	case in.SecretID == nil || *in.SecretID == "":
		s.reject(w, "InvalidParameterException", "PutSecretValue: SecretId is required")
		return
	case in.ClientRequestToken == nil || len(*in.ClientRequestToken) < 32 || len(*in.ClientRequestToken) > 64:
		s.reject(w, "InvalidParameterException", "PutSecretValue: ClientRequestToken must be 32 to 64 characters")
		return
	case (in.SecretString == nil) == (in.SecretBinary == nil):
		s.reject(w, "InvalidParameterException", "PutSecretValue: exactly one of SecretString and SecretBinary is required")
		return
	}
	value, binary := in.SecretBinary, true
	if in.SecretString != nil {
		value, binary = []byte(*in.SecretString), false
	}
	if len(value) == 0 || len(value) > 65536 {
		s.reject(w, "InvalidParameterException", "PutSecretValue: the value must be 1 to 65536 bytes")
		return
	}
	s.requests = append(s.requests, Request{Operation: "PutSecretValue", SecretID: *in.SecretID, Value: bytes.Clone(value), Binary: binary})
	sec := s.lookup(*in.SecretID)
	if sec == nil {
		writeError(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	token := *in.ClientRequestToken
	if !sec.versions[token] { // a retried token is the same version
		sec.versions[token] = true
		sec.value, sec.binary, sec.version = bytes.Clone(value), binary, token
	}
	writeJSON(w, map[string]any{
		"ARN": sec.arn, "Name": sec.name, "VersionId": token, "VersionStages": []string{"AWSCURRENT"},
	})
}

// reject reports a request the service would refuse: the test fails, and
// the client gets the service's error so it fails too.
func (s *Server) reject(w http.ResponseWriter, errorType, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.tb.Errorf("secretstest: %s", msg)
	writeError(w, errorType, msg)
}

// writeError writes an awsJson1.1 error: status 400, the type in
// X-Amzn-ErrorType and in the body's __type, as Secrets Manager does.
func writeError(w http.ResponseWriter, errorType, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.WriteHeader(http.StatusBadRequest)
	// A write error means the client has gone; there is no one to tell.
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": errorType, "Message": message})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v) // see writeError
}
