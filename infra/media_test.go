package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// TestBuckets checks both buckets in both stages: named with the account id,
// private by every public access block, ACLs off, encrypted, versioned only
// where undo matters (prod media), and protected where the data matters.
func TestBuckets(t *testing.T) {
	tests := []struct {
		stage           string
		role            registry.Bucket
		versioning      string
		protect, forced bool
	}{
		{stageStaging, registry.Uploads, "Disabled", false, true},
		{stageStaging, registry.Media, "Disabled", false, true},
		{stageProd, registry.Uploads, "Disabled", false, false},
		{stageProd, registry.Media, "Enabled", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.stage+"/"+string(tt.role), func(t *testing.T) {
			m := validSetup(tt.stage).mustRun(t)
			require.Len(t, m.ofType(typeBucket), 2, "uploads and media")
			role := string(tt.role)
			name := "mh-" + tt.stage + "-" + role + "-" + testAccount
			b := m.one(t, typeBucket, role+"-bucket")
			assert.Equal(t, name, b.in("bucket"))
			assert.LessOrEqual(t, len(name), 63)
			assert.Equal(t, tt.protect, b.Protect)
			assert.Equal(t, tt.forced, b.in("forceDestroy"), "staging buckets go with the stack; prod ones never do")
			assert.Equal(t, "mountain-highway:infra:Media", b.Parent)
			for _, deprecated := range []string{"acl", "policy", "corsRules", "lifecycleRules", "versionings", "serverSideEncryptionConfigurations"} {
				assert.Nil(t, b.in(deprecated), "%s: configured by its own resource", deprecated)
			}

			pab := m.one(t, typePublicAccess, role+"-public-access")
			assert.Equal(t, name, pab.in("bucket"))
			for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				assert.Equal(t, true, pab.in(k), k)
			}
			own := m.one(t, typeOwnership, role+"-ownership")
			assert.Equal(t, name, own.in("bucket"))
			assert.Equal(t, map[string]any{"objectOwnership": "BucketOwnerEnforced"}, own.in("rule"))
			enc := m.one(t, typeEncryption, role+"-encryption")
			assert.Equal(t, name, enc.in("bucket"))
			assert.Equal(t, []any{map[string]any{
				"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"},
			}}, enc.in("rules"))
			ver := m.one(t, typeVersioning, role+"-versioning")
			assert.Equal(t, name, ver.in("bucket"))
			assert.Equal(t, map[string]any{"status": tt.versioning}, ver.in("versioningConfiguration"))
		})
	}
}

// lifecycleRules returns a lifecycle configuration's rules by id.
func lifecycleRules(t testing.TB, r recorded) map[string]map[string]any {
	t.Helper()
	rules, ok := r.in("rules").([]any)
	require.True(t, ok, "rules")
	out := map[string]map[string]any{}
	for _, raw := range rules {
		rule, ok := raw.(map[string]any)
		require.True(t, ok)
		id, _ := rule["id"].(string)
		out[id] = rule
	}
	return out
}

func TestUploadsLifecycle(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			lc := m.one(t, typeLifecycle, "uploads-lifecycle")
			assert.Equal(t, "mh-"+stage+"-uploads-"+testAccount, lc.in("bucket"))
			assert.Equal(t, map[string]map[string]any{
				"expire-uploads": {
					"id": "expire-uploads", "status": "Enabled",
					"filter":     map[string]any{"prefix": "uploads/"},
					"expiration": map[string]any{"days": float64(1)},
				},
				"expire-quarantine": {
					"id": "expire-quarantine", "status": "Enabled",
					"filter":     map[string]any{"prefix": "quarantine/"},
					"expiration": map[string]any{"days": float64(30)},
				},
			}, lifecycleRules(t, lc))
		})
	}
}

// TestMediaVersionsExpire checks that prod's media versions are an undo
// window, not a growing archive, and that staging has no such rule.
func TestMediaVersionsExpire(t *testing.T) {
	assert.Empty(t, validSetup(stageStaging).mustRun(t).ofTypeNamed(typeLifecycle, "media-lifecycle"))

	m := validSetup(stageProd).mustRun(t)
	lc := m.one(t, typeLifecycle, "media-lifecycle")
	assert.Equal(t, "mh-prod-media-"+testAccount, lc.in("bucket"))
	rule := lifecycleRules(t, lc)["expire-noncurrent-versions"]
	require.NotNil(t, rule)
	assert.Equal(t, "Enabled", rule["status"])
	assert.Equal(t, map[string]any{"noncurrentDays": float64(30)}, rule["noncurrentVersionExpiration"])
	assert.Equal(t, map[string]any{"expiredObjectDeleteMarker": true}, rule["expiration"])
	assert.True(t, lc.hasDep(typeVersioning, "media-versioning"))
}

