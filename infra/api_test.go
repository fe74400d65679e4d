package main

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/registry"
)

func TestAPIAndStage(t *testing.T) {
	tests := []struct {
		stage       string
		rate, burst float64
	}{
		{stageStaging, 50, 100},
		{stageProd, 500, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			m := validSetup(tt.stage).mustRun(t)
			api := m.one(t, typeAPI, "api")
			assert.Equal(t, "HTTP", api.in("protocolType"))
			assert.Equal(t, "mh-"+tt.stage+"-api", api.in("name"))
			assert.Nil(t, api.in("corsConfiguration"), "no CORS unless origins are configured")

			stage := m.one(t, typeStage, "api-stage")
			assert.Equal(t, "$default", stage.in("name"))
			assert.Equal(t, true, stage.in("autoDeploy"))
			assert.Equal(t, "api-id", stage.in("apiId"))
			assert.Equal(t, map[string]any{
				"throttlingRateLimit":    tt.rate,
				"throttlingBurstLimit":   tt.burst,
				"detailedMetricsEnabled": true,
			}, stage.in("defaultRouteSettings"))

			accessLog := m.one(t, typeLogGroup, "api-access-logs")
			logs, ok := stage.in("accessLogSettings").(map[string]any)
			require.True(t, ok, "access logging configured")
			assert.Equal(t, accessLog.out("arn"), logs["destinationArn"], "access logs go to the API's own log group")
			var format map[string]string
			decodeJSON(t, logs["format"], &format)
			for _, key := range []string{"requestId", "ip", "routeKey", "status", "responseLength", "integrationLatency", "correlationId"} {
				assert.Contains(t, format, key)
			}
			assert.Equal(t, "$context.requestId", format["requestId"])
			assert.Equal(t, "$context.identity.sourceIp", format["ip"])
			assert.Equal(t, "$context.routeKey", format["routeKey"])
			assert.Equal(t, "$context.status", format["status"])
		})
	}
}

func TestCORSFromConfig(t *testing.T) {
	setup := validSetup(stageStaging).with("mountain-highway:corsOrigins", `["http://localhost:3000","https://app.example.com"]`)
	m := setup.mustRun(t)
	cors, ok := m.one(t, typeAPI, "api").in("corsConfiguration").(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []any{"http://localhost:3000", "https://app.example.com"}, cors["allowOrigins"])
	assert.Contains(t, cors["allowHeaders"], "authorization")
	assert.Contains(t, cors["allowHeaders"], "idempotency-key")
	assert.Contains(t, cors["exposeHeaders"], "x-correlation-id")
	assert.Equal(t, false, cors["allowCredentials"])
}

// TestRoutesMatchRegistry checks that every HTTP entry has exactly one route,
// integration and invoke permission, and nothing else is routed.
func TestRoutesMatchRegistry(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	specs := registry.HTTP()
	require.NotEmpty(t, specs)

	var wantKeys, gotKeys []string
	for _, spec := range specs {
		wantKeys = append(wantKeys, spec.HTTP.Key())
	}
	for _, r := range m.ofType(typeRoute) {
		key, _ := r.in("routeKey").(string)
		gotKeys = append(gotKeys, key)
	}
	assert.ElementsMatch(t, wantKeys, gotKeys, "routes one-to-one with the registry")
	assert.Len(t, m.ofType(typeIntegration), len(specs))
	assert.Len(t, m.ofType(typePermission), len(specs))

	execArn := m.one(t, typeAPI, "api").out("executionArn")
	for _, spec := range specs {
		fn := m.one(t, typeFunction, spec.Name)

		integ := m.one(t, typeIntegration, spec.Name+"-integration")
		assert.Equal(t, "api-id", integ.in("apiId"))
		assert.Equal(t, "AWS_PROXY", integ.in("integrationType"))
		assert.Equal(t, "2.0", integ.in("payloadFormatVersion"))
		assert.Equal(t, fn.out("invokeArn"), integ.in("integrationUri"), "integration targets its own function")

		route := m.one(t, typeRoute, spec.Name+"-route")
		assert.Equal(t, spec.HTTP.Key(), route.in("routeKey"))
		assert.Equal(t, "integrations/"+integ.ID, route.in("target"))

		perm := m.one(t, typePermission, spec.Name+"-invoke")
		assert.Equal(t, physical(stageStaging, spec.Name), perm.in("function"))
		assert.Equal(t, "lambda:InvokeFunction", perm.in("action"))
		assert.Equal(t, "apigateway.amazonaws.com", perm.in("principal"))
		assert.Equal(t, execArn.(string)+"/*/"+invokeArnSuffix(*spec.HTTP), perm.in("sourceArn"), "only this API, only this route")
	}
}

