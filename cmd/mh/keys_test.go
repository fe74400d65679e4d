package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/secrets/secretstest"
	"github.com/mountainhighway/marketplace/internal/token"
)

// keysEnv is a table on DynamoDB Local and a Secrets Manager server with an
// empty secret, as the infra program leaves them before the first rotation.
type keysEnv struct {
	table, secret string
	dynamoURL     string
	srv           *secretstest.Server
	keys          *dynamo.Keys
}

func newKeysEnv(t *testing.T) *keysEnv {
	t.Helper()
	db, name := dynamotest.NewTable(t)
	e := &keysEnv{table: name, secret: "mh/test/signing-keys", dynamoURL: dynamotest.Endpoint(t), srv: secretstest.NewServer(t)}
	e.srv.Create(e.secret)
	e.keys = dynamo.NewKeys(db, name)
	return e
}

func (e *keysEnv) rotate(t *testing.T) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runKeys(t.Context(), []string{"rotate", "-secret", e.secret, "-table", e.table,
		"-endpoint-dynamodb", e.dynamoURL, "-endpoint-secrets", e.srv.URL}, &out, &errOut)
	return out.String(), err
}

// stored returns the key set in the secret.
func (e *keysEnv) stored(t *testing.T) token.KeySet {
	t.Helper()
	b, ok := e.srv.Value(e.secret)
	require.True(t, ok, "the secret has a value")
	ks, err := token.ParseKeySet(b)
	require.NoError(t, err)
	return ks
}

// assertNoKeyMaterial fails if out contains any part of a private key.
func assertNoKeyMaterial(t *testing.T, out string, sets ...token.KeySet) {
	t.Helper()
	for _, ks := range sets {
		b, err := ks.Marshal()
		require.NoError(t, err)
		assert.NotContains(t, out, "privateKey")
		for _, k := range ks.Keys {
			d, err := k.Private.Bytes()
			require.NoError(t, err)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
				assert.NotContains(t, out, enc.EncodeToString(d)[:16])
			}
		}
		assert.NotContains(t, out, string(b))
	}
}

const (
	keysIssuer   = "https://api.example.test"
	keysAudience = "marketplace"
)

func issueWith(t *testing.T, ks token.KeySet) string {
	t.Helper()
	iss, err := token.NewIssuer(ks, keysIssuer, keysAudience, 15*time.Minute, nil)
	require.NoError(t, err)
	tok, _, err := iss.Issue("usr_1", []auth.Role{auth.Buyer})
	require.NoError(t, err)
	return tok
}

// verifiesFromTable verifies tok as a function would: a fresh verifier
// reading the table.
func (e *keysEnv) verifiesFromTable(t *testing.T, tok string) error {
	t.Helper()
	_, err := token.NewVerifier(e.keys, keysIssuer, keysAudience, nil).Verify(context.Background(), tok)
	return err
}

func TestKeysRotateEndToEnd(t *testing.T) {
	e := newKeysEnv(t)

	// First rotation: the empty secret gets its first key.
	var all strings.Builder
	out, err := e.rotate(t)
	require.NoError(t, err)
	all.WriteString(out)
	ks1 := e.stored(t)
	require.Len(t, ks1.Keys, 1)
	kid1 := ks1.Keys[0].ID
	assert.Equal(t, "new signing key: "+kid1+"\npublished to table "+e.table+", stored in secret "+e.secret+"\n", out)
	jwks, err := e.keys.JWKS(t.Context())
	require.NoError(t, err)
	want, err := ks1.JWKS()
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(jwks), "the table holds the public half of the secret")
	tok1 := issueWith(t, ks1)
	require.NoError(t, e.verifiesFromTable(t, tok1))

	// Second: a new key signs, the first still verifies.
	out, err = e.rotate(t)
	require.NoError(t, err)
	all.WriteString(out)
	ks2 := e.stored(t)
	require.Len(t, ks2.Keys, 2)
	kid2 := ks2.Keys[0].ID
	assert.Equal(t, kid1, ks2.Keys[1].ID)
	assert.Contains(t, out, "new signing key: "+kid2+"\n")
	assert.Contains(t, out, "kept for verification: "+kid1+"\n")
	assert.NotContains(t, out, "dropped")
	tok2 := issueWith(t, ks2)
	assert.NoError(t, e.verifiesFromTable(t, tok1), "the previous key keeps verifying")
	assert.NoError(t, e.verifiesFromTable(t, tok2))

	// Third: the first key is dropped everywhere.
	out, err = e.rotate(t)
	require.NoError(t, err)
	all.WriteString(out)
	ks3 := e.stored(t)
	require.Len(t, ks3.Keys, 2)
	assert.Equal(t, kid2, ks3.Keys[1].ID)
	assert.Contains(t, out, "kept for verification: "+kid2+"\n")
	assert.Contains(t, out, "dropped: "+kid1+"\n")
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(e.verifiesFromTable(t, tok1)))
	assert.NoError(t, e.verifiesFromTable(t, tok2))
	assert.NoError(t, e.verifiesFromTable(t, issueWith(t, ks3)))

	assertNoKeyMaterial(t, all.String(), ks1, ks2, ks3)
}

