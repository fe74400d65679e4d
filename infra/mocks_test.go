package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// Resource type tokens the tests look for.
const (
	typeTable        = "aws:dynamodb/table:Table"
	typeLogGroup     = "aws:cloudwatch/logGroup:LogGroup"
	typeRole         = "aws:iam/role:Role"
	typeRolePolicy   = "aws:iam/rolePolicy:RolePolicy"
	typeFunction     = "aws:lambda/function:Function"
	typePermission   = "aws:lambda/permission:Permission"
	typeAPI          = "aws:apigatewayv2/api:Api"
	typeStage        = "aws:apigatewayv2/stage:Stage"
	typeIntegration  = "aws:apigatewayv2/integration:Integration"
	typeRoute        = "aws:apigatewayv2/route:Route"
	typeTopic        = "aws:sns/topic:Topic"
	typeSubscription = "aws:sns/topicSubscription:TopicSubscription"
	typeAlarm        = "aws:cloudwatch/metricAlarm:MetricAlarm"
	typeDashboard    = "aws:cloudwatch/dashboard:Dashboard"
	typeQuery        = "aws:cloudwatch/queryDefinition:QueryDefinition"
	typeAuthorizer   = "aws:apigatewayv2/authorizer:Authorizer"
	typeSecret       = "aws:secretsmanager/secret:Secret"
	typeBucket       = "aws:s3/bucketV2:BucketV2"
	typePublicAccess = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	typeOwnership    = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
	typeEncryption   = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	typeVersioning   = "aws:s3/bucketVersioningV2:BucketVersioningV2"
	typeLifecycle    = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
	typeBucketCORS   = "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2"
	typeBucketPolicy = "aws:s3/bucketPolicy:BucketPolicy"
	typeNotification = "aws:s3/bucketNotification:BucketNotification"
	typeQueue        = "aws:sqs/queue:Queue"
	typeQueuePolicy  = "aws:sqs/queuePolicy:QueuePolicy"
	typeRedriveAllow = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
	typeMapping      = "aws:lambda/eventSourceMapping:EventSourceMapping"
	typeOAC          = "aws:cloudfront/originAccessControl:OriginAccessControl"
	typeDistribution = "aws:cloudfront/distribution:Distribution"
)

// callerIdentity is the invoke token of aws.GetCallerIdentity.
const callerIdentity = "aws:index/getCallerIdentity:getCallerIdentity"

// Fake account facts the mocks put into ARNs.
const (
	testRegion    = "eu-west-1"
	testAccount   = "123456789012"
	testCDNDomain = "d111111abcdef8.cloudfront.net"
)

// testCursorKey is a valid cursor key: base64 of 32 bytes.
var testCursorKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))

// recorded is one resource the program registered.
type recorded struct {
	Type    string
	Name    string
	ID      string
	Parent  string // the parent's type token, "" for the stack
	Protect bool
	Deps    []string // URNs of explicit and implicit dependencies
	Inputs  resource.PropertyMap
	Outputs resource.PropertyMap
}

// in returns an input as plain Go values (secrets unwrapped).
func (r recorded) in(key string) any { return plain(r.Inputs[resource.PropertyKey(key)]) }

// out returns an output the mock computed, as plain Go values.
func (r recorded) out(key string) any { return plain(r.Outputs[resource.PropertyKey(key)]) }

// mocks records every resource and answers with plausible AWS outputs (ARNs,
// names, endpoints) so that values derived from them can be asserted.
type mocks struct {
	mu        sync.Mutex
	resources []recorded
	account   string // the caller identity's account, testAccount when empty
	callErr   error  // returned by the caller identity invoke when set
}