func TestUploadsCORS(t *testing.T) {
	assert.Empty(t, validSetup(stageProd).mustRun(t).ofType(typeBucketCORS), "no origins, no CORS")

	origins := `["http://localhost:3000","https://app.example.com"]`
	m := validSetup(stageStaging).with(configNamespace+":corsOrigins", origins).mustRun(t)
	require.Len(t, m.ofType(typeBucketCORS), 1, "the uploads bucket only")
	c := m.one(t, typeBucketCORS, "uploads-cors")
	assert.Equal(t, "mh-staging-uploads-"+testAccount, c.in("bucket"))
	rules, ok := c.in("corsRules").([]any)
	require.True(t, ok)
	require.Len(t, rules, 1)
	rule, ok := rules[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []any{"POST"}, rule["allowedMethods"], "a presigned POST is the only browser write")
	assert.Equal(t, []any{"http://localhost:3000", "https://app.example.com"}, rule["allowedOrigins"])
}

// TestMediaDistribution checks that CloudFront reaches the media bucket
// through an origin access control that signs every request, serves HTTPS
// only, and caches with the managed CachingOptimized policy.
func TestMediaDistribution(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			require.Len(t, m.ofType(typeOAC), 1)
			oac := m.one(t, typeOAC, "media-oac")
			assert.Equal(t, "s3", oac.in("originAccessControlOriginType"))
			assert.Equal(t, "always", oac.in("signingBehavior"))
			assert.Equal(t, "sigv4", oac.in("signingProtocol"))
			assert.Equal(t, "mh-"+stage+"-media", oac.in("name"))

			require.Len(t, m.ofType(typeDistribution), 1)
			d := m.one(t, typeDistribution, "media-cdn")
			assert.Equal(t, true, d.in("enabled"))
			assert.Equal(t, "http2and3", d.in("httpVersion"))
			assert.Equal(t, "PriceClass_100", d.in("priceClass"))
			assert.Equal(t, true, d.in("isIpv6Enabled"))
			assert.Nil(t, d.in("aliases"))
			assert.Equal(t, map[string]any{"cloudfrontDefaultCertificate": true}, d.in("viewerCertificate"))
			assert.Equal(t, "mountain-highway:infra:Media", d.Parent)

			origins, ok := d.in("origins").([]any)
			require.True(t, ok)
			require.Len(t, origins, 1, "the media bucket is the only origin")
			assert.Equal(t, map[string]any{
				"originId":              "media-bucket",
				"domainName":            "mh-" + stage + "-media-" + testAccount + ".s3." + testRegion + ".amazonaws.com",
				"originAccessControlId": "media-oac-id",
			}, origins[0], "OAC, not a legacy origin access identity")

			cache, ok := d.in("defaultCacheBehavior").(map[string]any)
			require.True(t, ok)
			assert.Equal(t, "media-bucket", cache["targetOriginId"])
			assert.Equal(t, "redirect-to-https", cache["viewerProtocolPolicy"])
			assert.Equal(t, "658327ea-f89d-4fab-a63d-7e88639e58f6", cache["cachePolicyId"], "Managed-CachingOptimized")
			assert.Equal(t, true, cache["compress"])
			assert.Equal(t, []any{"GET", "HEAD"}, cache["allowedMethods"], "read only")
			assert.Nil(t, cache["forwardedValues"], "the cache policy decides the key")
			assert.Nil(t, d.in("orderedCacheBehaviors"))
		})
	}
}

