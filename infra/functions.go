package main

import (
	"fmt"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// artifactDir is where `make build` leaves one <name>.zip (holding the
// function's bootstrap) per registry entry. Pulumi runs the program with
// infra/ as its working directory (Pulumi.yaml has main: infra/) and resolves
// relative archive paths against it, so this is dist/ at the repository root.
// It stays relative so that the state does not depend on where the clone is.
const artifactDir = "../dist"

// Limits checked before anything is deployed.
const (
	maxFunctionName = 64               // Lambda function and IAM role names
	httpTimeout     = 30 * time.Second // API Gateway HTTP API integration limit
)

// deployedFunction is one registry entry's Lambda with what it owns.
type deployedFunction struct {
	Spec     registry.Function
	Function *lambda.Function
	Role     *iam.Role
	Policy   *iam.RolePolicy
	LogGroup *cloudwatch.LogGroup
}

// functions is the component that owns every Lambda function, with its role,
// policy and log group.
type functions struct {
	pulumi.ResourceState

	// All holds the functions in registry order, which keeps names and
	// exports stable between runs.
	All []*deployedFunction
}

// byName returns the deployed function with a registry name, or nil.
func (f *functions) byName(name string) *deployedFunction {
	for _, fn := range f.All {
		if fn.Spec.Name == name {
			return fn
		}
	}
	return nil
}

// functionDeps are the resources the functions are configured with and
// granted access to.
type functionDeps struct {
	Data   *dataStore
	Tokens tokenSettings
	Media  *media
	Jobs   *jobs
}

// tokenSettings are what the functions need to know about access tokens:
// the same issuer and audience the API's JWT authorizer checks, and where
// the signing functions find their keys.
type tokenSettings struct {
	Issuer         pulumi.StringOutput // the API's base URL
	Audience       string
	SigningKeysArn pulumi.StringOutput // read only by functions with Signs
}

// newTokenSettings takes the issuer from the API and the keys from identity.
// The API resource itself depends on no function, so the functions can
// depend on its endpoint without a cycle; only the routes come after them.
func newTokenSettings(cfg stackConfig, api *httpAPI, id *identity) tokenSettings {
	return tokenSettings{Issuer: api.Issuer, Audience: cfg.Audience, SigningKeysArn: id.SigningKeys.Arn}
}

// newFunctions creates one function per spec. Adding a registry entry is all it
// takes to deploy a new function.
func newFunctions(ctx *pulumi.Context, cfg stackConfig, specs []registry.Function, deps functionDeps) (*functions, error) {
	if err := validateSpecs(cfg, specs); err != nil {
		return nil, err
	}
	f := &functions{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Functions", "functions", f); err != nil {
		return nil, err
	}
	assumeRole, err := lambdaAssumeRolePolicy()
	if err != nil {
		return nil, err
	}
	names := pulumi.StringMap{}
	for _, spec := range specs {
		fn, err := newFunction(ctx, cfg, f, spec, deps, assumeRole)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", spec.Name, err)
		}
		f.All = append(f.All, fn)
		names[spec.Name] = fn.Function.Name
	}
	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{"functionNames": names}); err != nil {
		return nil, err
	}
	return f, nil
}

// validateSpecs checks every entry with validateSpec, and that no queue has
// two consumers.
func validateSpecs(cfg stackConfig, specs []registry.Function) error {
	for _, spec := range specs {
		if err := validateSpec(cfg, spec); err != nil {
			return err
		}
	}
	return validateConsumers(specs)
}

// validateSpec catches registry entries AWS would reject (or accept wrongly)
// with an error naming the entry, instead of a half-applied deployment.
func validateSpec(cfg stackConfig, spec registry.Function) error {
	if n := len(cfg.name(spec.Name)); n > maxFunctionName {
		return fmt.Errorf("function %s: name %s is %d characters, the limit is %d", spec.Name, cfg.name(spec.Name), n, maxFunctionName)
	}
	if spec.Timeout < time.Second || spec.Timeout%time.Second != 0 {
		return fmt.Errorf("function %s: timeout %v must be a whole number of seconds", spec.Name, spec.Timeout)
	}
	if spec.HTTP != nil && spec.Timeout > httpTimeout {
		return fmt.Errorf("function %s: timeout %v exceeds the %v API Gateway limit; the client would get 503 while it still runs", spec.Name, spec.Timeout, httpTimeout)
	}
	if spec.HTTP != nil {
		if _, err := routeAuthorization(spec.Auth); err != nil {
			return fmt.Errorf("function %s: %w", spec.Name, err)
		}
	}
	if err := validateQueue(cfg, spec); err != nil {
		return err
	}
	if err := validateBucketAccess(spec); err != nil {
		return err
	}
	return validateTableActions(spec)
}

