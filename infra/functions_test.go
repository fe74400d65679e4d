package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	appconfig "github.com/mountainhighway/marketplace/internal/config"
	"github.com/mountainhighway/marketplace/internal/registry"
)

func TestFunctionPerRegistryEntry(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			specs := registry.All()
			require.Len(t, m.ofType(typeFunction), len(specs), "one Lambda per registry entry")

			for _, spec := range specs {
				fn := m.one(t, typeFunction, spec.Name)
				name := physical(stage, spec.Name)
				assert.Equal(t, name, fn.in("name"))
				assert.Equal(t, "provided.al2023", fn.in("runtime"), spec.Name)
				assert.Equal(t, []any{"arm64"}, fn.in("architectures"), spec.Name)
				assert.Equal(t, "bootstrap", fn.in("handler"), spec.Name)
				assert.Equal(t, float64(spec.MemoryMB), fn.in("memorySize"), spec.Name)
				assert.Equal(t, spec.Timeout.Seconds(), fn.in("timeout"), spec.Name)
				assert.Equal(t, map[string]any{"mode": "Active"}, fn.in("tracingConfig"), spec.Name)
				assert.Equal(t, "archive:../dist/"+spec.Name+".zip", fn.in("code"), spec.Name)
				assert.Equal(t, "arn:aws:iam::"+testAccount+":role/"+name, fn.in("role"), spec.Name)
				assert.Equal(t, map[string]any{"logFormat": "Text", "logGroup": "/aws/lambda/" + name}, fn.in("loggingConfig"), spec.Name)
				want := map[string]any{
					"STAGE":         stage,
					"TABLE_NAME":    "mh-" + stage + "-table",
					"SENTRY_DSN":    "",
					"RELEASE":       "dev",
					"CURSOR_KEY":    testCursorKey,
					"FUNCTION_NAME": spec.Name,
					"LOG_LEVEL":     "info",
					"ISSUER":        apiEndpoint,
					"AUDIENCE":      "mountain-highway",
					// Every function, as internal/config reads them.
					"UPLOADS_BUCKET": "mh-" + stage + "-uploads-" + testAccount,
					"MEDIA_BUCKET":   "mh-" + stage + "-media-" + testAccount,
					"MEDIA_BASE_URL": "https://" + testCDNDomain,
				}
				if spec.Signs {
					want["SIGNING_KEYS_SECRET"] = signingKeysArn(stage)
				}
				assert.Equal(t, map[string]any{"variables": want}, fn.in("environment"), spec.Name)
				for _, secret := range []string{"CURSOR_KEY", "SENTRY_DSN"} {
					v := lookup(resource.NewObjectProperty(fn.Inputs), "environment", "variables", secret)
					assert.True(t, containsSecret(v), "%s: %s must stay a secret in state", spec.Name, secret)
				}
				for _, public := range []string{"STAGE", "FUNCTION_NAME", "UPLOADS_BUCKET", "MEDIA_BUCKET", "MEDIA_BASE_URL"} {
					v := lookup(resource.NewObjectProperty(fn.Inputs), "environment", "variables", public)
					assert.False(t, containsSecret(v), "%s: %s is not a secret", spec.Name, public)
				}
				assert.True(t, fn.hasDep(typeLogGroup, spec.Name+"-logs"), "%s must wait for its log group, or Lambda creates one without retention", spec.Name)
				assert.True(t, fn.hasDep(typeRolePolicy, spec.Name+"-policy"), "%s must wait for its policy", spec.Name)
				assert.Equal(t, "mountain-highway:infra:Functions", fn.Parent, spec.Name)
			}
		})
	}
}