// TestMediaBucketPolicy checks that the media bucket admits reads of the
// published prefix by this distribution alone, and refuses plain HTTP.
func TestMediaBucketPolicy(t *testing.T) {
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			m := validSetup(stage).mustRun(t)
			p := m.one(t, typeBucketPolicy, "media-policy")
			assert.Equal(t, "mh-"+stage+"-media-"+testAccount, p.in("bucket"))
			var doc policyDocument
			decodeJSON(t, p.in("policy"), &doc)
			allows := assertDeniesInsecureTransport(t, doc, bucketArn(stage, registry.Media))
			require.Len(t, allows, 1, "one grant: CloudFront's")
			st := allows[0]
			assert.Equal(t, map[string]string{"Service": "cloudfront.amazonaws.com"}, st.Principal)
			assert.Equal(t, []string{"s3:GetObject"}, st.Action)
			assert.Equal(t, []string{bucketArn(stage, registry.Media) + "/listings/*"}, st.Resource)
			assert.Equal(t, map[string]map[string]string{"StringEquals": {"AWS:SourceArn": distributionArn}}, st.Condition,
				"without the condition every distribution of every account could read")
		})
	}
}

// TestUploadsBucketPolicy checks that the uploads bucket's policy grants
// nothing: functions reach it through their roles, browsers through
// presigned POSTs signed by one.
func TestUploadsBucketPolicy(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	p := m.one(t, typeBucketPolicy, "uploads-policy")
	assert.Equal(t, "mh-prod-uploads-"+testAccount, p.in("bucket"))
	var doc policyDocument
	decodeJSON(t, p.in("policy"), &doc)
	assert.Empty(t, assertDeniesInsecureTransport(t, doc, bucketArn(stageProd, registry.Uploads)))
}

// assertDeniesInsecureTransport checks a bucket policy's TLS-only statement
// and returns its Allow statements.
func assertDeniesInsecureTransport(t *testing.T, doc policyDocument, bucket string) []policyStatement {
	t.Helper()
	var allows []policyStatement
	denies := 0
	for _, st := range doc.Statement {
		switch st.Effect {
		case "Allow":
			assert.NotContains(t, st.Principal, "AWS", "nothing is granted to AWS principals here")
			allows = append(allows, st)
		case "Deny":
			denies++
			assert.Equal(t, map[string]string{"AWS": "*"}, st.Principal)
			assert.Equal(t, []string{"s3:*"}, st.Action)
			assert.ElementsMatch(t, []string{bucket, bucket + "/*"}, st.Resource)
			assert.Equal(t, map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}}, st.Condition)
		default:
			t.Errorf("unexpected effect %q", st.Effect)
		}
	}
	assert.Equal(t, 1, denies, "one TLS-only statement")
	return allows
}

// TestMediaBaseURLIsTheDistribution checks that what functions build image
// URLs from is the distribution's HTTPS address, not the bucket's.
func TestMediaBaseURLIsTheDistribution(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	for _, fn := range m.ofType(typeFunction) {
		env, ok := fn.in("environment").(map[string]any)
		require.True(t, ok)
		vars, ok := env["variables"].(map[string]any)
		require.True(t, ok)
		assert.Equal(t, "https://"+testCDNDomain, vars["MEDIA_BASE_URL"], fn.Name)
		assert.True(t, fn.hasDep(typeDistribution, "media-cdn"), fn.Name)
	}
}

// TestBucketAccessFromAttackerSide reads every deployed role policy the way
// an attacker holding that role would: which keys of which bucket can it
// touch, and how.
func TestBucketAccessFromAttackerSide(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	uploads, media := bucketArn(stageProd, registry.Uploads), bucketArn(stageProd, registry.Media)
	readers := map[string]bool{}          // functions that can read uploads
	mediaWriters := map[string][]string{} // function → write actions on media
	for _, spec := range registry.All() {
		var doc policyDocument
		decodeJSON(t, m.one(t, typeRolePolicy, spec.Name+"-policy").in("policy"), &doc)
		allowed := map[string]bool{} // the registry's prefixes for this function
		for _, a := range spec.Buckets {
			allowed[bucketArn(stageProd, a.Bucket)+"/"+a.Prefix+"*"] = true
		}
		for _, st := range doc.Statement {
			s3 := slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(strings.ToLower(a), "s3:") })
			for _, r := range st.Resource {
				if !strings.HasPrefix(r, "arn:aws:s3:") {
					continue
				}
				require.True(t, s3, "%s: an S3 resource in a non-S3 statement", spec.Name)
				assert.True(t, allowed[r], "%s reaches %s, outside its registry prefixes", spec.Name, r)
				assert.Contains(t, r, "/", "%s: bucket-level resource %s", spec.Name, r)
				for _, a := range st.Action {
					assert.NotContains(t, a, "*", "%s: wildcard %s", spec.Name, a)
					assert.Contains(t, []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, a, spec.Name)
					if strings.HasPrefix(r, uploads+"/") && a == "s3:GetObject" {
						readers[spec.Name] = true
					}
					if strings.HasPrefix(r, media+"/") && a != "s3:GetObject" {
						mediaWriters[spec.Name] = append(mediaWriters[spec.Name], a)
					}
				}
			}
			if !s3 {
				continue
			}
			require.NotEmpty(t, st.Resource, "%s: an S3 statement without resources", spec.Name)
		}
		if len(spec.Buckets) == 0 {
			assert.NotContains(t, string(mustMarshal(t, doc)), "s3:", "%s lists no buckets, so no S3 statement", spec.Name)
		}
	}
	assert.Equal(t, map[string]bool{"image-worker": true}, readers, "only the image worker reads uploads")
	assert.Equal(t, map[string][]string{
		"image-worker":         {"s3:PutObject"},
		"listing-image-delete": {"s3:DeleteObject"},
	}, mediaWriters, "nothing else writes to media")
}

