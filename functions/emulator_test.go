package functions_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/emulators"
	"github.com/mountainhighway/marketplace/internal/lambdabuild"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/password"
	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/s3media/s3mediatest"
	"github.com/mountainhighway/marketplace/internal/telemetry"
	"github.com/mountainhighway/marketplace/internal/token"
)

// RIEEnv names the variable mh stack sets to the aws-lambda-rie binary.
const RIEEnv = "MH_TEST_RIE"

// sampleListing is the listing events/apigw-listing-get-found.json asks for.
const sampleListing = "lst_01JF0000000000000000000001"

// expect is what each sample event must produce from the real binary.
var expect = map[string]struct {
	status      int
	contentType string
	bodyHas     []string
}{
	"apigw-health-ok.json":                    {200, "application/json", []string{`"status":"ok"`, `"stage":"test"`}},
	"apigw-health-ready-ok.json":              {200, "application/json", []string{`"dynamodb":{"status":"ok"`}},
	"apigw-listing-get-found.json":            {200, "application/json", []string{`"id":"` + sampleListing + `"`, `"amount":2500`, `"stats":{`}},
	"apigw-listing-get-unknown.json":          {404, "application/problem+json", []string{`"status":404`, `no listing with id`}},
	"apigw-listing-list-category.json":        {200, "application/json", []string{`"category":"books"`, `"nextCursor"`}},
	"apigw-listing-list-bad-limit.json":       {400, "application/problem+json", []string{`"query.limit"`, `"query.colour"`}},
	"apigw-listing-list-tampered-cursor.json": {400, "application/problem+json", []string{`"query.cursor"`}},

	"apigw-auth-register-created.json":            {201, "application/json", []string{`"email":"new.buyer@example.com"`, `"accessToken"`, `"refreshToken":"rt_`}},
	"apigw-auth-register-weak-password.json":      {400, "application/problem+json", []string{`"field":"password"`}},
	"apigw-auth-login-ok.json":                    {200, "application/json", []string{`"accessToken"`, `"tokenType":"Bearer"`}},
	"apigw-auth-login-wrong-password.json":        {401, "application/problem+json", []string{`the email or password is incorrect`}},
	"apigw-auth-refresh-unknown.json":             {401, "application/problem+json", []string{`sign in again`}},
	"apigw-auth-refresh-malformed-body.json":      {400, "application/problem+json", []string{`"field":"refreshToken"`}},
	"apigw-auth-logout-ok.json":                   {204, "", nil},
	"apigw-me-get-ok.json":                        {200, "application/json", []string{`"email":"buyer@example.com"`}},
	"apigw-me-get-no-token.json":                  {401, "application/problem+json", []string{`Authorization: Bearer`}},
	"apigw-me-update-ok.json":                     {200, "application/json", []string{`"name":"Renamed Buyer"`}},
	"apigw-me-update-mass-assignment.json":        {400, "application/problem+json", []string{`"field":"roles"`}},
	"apigw-me-seller-ok.json":                     {200, "application/json", []string{`"seller"`}},
	"apigw-admin-user-roles-ok.json":              {200, "application/json", []string{`"roles":["buyer","seller"]`}},
	"apigw-admin-user-roles-buyer-forbidden.json": {403, "application/problem+json", []string{`admin`}},
	"apigw-listing-create-created.json":           {201, "application/json", []string{`"status":"draft"`, `"title":"Oak chair"`}},
	"apigw-listing-create-buyer-forbidden.json":   {403, "application/problem+json", []string{`seller`}},
	"apigw-listing-update-stale.json":             {412, "application/problem+json", []string{`version 1`}},
	"apigw-listing-update-no-if-match.json":       {428, "application/problem+json", []string{`If-Match`}},
	"apigw-listing-publish-unknown.json":          {404, "application/problem+json", []string{`no listing`}},
	"apigw-listing-archive-ok.json":               {200, "application/json", []string{`"status":"archived"`}},
	"apigw-favorite-add-ok.json":                  {204, "", nil},
	"apigw-favorite-add-unknown.json":             {404, "application/problem+json", []string{`no listing`}},
	"apigw-favorite-remove-ok.json":               {204, "", nil},
	"apigw-favorite-list-ok.json":                 {200, "application/json", []string{`"items":[`}},
	"apigw-listing-image-upload-form.json":        {201, "application/json", []string{`"imageId":"img_`, `"url":"http`, `"policy"`}},
	"apigw-listing-image-upload-bad-type.json":    {400, "application/problem+json", []string{`"field":"contentType"`}},
	"apigw-listing-image-delete-ok.json":          {204, "", nil},
	"apigw-jwks-ok.json":                          {200, "application/json", []string{`"keys"`, `"kty":"EC"`}},
	"apigw-openid-configuration-ok.json":          {200, "application/json", []string{`"jwks_uri":"https://api.example.test/.well-known/jwks.json"`}},
}