func TestLogGroupRetentionPerStage(t *testing.T) {
	tests := []struct {
		stage string
		want  float64
	}{
		{stageStaging, 14},
		{stageProd, 90},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			m := validSetup(tt.stage).mustRun(t)
			groups := m.ofType(typeLogGroup)
			require.Len(t, groups, len(registry.All())+1, "one per function plus the API access log")
			for _, spec := range registry.All() {
				lg := m.one(t, typeLogGroup, spec.Name+"-logs")
				assert.Equal(t, "/aws/lambda/"+physical(tt.stage, spec.Name), lg.in("name"))
			}
			for _, lg := range groups {
				assert.Equal(t, tt.want, lg.in("retentionInDays"), lg.Name)
			}
		})
	}
}

func TestRolesAssumableOnlyByLambda(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	require.Len(t, m.ofType(typeRole), len(registry.All()))
	for _, spec := range registry.All() {
		role := m.one(t, typeRole, spec.Name+"-role")
		var doc policyDocument
		decodeJSON(t, role.in("assumeRolePolicy"), &doc)
		require.Len(t, doc.Statement, 1, spec.Name)
		st := doc.Statement[0]
		assert.Equal(t, "Allow", st.Effect)
		assert.Equal(t, map[string]string{"Service": "lambda.amazonaws.com"}, st.Principal)
		assert.Equal(t, []string{"sts:AssumeRole"}, st.Action)
	}
}

// TestRolePolicyLeastPrivilege checks every deployed policy against the
// registry: its own log group, tracing, and exactly the listed table actions.
func TestRolePolicyLeastPrivilege(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			require.Len(t, m.ofType(typeRolePolicy), len(registry.All()))
			for _, spec := range registry.All() {
				p := m.one(t, typeRolePolicy, spec.Name+"-policy")
				assert.Equal(t, spec.Name+"-role-id", p.in("role"), "policy attached to its own role")
				var doc policyDocument
				decodeJSON(t, p.in("policy"), &doc)
				assertFunctionPolicy(t, doc, spec, stage)
			}
		})
	}
}

func assertFunctionPolicy(t *testing.T, doc policyDocument, spec registry.Function, stage string) {
	t.Helper()
	logGroupArn := "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:/aws/lambda/" + physical(stage, spec.Name)
	var logs, xray, table, secrets, queues, objects []policyStatement
	for _, st := range doc.Statement {
		assert.Equal(t, "Allow", st.Effect, spec.Name)
		assert.Nil(t, st.Condition, spec.Name)
		require.NotEmpty(t, st.Action, spec.Name)
		for _, a := range st.Action {
			assert.NotContains(t, a, "*", "%s: wildcard action %q", spec.Name, a)
		}
		switch {
		case strings.HasPrefix(st.Action[0], "logs:"):
			logs = append(logs, st)
		case strings.HasPrefix(st.Action[0], "xray:"):
			xray = append(xray, st)
		case strings.HasPrefix(st.Action[0], "dynamodb:"):
			table = append(table, st)
		case strings.HasPrefix(st.Action[0], "secretsmanager:"):
			secrets = append(secrets, st)
		case strings.HasPrefix(st.Action[0], "sqs:"):
			queues = append(queues, st)
		case strings.HasPrefix(st.Action[0], "s3:"):
			objects = append(objects, st)
		default:
			t.Errorf("%s: unexpected statement %+v", spec.Name, st)
		}
	}

	if spec.Queue == nil {
		assert.Empty(t, queues, "%s consumes no queue, so no sqs statement", spec.Name)
	} else {
		require.Len(t, queues, 1, spec.Name)
		assert.ElementsMatch(t, []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}, queues[0].Action, spec.Name)
		assert.Equal(t, []string{queueArn(stage, spec.Queue.Name)}, queues[0].Resource, "%s consumes exactly its own queue", spec.Name)
	}

	// The S3 statements are exactly the registry's grants: one per
	// BucketAccess, its actions on its prefix's keys, nothing bucket-level.
	type grant struct {
		resource string
		actions  []string
	}
	var wantGrants, gotGrants []grant
	for _, access := range spec.Buckets {
		g := grant{resource: bucketArn(stage, access.Bucket) + "/" + access.Prefix + "*"}
		for _, a := range access.Actions {
			g.actions = append(g.actions, string(a))
		}
		wantGrants = append(wantGrants, g)
	}
	for _, st := range objects {
		require.Len(t, st.Resource, 1, spec.Name)
		gotGrants = append(gotGrants, grant{resource: st.Resource[0], actions: st.Action})
	}
	assert.Equal(t, wantGrants, gotGrants, "%s: S3 statements", spec.Name)
	require.Len(t, logs, 1, spec.Name)
	assert.ElementsMatch(t, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs[0].Action, spec.Name)
	assert.Equal(t, []string{logGroupArn + ":*"}, logs[0].Resource, "%s writes only to its own log group", spec.Name)
	require.Len(t, xray, 1, spec.Name)
	assert.ElementsMatch(t, []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, xray[0].Action, spec.Name)

	if spec.Signs {
		require.Len(t, secrets, 1, spec.Name)
		assert.Equal(t, []string{"secretsmanager:GetSecretValue"}, secrets[0].Action, spec.Name)
		assert.Equal(t, []string{signingKeysArn(stage)}, secrets[0].Resource, "%s reads exactly the signing-key secret", spec.Name)
	} else {
		assert.Empty(t, secrets, "%s does not sign, so no secretsmanager statement", spec.Name)
	}

	if len(spec.Table) == 0 {
		assert.Empty(t, table, "%s lists no table actions, so no dynamodb statement", spec.Name)
		return
	}
	require.Len(t, table, 1, spec.Name)
	want := make([]string, len(spec.Table))
	for i, a := range spec.Table {
		want[i] = string(a)
	}
	assert.ElementsMatch(t, want, table[0].Action, spec.Name)
	assert.ElementsMatch(t, []string{tableArn(stage), tableArn(stage) + "/index/*"}, table[0].Resource, spec.Name)
}