func TestKeysRotatePublishesBeforeStoringTheSecret(t *testing.T) {
	e := newKeysEnv(t)
	_, err := e.rotate(t)
	require.NoError(t, err)
	ks1 := e.stored(t)

	// The secret write fails after the table was updated: the secret is
	// unchanged and its key still verifies, so nothing in flight breaks.
	e.srv.FailWith("PutSecretValue", "InvalidRequestException")
	_, err = e.rotate(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rotate again")
	assert.Equal(t, ks1.Keys[0].ID, e.stored(t).Keys[0].ID, "the secret is unchanged")
	pubs, err := e.keys.PublicKeys(t.Context())
	require.NoError(t, err)
	assert.Len(t, pubs, 2, "the new public key was published first")
	assert.Contains(t, pubs, ks1.Keys[0].ID)
	assert.NoError(t, e.verifiesFromTable(t, issueWith(t, ks1)))

	// The next rotation starts from the unchanged secret.
	e.srv.FailWith("", "")
	_, err = e.rotate(t)
	require.NoError(t, err)
	ks2 := e.stored(t)
	require.Len(t, ks2.Keys, 2)
	assert.Equal(t, ks1.Keys[0].ID, ks2.Keys[1].ID)
	pubs, err = e.keys.PublicKeys(t.Context())
	require.NoError(t, err)
	assert.Len(t, pubs, 2)
	assert.Contains(t, pubs, ks2.Keys[0].ID)
}

func TestKeysRotateNeverOverwritesAnUnreadableSecret(t *testing.T) {
	e := newKeysEnv(t)
	require.NoError(t, secrets.New(e.srv.Client(t)).Put(t.Context(), e.secret, []byte(`{"keys":"not a key set"}`)))
	_, err := e.rotate(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not hold a key set")
	v, _ := e.srv.Value(e.secret)
	assert.Equal(t, `{"keys":"not a key set"}`, string(v))
	_, err = e.keys.JWKS(t.Context())
	assert.Equal(t, fault.NotFound, fault.KindOf(err), "nothing was published")

	// A secret that cannot be read at all stops the rotation too.
	e.srv.FailWith("GetSecretValue", "InvalidRequestException")
	_, err = e.rotate(t)
	assert.ErrorContains(t, err, "read secret")
}

func TestKeysRotateNeedsASecretAndATable(t *testing.T) {
	for _, args := range [][]string{
		{"rotate"},
		{"rotate", "-secret", "s"},
		{"rotate", "-table", "t"},
		{"rotate", "-secret", "s", "-table", "t", "extra"},
		{"rotate", "-no-such-flag"},
	} {
		var out, errOut bytes.Buffer
		err := runKeys(context.Background(), args, &out, &errOut)
		assert.Error(t, err, "%q", args)
		assert.Empty(t, out.String(), "%q", args)
	}
	var out, errOut bytes.Buffer
	require.NoError(t, runKeys(context.Background(), []string{"rotate", "-h"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-endpoint-secrets")
}

func TestKeysGenerate(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, runKeys(context.Background(), []string{"generate"}, &out, &errOut))
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.String()))
	require.NoError(t, err)
	ks, err := token.ParseKeySet(b)
	require.NoError(t, err)
	require.Len(t, ks.Keys, 1)
	assert.NotNil(t, ks.Keys[0].Private, "a set that can sign")

	out.Reset()
	require.NoError(t, runKeys(context.Background(), []string{"generate"}, &out, &errOut))
	b2, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out.String()))
	require.NoError(t, err)
	assert.NotEqual(t, b, b2, "a fresh key each time")

	assert.Error(t, runKeys(context.Background(), []string{"generate", "extra"}, &out, &errOut))
	assert.NoError(t, runKeys(context.Background(), []string{"generate", "-h"}, &out, &errOut))
}

func TestKeysSubcommands(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr bool
	}{
		{nil, true},
		{[]string{"spin"}, true},
		{[]string{"help"}, false},
	} {
		var out, errOut bytes.Buffer
		err := runKeys(context.Background(), tt.args, &out, &errOut)
		assert.Equal(t, tt.wantErr, err != nil, "runKeys(%q) = %v", tt.args, err)
		assert.Contains(t, errOut.String(), "usage: mh keys", "%q", tt.args)
	}
}