const (
	sampleIssuer   = "https://api.example.test"
	sampleAudience = "mountain-highway"
)

func rieBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv(RIEEnv)
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: run the tests through `make test` (mh stack)", RIEEnv)
		}
		t.Skipf("%s is not set: run `make test`", RIEEnv)
	}
	return p
}

// TestSampleEventsAgainstRealBinaries builds every function for this
// machine, runs it under the Lambda Runtime Interface Emulator exactly as
// Lambda would (bootstrap, Runtime API, API Gateway v2 payloads), and
// replays every sample event in events/.
func TestSampleEventsAgainstRealBinaries(t *testing.T) {
	rie := rieBinary(t)
	endpoint := dynamotest.Endpoint(t)
	db, tableName := dynamotest.NewTable(t)
	signing, sellerID, placeholders := seedIdentity(t, db, tableName)
	seedSample(t, dynamo.NewListings(db, tableName), sellerID)

	samples, err := filepath.Glob("../events/apigw-*.json")
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	for _, p := range samples {
		assert.Containsf(t, expect, filepath.Base(p), "events/%s has no expectation here", filepath.Base(p))
	}
	s3 := s3mediatest.Endpoint(t)
	_, bucket := s3mediatest.NewBucket(t)

	bin := t.TempDir()
	ctx := context.Background()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, fn := range registry.HTTP() {
		t.Run(fn.Name, func(t *testing.T) {
			bootstrap, err := lambdabuild.Bootstrap(ctx, "..", fn.Name, bin, lambdabuild.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH})
			require.NoError(t, err)
			env := append([]string{}, // never the host's environment: no real credentials reach the function
				"AWS_LAMBDA_FUNCTION_NAME=mh-test-"+fn.Name,
				"AWS_LAMBDA_FUNCTION_TIMEOUT=10",
				"STAGE=test", "RELEASE=test", "TABLE_NAME="+tableName,
				"DYNAMODB_ENDPOINT="+endpoint, "CURSOR_KEY="+key, "AWS_REGION="+s3mediatest.Region,
				"ISSUER="+sampleIssuer, "AUDIENCE="+sampleAudience, "SIGNING_KEYS="+signing,
				"S3_ENDPOINT="+s3.Endpoint, "S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey,
				"UPLOADS_BUCKET="+bucket, "MEDIA_BUCKET="+bucket, "MEDIA_BASE_URL=https://media.example.test",
			)
			r, err := emulators.StartRIE(ctx, rie, bootstrap, env)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, r.Stop()) })

			for _, p := range samples {
				name := filepath.Base(p)
				if owner(name) != fn.Name {
					continue
				}
				t.Run(name, func(t *testing.T) {
					payload, err := os.ReadFile(p)
					require.NoError(t, err)
					payload = []byte(placeholders.Replace(string(payload)))
					var req events.APIGatewayV2HTTPRequest
					require.NoError(t, json.Unmarshal(payload, &req), "sample must be a valid API Gateway v2 payload")

					ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
					defer cancel()
					out, err := r.Invoke(ictx, payload)
					require.NoError(t, err, string(r.Output()))
					var resp events.APIGatewayV2HTTPResponse
					require.NoError(t, json.Unmarshal(out, &resp), string(out))

					want := expect[name]
					assert.Equal(t, want.status, resp.StatusCode, resp.Body)
					if want.contentType != "" {
						assert.Equal(t, want.contentType, resp.Headers["Content-Type"])
					}
					for _, s := range want.bodyHas {
						assert.Contains(t, resp.Body, s)
					}
					corr := resp.Headers["X-Correlation-Id"]
					if h := req.Headers["x-correlation-id"]; h != "" {
						assert.Equal(t, h, corr, "a caller's correlation id is continued")
					} else {
						assert.Equal(t, req.RequestContext.RequestID, corr, "API Gateway's request id becomes the correlation id")
					}
					eventuallyLogs(t, r, `"correlationId":"`+corr+`"`, "the function logs the correlation id")
				})
			}
			eventuallyLogs(t, r, `"function":"`+fn.Name+`"`, "log lines name the function")
			eventuallyLogs(t, r, `"Namespace":"MountainHighway"`, "EMF metrics reach stdout")
		})
	}
}

