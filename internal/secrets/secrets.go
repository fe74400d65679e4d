// Package secrets reads and writes secrets in AWS Secrets Manager.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// API is the part of the Secrets Manager client the Manager calls.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Manager reads and writes the current version of secrets. The secrets
// themselves, and who may read them, come from the Pulumi program.
type Manager struct {
	api API
}

// New returns a Manager calling client.
func New(client API) *Manager { return &Manager{api: client} }

// NewClient returns a Secrets Manager client for region. A non-empty
// endpoint points it at a local server with static credentials, so nothing
// ever looks for real AWS credentials locally.
func NewClient(ctx context.Context, region, endpoint string) (*secretsmanager.Client, error) {
	loads := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if endpoint != "" {
		loads = append(loads, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("secrets: aws config: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Get returns the current value of secret id (a name or an ARN), whether it
// was stored as a string or as binary. It returns a fault.NotFound error
// when the secret does not exist or has no value yet — as a secret created
// by the infra program has until its first Put.
func (m *Manager) Get(ctx context.Context, id string) ([]byte, error) {
	const op = "secrets.Get"
	out, err := m.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, classify(op, id, err)
	}
	switch {
	case out.SecretString != nil:
		return []byte(*out.SecretString), nil
	case out.SecretBinary != nil:
		return out.SecretBinary, nil
	default:
		return nil, fault.Wrap(op, fmt.Errorf("secret %s has neither a string nor a binary value", id))
	}
}

// Put stores value as the new current version of secret id, which must
// exist. Text is stored as SecretString, so that it can be read in the
// console; anything else as SecretBinary.
func (m *Manager) Put(ctx context.Context, id string, value []byte) error {
	const op = "secrets.Put"
	if len(value) == 0 {
		return fault.E(op, fault.Invalid, "a secret value cannot be empty")
	}
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(id)}
	if utf8.Valid(value) {
		in.SecretString = aws.String(string(value))
	} else {
		in.SecretBinary = value
	}
	// ClientRequestToken is left to the SDK: it sets a fresh UUID per call
	// and keeps it across retries, which makes a retried Put idempotent.
	if _, err := m.api.PutSecretValue(ctx, in); err != nil {
		return classify(op, id, err)
	}
	return nil
}

// classify maps a missing secret to fault.NotFound and anything else to
// fault.Internal, keeping the SDK error as the cause for logs.
func classify(op, id string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return &fault.Error{Op: op, Kind: fault.NotFound, Message: "no value for secret " + id, Err: err}
	}
	return fault.Wrap(op, err)
}