// mustMarshal renders a policy document as its JSON.
func mustMarshal(t testing.TB, doc policyDocument) string {
	t.Helper()
	s, err := marshalPolicy(doc)
	require.NoError(t, err)
	return s
}

func TestValidateBucketAccess(t *testing.T) {
	read := []registry.S3Action{registry.GetObject}
	tests := []struct {
		name    string
		access  registry.BucketAccess
		wantErr string
	}{
		{"prefix of the uploads bucket", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads/", Actions: read}, ""},
		{"nested prefix", registry.BucketAccess{Bucket: registry.Media, Prefix: "listings/thumbs/", Actions: []registry.S3Action{registry.PutObject, registry.DeleteObject}}, ""},
		{"unknown bucket", registry.BucketAccess{Bucket: "backups", Prefix: "a/", Actions: read}, `unknown bucket "backups"`},
		{"whole bucket", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "", Actions: read}, "must be a folder"},
		{"not a folder", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads", Actions: read}, "must be a folder"},
		{"leading slash", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "/uploads/", Actions: read}, "must be a folder"},
		{"wildcard prefix", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "*/", Actions: read}, "without wildcards"},
		{"no actions", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads/"}, "lists no actions"},
		{"every action", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads/", Actions: []registry.S3Action{"s3:*"}}, `"s3:*" is not one of`},
		{"bucket-level action", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads/", Actions: []registry.S3Action{"s3:ListBucket"}}, `"s3:ListBucket"`},
		{"action prefix", registry.BucketAccess{Bucket: registry.Uploads, Prefix: "uploads/", Actions: []registry.S3Action{"s3:Get*"}}, `"s3:Get*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := registry.Function{Name: "fn", Timeout: 10 * time.Second, Buckets: []registry.BucketAccess{tt.access}}
			err := validateSpec(stackConfig{Stage: stageStaging}, spec)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "function fn")
		})
	}
}

func TestBucketNames(t *testing.T) {
	cfg := stackConfig{Stage: stageProd}
	assert.Equal(t, "mh-prod-uploads-"+testAccount, bucketName(cfg, registry.Uploads, testAccount))
	assert.Equal(t, "mh-prod-media-"+testAccount, bucketName(cfg, registry.Media, testAccount))
	assert.NoError(t, validateBucketNames(cfg, testAccount))

	long := stackConfig{Stage: strings.Repeat("s", 40)}
	err := validateBucketNames(long, testAccount)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the limit is 63")

	_, err = validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		_, err := newMedia(ctx, long, testAccount)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the limit is 63")
}

// TestMediaBucketRoles checks the lookup the functions' policies and the
// notifications rely on.
func TestMediaBucketRoles(t *testing.T) {
	var store *media
	_, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
		var err error
		store, err = newMedia(ctx, stackConfig{Stage: stageStaging}, testAccount)
		return err
	})
	require.NoError(t, err)
	assert.Same(t, store.Uploads, store.bucket(registry.Uploads))
	assert.Same(t, store.Media, store.bucket(registry.Media))
	assert.Nil(t, store.bucket("backups"))
}