// queueExpect is how many messages of each queue sample must be reported
// as failed (to be retried).
var queueExpect = map[string]int{
	"sqs-images-upload-already-processed.json": 0, // idempotent: nothing left to do
	"sqs-images-s3-test-event.json":            0, // S3's test event is ignored
}

// TestQueueSamplesAgainstRealBinaries runs every worker under the emulator
// with its SQS samples, as the Lambda event source mapping would.
func TestQueueSamplesAgainstRealBinaries(t *testing.T) {
	rie := rieBinary(t)
	endpoint := dynamotest.Endpoint(t)
	_, tableName := dynamotest.NewTable(t)
	s3 := s3mediatest.Endpoint(t)
	_, bucket := s3mediatest.NewBucket(t)
	ctx := context.Background()
	bin := t.TempDir()
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

	samples, err := filepath.Glob("../events/sqs-*.json")
	require.NoError(t, err)
	for _, p := range samples {
		assert.Containsf(t, queueExpect, filepath.Base(p), "events/%s has no expectation here", filepath.Base(p))
	}
	for _, fn := range registry.All() {
		if fn.Queue == nil {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			bootstrap, err := lambdabuild.Bootstrap(ctx, "..", fn.Name, bin, lambdabuild.Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH})
			require.NoError(t, err)
			r, err := emulators.StartRIE(ctx, rie, bootstrap, []string{
				"AWS_LAMBDA_FUNCTION_NAME=mh-test-" + fn.Name, "AWS_LAMBDA_FUNCTION_TIMEOUT=60",
				"STAGE=test", "TABLE_NAME=" + tableName, "DYNAMODB_ENDPOINT=" + endpoint, "CURSOR_KEY=" + key,
				"AWS_REGION=" + s3mediatest.Region,
				"S3_ENDPOINT=" + s3.Endpoint, "S3_ACCESS_KEY=" + s3.AccessKey, "S3_SECRET_KEY=" + s3.SecretKey,
				"UPLOADS_BUCKET=" + bucket, "MEDIA_BUCKET=" + bucket, "MEDIA_BASE_URL=https://media.example.test",
			})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, r.Stop()) })
			for _, p := range samples {
				name := filepath.Base(p)
				if !strings.HasPrefix(name, "sqs-"+fn.Queue.Name+"-") {
					continue
				}
				t.Run(name, func(t *testing.T) {
					payload, err := os.ReadFile(p)
					require.NoError(t, err)
					var ev events.SQSEvent
					require.NoError(t, json.Unmarshal(payload, &ev), "sample must be a valid SQS event")
					ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					out, err := r.Invoke(ictx, payload)
					require.NoError(t, err, string(r.Output()))
					var resp events.SQSEventResponse
					require.NoError(t, json.Unmarshal(out, &resp), string(out))
					assert.Len(t, resp.BatchItemFailures, queueExpect[name], string(r.Output()))
				})
			}
			eventuallyLogs(t, r, `"function":"`+fn.Name+`"`, "log lines name the function")
		})
	}
}

