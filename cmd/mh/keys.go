package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/secrets"
	"github.com/mountainhighway/marketplace/internal/token"
)

const keysUsage = `usage: mh keys <subcommand> [flags]

subcommands:
  rotate    make a new access-token signing key: publish the public keys to the
            table, then store the key set in Secrets Manager. The previous key
            keeps verifying; the one before it is dropped.
  generate  print a fresh single-key set (base64 of its JSON) for a local stack

Rotate at most once per access-token lifetime, or tokens signed by the
dropped key stop verifying before they expire.
`

// runKeys implements `mh keys rotate|generate`.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: no subcommand given")
	}
	switch args[0] {
	case "rotate":
		return runKeysRotate(ctx, args[1:], stdout, stderr)
	case "generate":
		return runKeysGenerate(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stderr, keysUsage)
		return nil
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("keys: unknown subcommand %q", args[0])
}

func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretID := fs.String("secret", "", "name or ARN of the Secrets Manager secret holding the signing keys (required)")
	tableName := fs.String("table", "", "name of the DynamoDB table the public keys are published to (required)")
	region := fs.String("region", "eu-west-1", "AWS region")
	dynamoURL := fs.String("endpoint-dynamodb", "", "DynamoDB endpoint `URL`, for a local stack")
	secretsURL := fs.String("endpoint-secrets", "", "Secrets Manager endpoint `URL`, for a local stack")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage was asked for and has been printed
		}
		return err
	}
	if *secretID == "" || *tableName == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("keys rotate: -secret and -table are required, and nothing else")
	}
	db, err := dynamo.NewClient(ctx, *region, *dynamoURL)
	if err != nil {
		return err
	}
	sm, err := secrets.NewClient(ctx, *region, *secretsURL)
	if err != nil {
		return err
	}
	r, err := rotateKeys(ctx, secrets.New(sm), dynamo.NewKeys(db, *tableName), *secretID, time.Now())
	if err != nil {
		return err
	}
	// Only kids are printed: they are public, and the output ends up in
	// terminals and CI logs.
	fmt.Fprintf(stdout, "new signing key: %s\n", r.added)
	for _, kid := range r.kept {
		fmt.Fprintf(stdout, "kept for verification: %s\n", kid)
	}
	for _, kid := range r.dropped {
		fmt.Fprintf(stdout, "dropped: %s\n", kid)
	}
	fmt.Fprintf(stdout, "published to table %s, stored in secret %s\n", *tableName, *secretID)
	return nil
}

// rotation is what a rotation changed, by kid.
type rotation struct {
	added   string
	kept    []string
	dropped []string
}

// rotateKeys rotates the key set in secret id and publishes its public keys.
//
// The public keys are published before the secret is written: a function
// that signs may pick up the new secret at any moment, and its tokens must
// already verify when it does. If writing the secret then fails, the table
// lists one key that never signs, which is harmless, and the next rotation
// starts again from the unchanged secret.
func rotateKeys(ctx context.Context, sm *secrets.Manager, keys *dynamo.Keys, id string, now time.Time) (rotation, error) {
	var old token.KeySet
	raw, err := sm.Get(ctx, id)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		// The secret has no value yet: the first rotation makes the first key.
	case err != nil:
		return rotation{}, fmt.Errorf("keys rotate: read secret %s: %w", id, err)
	default:
		// A value that does not parse is never overwritten: it may be the
		// only copy of keys that tokens in flight depend on.
		if old, err = token.ParseKeySet(raw); err != nil {
			return rotation{}, fmt.Errorf("keys rotate: secret %s does not hold a key set; fix it before rotating: %w", id, err)
		}
	}
	next, err := token.Rotate(old, now)
	if err != nil {
		return rotation{}, err
	}
	jwks, err := next.JWKS()
	if err != nil {
		return rotation{}, err
	}
	private, err := next.Marshal()
	if err != nil {
		return rotation{}, err
	}
	if err := keys.Put(ctx, jwks); err != nil {
		return rotation{}, fmt.Errorf("keys rotate: publish the public keys: %w", err)
	}
	if err := sm.Put(ctx, id, private); err != nil {
		return rotation{}, fmt.Errorf("keys rotate: store the key set in secret %s (the published set lists an extra key that never signs; rotate again): %w", id, err)
	}
	r := rotation{added: next.Keys[0].ID}
	kept := map[string]bool{}
	for _, k := range next.Keys[1:] {
		r.kept = append(r.kept, k.ID)
		kept[k.ID] = true
	}
	for _, k := range old.Keys {
		if !kept[k.ID] {
			r.dropped = append(r.dropped, k.ID)
		}
	}
	return r, nil
}

func runKeysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mh keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mh keys generate\n\n"+
			"Prints a fresh single-key signing key set, base64 of the JSON that\n"+
			"mh keys rotate stores in Secrets Manager, for a local stack.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errors.New("keys generate: takes no arguments")
	}
	ks, err := token.Rotate(token.KeySet{}, time.Now())
	if err != nil {
		return err
	}
	b, err := ks.Marshal()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b))
	return err
}
