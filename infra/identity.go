package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// identity is the component that owns the secret holding the private keys
// that sign access tokens. The public half is served by the jwks function and
// checked by the API's JWT authorizer (api.go).
type identity struct {
	pulumi.ResourceState

	SigningKeys *secretsmanager.Secret
}

// newIdentity creates the signing-key secret, empty. Its value is written by
// `mh keys rotate`, never by this program, so no private key ever enters the
// Pulumi state or a preview; until the first rotation the signing functions
// fail to start and every other function keeps working.
func newIdentity(ctx *pulumi.Context, cfg stackConfig) (*identity, error) {
	id := &identity{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Identity", "identity", id); err != nil {
		return nil, err
	}
	opts := []pulumi.ResourceOption{pulumi.Parent(id)}
	if cfg.isProd() {
		// Deleting it would stop every sign-in until a rotation writes a new
		// key, and log everyone out once their access tokens expire.
		opts = append(opts, pulumi.Protect(true))
	}
	// No KmsKeyId: the AWS-managed aws/secretsmanager key lets a role that
	// may call GetSecretValue decrypt through Secrets Manager, so the
	// signing roles need no KMS statement.
	secret, err := secretsmanager.NewSecret(ctx, "signing-keys", &secretsmanager.SecretArgs{
		Name: pulumi.String(cfg.name("signing-keys")),
		Description: pulumi.String("ES256 private key set that signs Mountain Highway " + cfg.Stage +
			" access tokens (current and previous key). Written by `mh keys rotate`, never by Pulumi; " +
			"read only by the functions that sign tokens."),
	}, opts...)
	if err != nil {
		return nil, err
	}
	id.SigningKeys = secret

	if err := ctx.RegisterResourceOutputs(id, pulumi.Map{"signingKeysArn": secret.Arn}); err != nil {
		return nil, err
	}
	return id, nil
}