var _ pulumi.MockResourceMonitor = (*mocks)(nil)

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	name := args.Name
	if v, ok := args.Inputs["name"]; ok && v.IsString() {
		name = v.StringValue()
	} else {
		outs["name"] = resource.NewProperty(name)
	}
	id := args.Name + "-id"
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, testRegion, testAccount, resource)
	}
	switch args.TypeToken {
	case typeTable:
		outs["arn"] = resource.NewProperty(arn("dynamodb", "table/"+name))
	case typeLogGroup:
		outs["arn"] = resource.NewProperty(arn("logs", "log-group:"+name))
	case typeRole:
		outs["arn"] = resource.NewProperty("arn:aws:iam::" + testAccount + ":role/" + name)
	case typeFunction:
		fnArn := arn("lambda", "function:"+name)
		outs["arn"] = resource.NewProperty(fnArn)
		outs["invokeArn"] = resource.NewProperty("arn:aws:apigateway:" + testRegion + ":lambda:path/2015-03-31/functions/" + fnArn + "/invocations")
	case typeAPI:
		outs["apiEndpoint"] = resource.NewProperty("https://" + id + ".execute-api." + testRegion + ".amazonaws.com")
		outs["executionArn"] = resource.NewProperty(arn("execute-api", id))
	case typeTopic:
		outs["arn"] = resource.NewProperty(arn("sns", name))
	case typeSecret:
		// Secrets Manager appends six random characters to the name.
		outs["arn"] = resource.NewProperty(arn("secretsmanager", "secret:"+name+"-AbC123"))
	case typeBucket:
		bucket := args.Inputs["bucket"].StringValue()
		outs["arn"] = resource.NewProperty("arn:aws:s3:::" + bucket)
		outs["bucketRegionalDomainName"] = resource.NewProperty(bucket + ".s3." + testRegion + ".amazonaws.com")
	case typeQueue:
		outs["arn"] = resource.NewProperty(arn("sqs", name))
		outs["url"] = resource.NewProperty("https://sqs." + testRegion + ".amazonaws.com/" + testAccount + "/" + name)
	case typeDistribution:
		outs["arn"] = resource.NewProperty("arn:aws:cloudfront::" + testAccount + ":distribution/" + id)
		outs["domainName"] = resource.NewProperty(testCDNDomain)
	}

	rpc := args.RegisterRPC
	rec := recorded{Type: args.TypeToken, Name: args.Name, ID: id, Inputs: args.Inputs, Outputs: outs}
	if rpc != nil {
		rec.Protect = rpc.GetProtect()
		rec.Deps = rpc.GetDependencies()
		if p := rpc.GetParent(); p != "" {
			rec.Parent = urnType(p)
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, rec)
	m.mu.Unlock()
	return id, outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token == callerIdentity {
		if m.callErr != nil {
			return nil, m.callErr
		}
		account := testAccount
		if m.account != "" {
			account = m.account
		}
		return resource.PropertyMap{
			"accountId": resource.NewProperty(account),
			"id":        resource.NewProperty(account),
			"arn":       resource.NewProperty("arn:aws:iam::" + account + ":user/deployer"),
			"userId":    resource.NewProperty("AIDADEPLOYER"),
		}, nil
	}
	return args.Args, nil
}

// urnType returns the type token of a URN: the last type in its type chain.
func urnType(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	chain := strings.Split(parts[2], "$")
	return chain[len(chain)-1]
}

// ofType returns the resources of one type, in registration order.
func (m *mocks) ofType(typ string) []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []recorded
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ofTypeNamed returns the resources of one type with a logical name.
func (m *mocks) ofTypeNamed(typ, name string) []recorded {
	var out []recorded
	for _, r := range m.ofType(typ) {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// one returns the resource of a type with a logical name, failing the test if
// there is not exactly one.
func (m *mocks) one(t testing.TB, typ, name string) recorded {
	t.Helper()
	found := m.ofTypeNamed(typ, name)
	require.Lenf(t, found, 1, "resources %s %q", typ, name)
	return found[0]
}

// hasDep reports whether r depends on a resource of type typ named name.
func (r recorded) hasDep(typ, name string) bool {
	return slices.ContainsFunc(r.Deps, func(urn string) bool {
		return urnType(urn) == typ && strings.HasSuffix(urn, "::"+name)
	})
}

// plain converts a property value into plain Go values: strings, float64,
// bool, []any, map[string]any, and the path of a file archive. Secrets and
// known outputs are unwrapped, so use containsSecret to check secrecy.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsArchive():
		return "archive:" + v.ArchiveValue().Path
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	default:
		return v.V
	}
}