// TestFunctionPolicy covers shapes the current registry may not contain.
func TestFunctionPolicy(t *testing.T) {
	images := &registry.Queue{Name: "images", BatchSize: 1, MaxReceiveCount: 3}
	twoPrefixes := []registry.BucketAccess{
		{Bucket: registry.Uploads, Prefix: "a/", Actions: []registry.S3Action{registry.GetObject, registry.DeleteObject}},
		{Bucket: registry.Media, Prefix: "b/c/", Actions: []registry.S3Action{registry.PutObject}},
	}
	tests := []struct {
		name    string
		actions []registry.TableAction
		signs   bool
		queue   *registry.Queue
		buckets []registry.BucketAccess
	}{
		{"no table access", nil, false, nil, nil},
		{"read one item", []registry.TableAction{registry.GetItem}, false, nil, nil},
		{"transactional writer", []registry.TableAction{registry.PutItem, registry.UpdateItem, registry.ConditionCheck, registry.Query}, false, nil, nil},
		{"signer without table access", nil, true, nil, nil},
		{"signer with table access", []registry.TableAction{registry.GetItem, registry.PutItem}, true, nil, nil},
		{"queue consumer", nil, false, images, nil},
		{"two prefixes in two buckets", nil, false, nil, twoPrefixes},
		{"consumer with buckets and table", []registry.TableAction{registry.GetItem}, false, images, twoPrefixes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := registry.Function{Name: "fn", Table: tt.actions, Signs: tt.signs, Queue: tt.queue, Buckets: tt.buckets}
			got, err := functionPolicy(spec, testPolicyARNs(spec))
			require.NoError(t, err)
			var doc policyDocument
			decodeJSON(t, got, &doc)
			assert.Equal(t, policyVersion, doc.Version)
			assertFunctionPolicy(t, doc, spec, stageStaging)
		})
	}
}

