package secrets_test

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/secrets/secretstest"
)

func newManager(t *testing.T) (*secrets.Manager, *secretstest.Server) {
	t.Helper()
	srv := secretstest.NewServer(t)
	return secrets.New(srv.Client(t)), srv
}

func TestPutThenGet(t *testing.T) {
	tests := []struct {
		name   string
		value  []byte
		binary bool
	}{
		{"text is a SecretString", []byte(`{"keys":[]}`), false},
		{"other bytes are a SecretBinary", []byte{0xff, 0x00, 0xfe, 'k'}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, srv := newManager(t)
			srv.Create("mh/signing-keys")
			ctx := t.Context()
			require.NoError(t, m.Put(ctx, "mh/signing-keys", tt.value))

			got, err := m.Get(ctx, "mh/signing-keys")
			require.NoError(t, err)
			assert.Equal(t, tt.value, got)
			stored, ok := srv.Value("mh/signing-keys")
			require.True(t, ok)
			assert.Equal(t, tt.value, stored)

			reqs := srv.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, secretstest.Request{Operation: "PutSecretValue", SecretID: "mh/signing-keys", Value: tt.value, Binary: tt.binary}, reqs[0])
			assert.Equal(t, secretstest.Request{Operation: "GetSecretValue", SecretID: "mh/signing-keys"}, reqs[1])
		})
	}
}

func TestPutReplacesTheCurrentValue(t *testing.T) {
	m, srv := newManager(t)
	srv.Create("s")
	ctx := t.Context()
	require.NoError(t, m.Put(ctx, "s", []byte("one")))
	require.NoError(t, m.Put(ctx, "s", []byte("two")))
	got, err := m.Get(ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, "two", string(got), "each Put is a new version, not a retry of the last")
}

func TestGetByARN(t *testing.T) {
	m, srv := newManager(t)
	srv.Create("s")
	require.NoError(t, m.Put(t.Context(), "s", []byte("v")))
	got, err := m.Get(t.Context(), "arn:aws:secretsmanager:eu-west-1:000000000000:secret:s-AbCdEf")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
}

func TestMissingSecretsAreNotFound(t *testing.T) {
	m, srv := newManager(t)
	srv.Create("empty")
	ctx := t.Context()

	_, err := m.Get(ctx, "empty")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "a secret without a value: %v", err)
	_, err = m.Get(ctx, "nope")
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "no such secret: %v", err)
	err = m.Put(ctx, "nope", []byte("v"))
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "Put does not create secrets: %v", err)
	_, ok := srv.Value("nope")
	assert.False(t, ok)
}

func TestPutRejectsAnEmptyValueWithoutACall(t *testing.T) {
	m, srv := newManager(t)
	srv.Create("s")
	err := m.Put(t.Context(), "s", nil)
	assert.Equal(t, fault.Invalid, fault.KindOf(err))
	assert.Empty(t, srv.Requests())
}

func TestOtherErrorsAreInternalWithTheCause(t *testing.T) {
	m, srv := newManager(t)
	srv.Create("s")
	srv.FailWith("", "InvalidRequestException")
	ctx := t.Context()
	for name, err := range map[string]error{
		"get": func() error { _, err := m.Get(ctx, "s"); return err }(),
		"put": m.Put(ctx, "s", []byte("v")),
	} {
		fe, ok := fault.As(err)
		require.True(t, ok, "%s: %v", name, err)
		assert.Equal(t, fault.Internal, fe.Kind, name)
		assert.Equal(t, "internal error", fe.Message, "%s: no SDK detail for the client", name)
		var api smithy.APIError
		require.True(t, errors.As(err, &api), "%s keeps the cause", name)
		assert.Equal(t, "InvalidRequestException", api.ErrorCode())
	}
}