// lookup walks nested objects of a property value by key, unwrapping
// secrets and outputs on the way; the result is null if a key is missing.
func lookup(v resource.PropertyValue, keys ...string) resource.PropertyValue {
	for _, k := range keys {
		for v.IsSecret() || v.IsOutput() {
			if v.IsSecret() {
				v = v.SecretValue().Element
			} else {
				v = v.OutputValue().Element
			}
		}
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v
}

// containsSecret reports whether a value is, or holds, a secret.
func containsSecret(v resource.PropertyValue) bool {
	switch {
	case v.IsSecret():
		return true
	case v.IsOutput():
		return v.OutputValue().Secret || containsSecret(v.OutputValue().Element)
	case v.IsArray():
		return slices.ContainsFunc(v.ArrayValue(), containsSecret)
	case v.IsObject():
		return slices.ContainsFunc(slices.Collect(maps.Values(v.ObjectValue())), containsSecret)
	}
	return false
}

// stackSetup is the configuration a test stack runs with.
type stackSetup struct {
	stack   string
	config  map[string]string
	secrets []string
}

// validSetup returns a complete configuration for a stack, as the stack files
// plus the secrets would provide it.
func validSetup(stack string) stackSetup {
	retention, rate, burst := "14", "50", "100"
	if stack == stageProd {
		retention, rate, burst = "90", "500", "1000"
	}
	return stackSetup{
		stack: stack,
		config: map[string]string{
			"aws:region":                        testRegion,
			"mountain-highway:stage":            stack,
			"mountain-highway:logRetentionDays": retention,
			"mountain-highway:throttleRate":     rate,
			"mountain-highway:throttleBurst":    burst,
			"mountain-highway:cursorKey":        testCursorKey,
		},
		secrets: []string{"mountain-highway:cursorKey"},
	}
}

// with returns a copy of s with key set (value "" deletes it).
func (s stackSetup) with(key, value string) stackSetup {
	cfg := maps.Clone(s.config)
	if value == "" {
		delete(cfg, key)
	} else {
		cfg[key] = value
	}
	s.config = cfg
	return s
}

// run runs fn as a Pulumi program of the stack under mocks.
func (s stackSetup) run(fn pulumi.RunFunc) (*mocks, error) {
	return s.runWith(&mocks{}, fn)
}

// runWith runs fn under the given mocks, for tests that change what the
// mocks answer.
func (s stackSetup) runWith(m *mocks, fn pulumi.RunFunc) (*mocks, error) {
	err := pulumi.RunErr(fn,
		pulumi.WithMocks("mountain-highway", s.stack, m),
		func(info *pulumi.RunInfo) {
			info.Config = s.config
			info.ConfigSecretKeys = s.secrets
		},
	)
	return m, err
}

// mustRun runs the whole program and fails the test on error.
func (s stackSetup) mustRun(t testing.TB) *mocks {
	t.Helper()
	m, err := s.run(run)
	require.NoError(t, err)
	return m
}

// physical returns the deployed name of a function in a stage.
func physical(stage, name string) string { return "mh-" + stage + "-" + name }

// tableArn is the ARN the mocks give the stage's table.
func tableArn(stage string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/mh-%s-table", testRegion, testAccount, stage)
}

// decodeJSON unmarshals a JSON string input into v.
func decodeJSON(t testing.TB, s any, v any) {
	t.Helper()
	str, ok := s.(string)
	require.Truef(t, ok, "want a JSON string, got %T", s)
	require.NoError(t, json.Unmarshal([]byte(str), v))
}

// signingKeysArn is the ARN the mocks give the stage's signing-key secret.
func signingKeysArn(stage string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:mh-%s-signing-keys-AbC123", testRegion, testAccount, stage)
}

// apiEndpoint is the endpoint the mocks give the API: the tokens' issuer.
const apiEndpoint = "https://api-id.execute-api." + testRegion + ".amazonaws.com"

// stages are the stacks every stage-dependent test runs against.
var stages = []string{stageStaging, stageProd}

// deployedStack is what deploySpecs builds.
type deployedStack struct {
	cfg   stackConfig
	data  *dataStore
	id    *identity
	api   *httpAPI
	media *media
	jobs  *jobs
	fns   *functions
}

// deploySpecs builds the program's core for the given registry entries, in
// the program's order: table, signing-key secret, API, buckets, queues (with
// the notifications given), functions, queue consumers, routes. Tests use it
// to deploy entries the registry does not have.
func deploySpecs(ctx *pulumi.Context, specs []registry.Function, notes ...objectNotification) (deployedStack, error) {
	var d deployedStack
	var err error
	if d.cfg, err = loadConfig(ctx); err != nil {
		return d, err
	}
	account, err := awsAccount(ctx)
	if err != nil {
		return d, err
	}
	if d.data, err = newDataStore(ctx, d.cfg); err != nil {
		return d, err
	}
	if d.id, err = newIdentity(ctx, d.cfg); err != nil {
		return d, err
	}
	if d.api, err = newHTTPAPI(ctx, d.cfg); err != nil {
		return d, err
	}
	if d.media, err = newMedia(ctx, d.cfg, account); err != nil {
		return d, err
	}
	if d.jobs, err = newJobs(ctx, d.cfg, specs, account, d.media, notes); err != nil {
		return d, err
	}
	deps := functionDeps{Data: d.data, Tokens: newTokenSettings(d.cfg, d.api, d.id), Media: d.media, Jobs: d.jobs}
	if d.fns, err = newFunctions(ctx, d.cfg, specs, deps); err != nil {
		return d, err
	}
	if err := d.jobs.addConsumers(ctx, d.fns); err != nil {
		return d, err
	}
	return d, d.api.addRoutes(ctx, d.fns)
}

// bucketArn is the ARN the mocks give a stage's bucket of a role.
func bucketArn(stage string, role registry.Bucket) string {
	return "arn:aws:s3:::mh-" + stage + "-" + string(role) + "-" + testAccount
}

// queueArn is the ARN the mocks give a stage's queue.
func queueArn(stage, name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:mh-%s-%s", testRegion, testAccount, stage, name)
}

// queueURL is the URL the mocks give a stage's queue.
func queueURL(stage, name string) string {
	return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/mh-%s-%s", testRegion, testAccount, stage, name)
}

// distributionArn is the ARN the mocks give the media distribution.
const distributionArn = "arn:aws:cloudfront::" + testAccount + ":distribution/media-cdn-id"