// testPolicyARNs are the ARNs the mocks give a staging function's resources.
func testPolicyARNs(spec registry.Function) policyARNs {
	arns := policyARNs{
		LogGroup:    "arn:aws:logs:" + testRegion + ":" + testAccount + ":log-group:/aws/lambda/" + physical(stageStaging, spec.Name),
		Table:       tableArn(stageStaging),
		SigningKeys: signingKeysArn(stageStaging),
		Buckets:     map[registry.Bucket]string{},
	}
	if spec.Queue != nil {
		arns.Queue = queueArn(stageStaging, spec.Queue.Name)
	}
	for _, b := range buckets {
		arns.Buckets[b] = bucketArn(stageStaging, b)
	}
	return arns
}

// TestFunctionPolicyMissingARN checks that a policy is never built with a
// hole where a queue or bucket ARN should be.
func TestFunctionPolicyMissingARN(t *testing.T) {
	consumer := registry.Function{Name: "w", Queue: &registry.Queue{Name: "images"}}
	arns := testPolicyARNs(consumer)
	arns.Queue = ""
	_, err := functionPolicy(consumer, arns)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queue images has no ARN")

	reader := registry.Function{Name: "r", Buckets: []registry.BucketAccess{{Bucket: "archive", Prefix: "x/", Actions: []registry.S3Action{registry.GetObject}}}}
	_, err = functionPolicy(reader, testPolicyARNs(reader))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `bucket "archive" has no ARN`)
}