// eventuallyLogs waits for want in the function's output: the emulator
// relays stdout through a pipe, which may trail the invocation's response.
func eventuallyLogs(t *testing.T, r *emulators.RIE, want, msg string) {
	t.Helper()
	ok := assert.Eventually(t, func() bool { return strings.Contains(string(r.Output()), want) }, 5*time.Second, 10*time.Millisecond, msg)
	if !ok {
		t.Logf("output:\n%s", r.Output())
	}
}

// owner returns the registry function a sample file belongs to.
func owner(file string) string {
	best := ""
	for _, fn := range registry.All() {
		if strings.HasPrefix(file, "apigw-"+fn.Name+"-") && len(fn.Name) > len(best) {
			best = fn.Name
		}
	}
	return best
}

// seedIdentity publishes a signing key's public half in the table, seeds
// the accounts the samples use, and returns the private key set (as the
// SIGNING_KEYS variable) and the replacer that fills the samples'
// placeholders with real tokens and ids.
func seedIdentity(t *testing.T, db *dynamodb.Client, tableName string) (string, string, *strings.Replacer) {
	t.Helper()
	ctx := context.Background()
	k, err := token.NewKey(time.Now())
	require.NoError(t, err)
	ks := token.KeySet{Keys: []token.Key{k}}
	jwks, err := ks.JWKS()
	require.NoError(t, err)
	require.NoError(t, dynamo.NewKeys(db, tableName).Put(ctx, jwks))
	raw, err := ks.Marshal()
	require.NoError(t, err)
	iss, err := token.NewIssuer(ks, sampleIssuer, sampleAudience, 15*time.Minute, time.Now)
	require.NoError(t, err)

	users := dynamo.NewUsers(db, tableName)
	svc := account.NewService(account.Deps{
		Store: users, Sessions: dynamo.NewSessions(db, tableName), Hasher: password.Argon2id{}, Issuer: iss,
		Guard: dynamo.NewLoginGuard(db, tableName, dynamo.DefaultGuardPolicy()), Events: telemetry.Events{},
	})
	buyer, err := svc.Register(ctx, account.Registration{Email: "buyer@example.com", Password: "a sample passphrase for shopping", Name: "Sample Buyer"})
	require.NoError(t, err)
	admin, err := svc.Register(ctx, account.Registration{Email: "root@example.com", Password: "a sample passphrase for admins", Name: "Sample Admin"})
	require.NoError(t, err)
	_, err = users.SetRoles(ctx, admin.User.ID, []auth.Role{auth.Admin, auth.Buyer}, time.Now())
	require.NoError(t, err)
	adminToken, _, err := iss.Issue(admin.User.ID, []auth.Role{auth.Admin, auth.Buyer})
	require.NoError(t, err)
	seller, err := svc.Register(ctx, account.Registration{Email: "maker@example.com", Password: "a sample passphrase for selling", Name: "Sample Seller"})
	require.NoError(t, err)
	_, err = users.SetRoles(ctx, seller.User.ID, []auth.Role{auth.Buyer, auth.Seller}, time.Now())
	require.NoError(t, err)
	sellerToken, _, err := iss.Issue(seller.User.ID, []auth.Role{auth.Buyer, auth.Seller})
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(raw), seller.User.ID, strings.NewReplacer(
		"${BUYER_TOKEN}", buyer.AccessToken,
		"${ADMIN_TOKEN}", adminToken,
		"${SELLER_TOKEN}", sellerToken,
		"${BUYER_ID}", buyer.User.ID,
	)
}

func seedSample(t *testing.T, s *dynamo.Listings, sellerID string) {
	t.Helper()
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var ls []listing.Listing
	for i, id := range []string{sampleListing, "lst_01JF0000000000000000000002", listing.NewID(at.Add(-2 * time.Hour))} {
		pub := at.Add(-time.Duration(i) * time.Hour)
		ls = append(ls, listing.Listing{
			ID: id, SellerID: sellerID, Title: "Illustrated atlas", Description: "1960 edition",
			Category: "books", Price: listing.Money{Amount: 2500, Currency: "EUR"}, Status: listing.Published,
			Stock: 1, CreatedAt: pub, UpdatedAt: pub, PublishedAt: &pub, Version: 1,
		})
	}
	require.NoError(t, s.Put(context.Background(), ls...))
}