func TestInvokeArnSuffix(t *testing.T) {
	tests := []struct {
		route registry.Route
		want  string
	}{
		{registry.Route{Method: "GET", Path: "/v1/health"}, "GET/v1/health"},
		{registry.Route{Method: "GET", Path: "/v1/listings/{id}"}, "GET/v1/listings/*"},
		{registry.Route{Method: "DELETE", Path: "/v1/listings/{id}/images/{imageId}"}, "DELETE/v1/listings/*/images/*"},
		{registry.Route{Method: "GET", Path: "/static/{proxy+}"}, "GET/static/*"},
	}
	for _, tt := range tests {
		if got := invokeArnSuffix(tt.route); got != tt.want {
			t.Errorf("invokeArnSuffix(%q) = %q, want %q", tt.route.Key(), got, tt.want)
		}
	}
}

func TestRouteAuthorization(t *testing.T) {
	tests := []struct {
		auth    registry.Auth
		want    string
		wantErr bool
	}{
		{registry.Public, "NONE", false},
		{registry.User, "JWT", false},
		{registry.Seller, "JWT", false},
		{registry.Admin, "JWT", false},
		{"", "", true},
		{"Public", "", true},
		{"owner", "", true},
	}
	for _, tt := range tests {
		got, err := routeAuthorization(tt.auth)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("routeAuthorization(%q) = %q, %v; want %q, error %v", tt.auth, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestAuthorizer checks the JWT authorizer against what the functions
// verify: the issuer is the API's own base URL, where the
// openid-configuration function serves the discovery document, and the
// audience is the stack's.
func TestAuthorizer(t *testing.T) {
	tests := []struct {
		name, audience, want string
	}{
		{"default audience", "", "mountain-highway"},
		{"configured audience", "mh-staging-clients", "mh-staging-clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validSetup(stageStaging).with(configNamespace+":audience", tt.audience).mustRun(t)
			api := m.one(t, typeAPI, "api")
			require.Len(t, m.ofType(typeAuthorizer), 1)
			a := m.one(t, typeAuthorizer, "api-authorizer")
			assert.Equal(t, api.ID, a.in("apiId"))
			assert.Equal(t, "JWT", a.in("authorizerType"))
			assert.Equal(t, "mh-staging-access-tokens", a.in("name"))
			assert.Equal(t, []any{"$request.header.Authorization"}, a.in("identitySources"))
			assert.Equal(t, map[string]any{
				"issuer":    api.out("apiEndpoint"),
				"audiences": []any{tt.want},
			}, a.in("jwtConfiguration"))
			assert.Equal(t, apiEndpoint, api.out("apiEndpoint"))
			assert.Equal(t, "mountain-highway:infra:Api", a.Parent)

			// The discovery document API Gateway fetches must be reachable
			// without a token, at <issuer>/.well-known/openid-configuration.
			discovery, ok := registry.Lookup("openid-configuration")
			require.True(t, ok)
			assert.Equal(t, "/.well-known/openid-configuration", discovery.HTTP.Path)
			assert.Equal(t, "NONE", m.one(t, typeRoute, "openid-configuration-route").in("authorizationType"))
		})
	}
}

// TestRouteAuthorizationFollowsRegistry checks, for every HTTP entry of the
// registry, that a route above public carries the JWT authorizer and a
// public route carries none: a protected route open to anyone, or a public
// one (sign-in, the key set) demanding a token, are both outages.
func TestRouteAuthorizationFollowsRegistry(t *testing.T) {
	m := validSetup(stageProd).mustRun(t)
	authorizer := m.one(t, typeAuthorizer, "api-authorizer")
	seen := map[registry.Auth]bool{}
	for _, spec := range registry.HTTP() {
		t.Run(spec.Name, func(t *testing.T) {
			seen[spec.Auth] = true
			route := m.one(t, typeRoute, spec.Name+"-route")
			switch spec.Auth {
			case registry.Public:
				assert.Equal(t, "NONE", route.in("authorizationType"))
				assert.Nil(t, route.in("authorizerId"))
			case registry.User, registry.Seller, registry.Admin:
				assert.Equal(t, "JWT", route.in("authorizationType"))
				assert.Equal(t, authorizer.ID, route.in("authorizerId"))
				assert.True(t, route.hasDep(typeAuthorizer, "api-authorizer"))
			default:
				t.Errorf("auth %q deployed", spec.Auth)
			}
			assert.Nil(t, route.in("authorizationScopes"), "roles are the wrapper's check, not scopes")
		})
	}
	assert.True(t, seen[registry.Public] && seen[registry.User], "the registry exercises both kinds: %v", seen)
}

// TestRouteOrderHasNoCycle checks the dependency order that lets functions
// know the API's URL: the API depends on no function, the functions depend
// on the API, and the routes on the API and the function's integration.
func TestRouteOrderHasNoCycle(t *testing.T) {
	m := validSetup(stageStaging).mustRun(t)
	api := m.one(t, typeAPI, "api")
	for _, r := range api.Deps {
		assert.NotEqual(t, typeFunction, urnType(r), "the API must not depend on a function")
	}
	fn := m.one(t, typeFunction, "me-get")
	assert.True(t, fn.hasDep(typeAPI, "api"), "ISSUER comes from the API endpoint")
	route := m.one(t, typeRoute, "me-get-route")
	assert.True(t, route.hasDep(typeAPI, "api"))
	assert.True(t, route.hasDep(typeIntegration, "me-get-integration"))
	assert.True(t, m.one(t, typeIntegration, "me-get-integration").hasDep(typeFunction, "me-get"))
}

// TestUnknownAuthRefused checks that an entry with an auth level the
// program does not know stops the program before any function or route
// exists, and that a non-HTTP function gets no route whatever its level.
func TestUnknownAuthRefused(t *testing.T) {
	worker := registry.Function{Name: "worker", Timeout: time.Minute, Auth: "nonsense"}
	mine := registry.Function{Name: "me-get", HTTP: &registry.Route{Method: "GET", Path: "/v1/me"}, Auth: registry.User, Timeout: time.Second}
	typo := registry.Function{Name: "typo", HTTP: &registry.Route{Method: "GET", Path: "/v1/typo"}, Auth: "users", Timeout: time.Second}
	tests := []struct {
		name    string
		specs   []registry.Function
		wantErr string
		routes  int
	}{
		{"worker has no route", []registry.Function{worker}, "", 0},
		{"user route behind the authorizer", []registry.Function{worker, mine}, "", 1},
		{"unknown auth", []registry.Function{mine, typo}, `function typo: unknown auth "users"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := validSetup(stageStaging).run(func(ctx *pulumi.Context) error {
				_, err := deploySpecs(ctx, tt.specs)
				return err
			})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Empty(t, m.ofType(typeFunction))
			} else {
				require.NoError(t, err)
				assert.Len(t, m.ofType(typeFunction), len(tt.specs))
			}
			assert.Len(t, m.ofType(typeRoute), tt.routes)
		})
	}
}