func newFunction(ctx *pulumi.Context, cfg stackConfig, parent pulumi.Resource, spec registry.Function, deps functionDeps, assumeRole string) (*deployedFunction, error) {
	physical := cfg.name(spec.Name)
	child := pulumi.Parent(parent)

	// The log group is created by Pulumi, not by Lambda on first write, so it
	// has a retention and is deleted with the stack.
	logGroup, err := cloudwatch.NewLogGroup(ctx, spec.Name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + physical),
		RetentionInDays: pulumi.Int(cfg.LogRetentionDays),
	}, child)
	if err != nil {
		return nil, err
	}

	role, err := iam.NewRole(ctx, spec.Name+"-role", &iam.RoleArgs{
		Name:             pulumi.String(physical),
		Description:      pulumi.String("Execution role of " + physical + ": " + spec.Description),
		AssumeRolePolicy: pulumi.String(assumeRole),
	}, child)
	if err != nil {
		return nil, err
	}

	queueArn := pulumi.String("").ToStringOutput()
	if spec.Queue != nil {
		q := deps.Jobs.queue(spec.Queue.Name)
		if q == nil {
			return nil, fmt.Errorf("queue %s is not deployed", spec.Queue.Name)
		}
		queueArn = q.Queue.Arn
	}
	values := []any{logGroup.Arn, deps.Data.Table.Arn, deps.Tokens.SigningKeysArn, queueArn}
	for _, b := range buckets {
		values = append(values, deps.Media.bucket(b).Arn)
	}
	policyJSON := pulumi.All(values...).ApplyT(func(values []any) (string, error) {
		arns, err := asStrings(values)
		if err != nil {
			return "", fmt.Errorf("policy of %s: ARNs: %w", spec.Name, err)
		}
		in := policyARNs{LogGroup: arns[0], Table: arns[1], SigningKeys: arns[2], Queue: arns[3], Buckets: map[registry.Bucket]string{}}
		for i, b := range buckets {
			in.Buckets[b] = arns[4+i]
		}
		return functionPolicy(spec, in)
	})
	policy, err := iam.NewRolePolicy(ctx, spec.Name+"-policy", &iam.RolePolicyArgs{
		Name:   pulumi.String(physical),
		Role:   role.ID(),
		Policy: policyJSON,
	}, child)
	if err != nil {
		return nil, err
	}

	fn, err := lambda.NewFunction(ctx, spec.Name, &lambda.FunctionArgs{
		Name:          pulumi.String(physical),
		Description:   pulumi.String(spec.Description),
		Runtime:       pulumi.String("provided.al2023"),
		Architectures: pulumi.StringArray{pulumi.String("arm64")},
		Handler:       pulumi.String("bootstrap"),
		Code:          pulumi.NewFileArchive(artifactDir + "/" + spec.Name + ".zip"),
		Role:          role.Arn,
		MemorySize:    pulumi.Int(spec.MemoryMB),
		Timeout:       pulumi.Int(int(spec.Timeout / time.Second)),
		TracingConfig: lambda.FunctionTracingConfigArgs{Mode: pulumi.String("Active")},
		// Text, not JSON: the wrapper already writes JSON lines, and Lambda's
		// JSON format would wrap each one in a second envelope.
		LoggingConfig: lambda.FunctionLoggingConfigArgs{
			LogFormat: pulumi.String("Text"),
			LogGroup:  logGroup.Name,
		},
		Environment: lambda.FunctionEnvironmentArgs{Variables: environment(cfg, spec, deps)},
		// Without its permissions in place first, the first cold start after a
		// deploy could fail to write logs or read the table.
	}, child, pulumi.DependsOn([]pulumi.Resource{logGroup, policy}))
	if err != nil {
		return nil, err
	}
	return &deployedFunction{Spec: spec, Function: fn, Role: role, Policy: policy, LogGroup: logGroup}, nil
}

// environment is a function's configuration, under the names
// internal/config.Load reads. Every function gets the issuer and audience,
// because the wrapper verifies tokens itself behind the authorizer, and the
// bucket names and media URL, which are not secret and which a listing
// response needs to build image URLs whether or not the function touches a
// bucket itself; only the signing functions learn where the private keys
// are.
func environment(cfg stackConfig, spec registry.Function, deps functionDeps) pulumi.StringMap {
	tokens := deps.Tokens
	vars := pulumi.StringMap{
		"STAGE":          pulumi.String(cfg.Stage),
		"FUNCTION_NAME":  pulumi.String(spec.Name),
		"RELEASE":        pulumi.String(cfg.Release),
		"TABLE_NAME":     deps.Data.Table.Name,
		"SENTRY_DSN":     cfg.SentryDSN,
		"CURSOR_KEY":     cfg.CursorKey,
		"LOG_LEVEL":      pulumi.String("info"),
		"ISSUER":         tokens.Issuer,
		"AUDIENCE":       pulumi.String(tokens.Audience),
		"UPLOADS_BUCKET": deps.Media.Uploads.Bucket,
		"MEDIA_BUCKET":   deps.Media.Media.Bucket,
		"MEDIA_BASE_URL": deps.Media.BaseURL,
	}
	if spec.Signs {
		vars["SIGNING_KEYS_SECRET"] = tokens.SigningKeysArn
	}
	return vars
}