func TestValidateSpec(t *testing.T) {
	cfg := stackConfig{Stage: stageStaging}
	ok := registry.Function{Name: "ok", HTTP: &registry.Route{Method: "GET", Path: "/v1/ok"}, Auth: registry.Public, Timeout: 10 * time.Second, Table: []registry.TableAction{registry.Query}}
	tests := []struct {
		name    string
		edit    func(*registry.Function)
		wantErr string // "" for valid
	}{
		{"valid", func(*registry.Function) {}, ""},
		{"worker may run long", func(f *registry.Function) { f.HTTP = nil; f.Timeout = 5 * time.Minute }, ""},
		{"admin route", func(f *registry.Function) { f.Auth = registry.Admin }, ""},
		{"worker needs no auth level", func(f *registry.Function) { f.HTTP = nil; f.Auth = "" }, ""},
		{"route without auth level", func(f *registry.Function) { f.Auth = "" }, `unknown auth ""`},
		{"route with unknown auth level", func(f *registry.Function) { f.Auth = "buyer" }, `unknown auth "buyer"`},
		{"name too long", func(f *registry.Function) { f.Name = strings.Repeat("x", 60) }, "characters"},
		{"fractional timeout", func(f *registry.Function) { f.Timeout = 1500 * time.Millisecond }, "whole number of seconds"},
		{"zero timeout", func(f *registry.Function) { f.Timeout = 0 }, "whole number of seconds"},
		{"http beyond gateway limit", func(f *registry.Function) { f.Timeout = 31 * time.Second }, "API Gateway limit"},
		{"wildcard action", func(f *registry.Function) { f.Table = []registry.TableAction{"dynamodb:*"} }, "single dynamodb action"},
		{"prefix wildcard", func(f *registry.Function) { f.Table = []registry.TableAction{"dynamodb:Get*"} }, "single dynamodb action"},
		{"other service", func(f *registry.Function) { f.Table = []registry.TableAction{"s3:GetObject"} }, "single dynamodb action"},
		{"empty action", func(f *registry.Function) { f.Table = []registry.TableAction{"dynamodb:"} }, "single dynamodb action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok
			tt.edit(&spec)
			err := validateSpec(cfg, spec)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestInvalidSpecFailsBeforeDeploying checks that a bad registry entry stops
// the program before any function resource is registered.
func TestInvalidSpecFailsBeforeDeploying(t *testing.T) {
	bad := registry.Function{Name: "bad", Timeout: time.Second, Table: []registry.TableAction{"dynamodb:*"}}
	m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		_, err := deploySpecs(ctx, []registry.Function{bad})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"dynamodb:*"`)
	assert.Empty(t, m.ofType(typeFunction))
	assert.Empty(t, m.ofType(typeRole))
}

// TestSigningKeysSecret checks the secret the private keys live in: named
// per stage, described, and created empty, so no key material is ever in
// the Pulumi state; prod's is protected from deletion.
func TestSigningKeysSecret(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			require.Len(t, m.ofType(typeSecret), 1)
			s := m.one(t, typeSecret, "signing-keys")
			assert.Equal(t, "mh-"+stage+"-signing-keys", s.in("name"))
			desc, _ := s.in("description").(string)
			assert.Contains(t, desc, "ES256 private key set")
			assert.Contains(t, desc, "mh keys rotate")
			assert.Equal(t, "mountain-highway:infra:Identity", s.Parent)
			assert.Equal(t, stage == stageProd, s.Protect)
			for _, r := range m.resources {
				assert.NotEqual(t, "aws:secretsmanager/secretVersion:SecretVersion", r.Type, "the key is written by mh keys rotate, never by Pulumi")
			}
			assert.Nil(t, s.in("policy"))
		})
	}
}

// TestSigningKeysOnlyForSigners looks at every deployed role policy from an
// attacker's side: a function that does not sign tokens cannot read the
// private keys by any Secrets Manager action, and no function, signing or
// not, can write or replace them.
func TestSigningKeysOnlyForSigners(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	var signers []string
	for _, spec := range registry.All() {
		var doc policyDocument
		decodeJSON(t, m.one(t, typeRolePolicy, spec.Name+"-policy").in("policy"), &doc)
		var actions, resources []string
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				if strings.HasPrefix(strings.ToLower(a), "secretsmanager:") {
					actions = append(actions, a)
					resources = append(resources, st.Resource...)
				}
			}
			for _, r := range st.Resource {
				if strings.Contains(r, "secretsmanager") {
					assert.Equal(t, signingKeysArn(stageProd), r, "%s: secret resource", spec.Name)
				}
			}
		}
		if !spec.Signs {
			assert.Empty(t, actions, "%s does not sign tokens: it must not touch Secrets Manager", spec.Name)
			continue
		}
		signers = append(signers, spec.Name)
		assert.Equal(t, []string{"secretsmanager:GetSecretValue"}, actions, spec.Name)
		assert.Equal(t, []string{signingKeysArn(stageProd)}, resources, spec.Name)
		for _, forbidden := range []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:*"} {
			assert.NotContains(t, actions, forbidden, spec.Name)
		}
	}
	assert.NotEmpty(t, signers, "the registry has signing functions")
	assert.NotContains(t, signers, "jwks", "the key set endpoint serves public keys only")
}

// TestEnvironmentLoads feeds every deployed function's environment to the
// functions' own config loader, so a variable renamed on either side fails
// here instead of at the first cold start.
func TestEnvironmentLoads(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	for _, spec := range registry.All() {
		env, ok := m.one(t, typeFunction, spec.Name).in("environment").(map[string]any)
		require.True(t, ok, spec.Name)
		vars, ok := env["variables"].(map[string]any)
		require.True(t, ok, spec.Name)
		got, err := appconfig.Load(func(k string) string {
			s, _ := vars[k].(string)
			return s
		})
		require.NoError(t, err, spec.Name)
		assert.Equal(t, spec.Name, got.Function)
		assert.Equal(t, stageProd, got.Stage)
		assert.Equal(t, "mh-prod-uploads-"+testAccount, got.UploadsBucket, spec.Name)
		assert.Equal(t, "mh-prod-media-"+testAccount, got.MediaBucket, spec.Name)
		assert.Equal(t, "https://"+testCDNDomain, got.MediaBaseURL, spec.Name)
		assert.Empty(t, got.S3Endpoint, "%s talks to real S3 in AWS", spec.Name)
	}
}
