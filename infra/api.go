package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// stageName is the HTTP API's only stage. "$default" serves at the root of the
// endpoint, so URLs carry no stage prefix and match the dev server's.
const stageName = "$default"

// accessLogFormat is one JSON object per request. HTTP API access logs can
// only use $context variables, not request headers, so a client-supplied
// X-Correlation-Id cannot be logged here: correlationId is the API Gateway
// request id, which is the function's correlation id whenever the client sent
// none, and lambdaRequestId joins the line to the function's own log lines,
// which always carry the correlation id in use.
func accessLogFormat() (string, error) {
	b, err := json.Marshal(map[string]string{
		"requestId":          "$context.requestId",
		"correlationId":      "$context.requestId",
		"lambdaRequestId":    "$context.integration.requestId",
		"ip":                 "$context.identity.sourceIp",
		"userAgent":          "$context.identity.userAgent",
		"requestTime":        "$context.requestTime",
		"httpMethod":         "$context.httpMethod",
		"path":               "$context.path",
		"routeKey":           "$context.routeKey",
		"status":             "$context.status",
		"protocol":           "$context.protocol",
		"responseLength":     "$context.responseLength",
		"responseLatency":    "$context.responseLatency",
		"integrationLatency": "$context.integrationLatency",
		"integrationStatus":  "$context.integrationStatus",
		"integrationError":   "$context.integrationErrorMessage",
		"authorizerError":    "$context.authorizer.error",
	})
	return string(b), err
}

// CORS settings: the headers clients send (auth, idempotency, optimistic
// locking, correlation) and the ones browsers must be allowed to read.
var (
	corsAllowHeaders  = []string{"authorization", "content-type", "idempotency-key", "if-match", "x-correlation-id"}
	corsExposeHeaders = []string{"etag", "location", "x-correlation-id"}
	corsMethods       = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// corsMaxAge lets browsers cache a preflight for an hour.
const corsMaxAge = 3600

// identitySource is where the JWT authorizer finds the access token; it
// strips the "Bearer " prefix itself.
const identitySource = "$request.header.Authorization"

// httpAPI is the component that owns the public HTTP entry point: the API,
// its stage and access log group, the JWT authorizer, and one integration,
// route and invoke permission per HTTP function.
type httpAPI struct {
	pulumi.ResourceState

	API        *apigatewayv2.Api
	Stage      *apigatewayv2.Stage
	AccessLog  *cloudwatch.LogGroup
	Authorizer *apigatewayv2.Authorizer
	// Issuer is the API's base URL, the iss of every access token. API
	// Gateway reads <Issuer>/.well-known/openid-configuration (served by
	// the openid-configuration function) to find the keys.
	Issuer pulumi.StringOutput
}

// newHTTPAPI creates the API with its stage, access log and JWT authorizer,
// without routes: the functions need the API's URL as their issuer, so they
// are created after it and routed by addRoutes.
func newHTTPAPI(ctx *pulumi.Context, cfg stackConfig) (*httpAPI, error) {
	a := &httpAPI{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Api", "api", a); err != nil {
		return nil, err
	}
	child := pulumi.Parent(a)

	args := &apigatewayv2.ApiArgs{
		Name:         pulumi.String(cfg.name("api")),
		ProtocolType: pulumi.String("HTTP"),
		Description:  pulumi.String("Mountain Highway public API (" + cfg.Stage + ")"),
	}
	if len(cfg.CORSOrigins) > 0 {
		args.CorsConfiguration = apigatewayv2.ApiCorsConfigurationArgs{
			AllowOrigins:  pulumi.ToStringArray(cfg.CORSOrigins),
			AllowMethods:  pulumi.ToStringArray(corsMethods),
			AllowHeaders:  pulumi.ToStringArray(corsAllowHeaders),
			ExposeHeaders: pulumi.ToStringArray(corsExposeHeaders),
			MaxAge:        pulumi.Int(corsMaxAge),
			// Tokens travel in the Authorization header, not cookies.
			AllowCredentials: pulumi.Bool(false),
		}
	}
	api, err := apigatewayv2.NewApi(ctx, "api", args, child)
	if err != nil {
		return nil, err
	}
	a.API = api
	// The "$default" stage serves at the root, so the endpoint is the base
	// URL with no stage prefix.
	a.Issuer = api.ApiEndpoint

	// Only signature, iss, aud and exp are checked here, with no scopes: the
	// wrapper verifies the token again and enforces the registry's role, so
	// a route wired to the wrong authorization still cannot be misused.
	a.Authorizer, err = apigatewayv2.NewAuthorizer(ctx, "api-authorizer", &apigatewayv2.AuthorizerArgs{
		ApiId:           api.ID(),
		Name:            pulumi.String(cfg.name("access-tokens")),
		AuthorizerType:  pulumi.String("JWT"),
		IdentitySources: pulumi.StringArray{pulumi.String(identitySource)},
		JwtConfiguration: apigatewayv2.AuthorizerJwtConfigurationArgs{
			Issuer:    a.Issuer,
			Audiences: pulumi.StringArray{pulumi.String(cfg.Audience)},
		},
	}, child)
	if err != nil {
		return nil, err
	}

	a.AccessLog, err = cloudwatch.NewLogGroup(ctx, "api-access-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/apigateway/" + cfg.name("api")),
		RetentionInDays: pulumi.Int(cfg.LogRetentionDays),
	}, child)
	if err != nil {
		return nil, err
	}

	logFormat, err := accessLogFormat()
	if err != nil {
		return nil, err
	}
	a.Stage, err = apigatewayv2.NewStage(ctx, "api-stage", &apigatewayv2.StageArgs{
		ApiId:      api.ID(),
		Name:       pulumi.String(stageName),
		AutoDeploy: pulumi.Bool(true),
		AccessLogSettings: apigatewayv2.StageAccessLogSettingsArgs{
			DestinationArn: a.AccessLog.Arn,
			Format:         pulumi.String(logFormat),
		},
		DefaultRouteSettings: apigatewayv2.StageDefaultRouteSettingsArgs{
			ThrottlingRateLimit:  pulumi.Float64(cfg.ThrottleRate),
			ThrottlingBurstLimit: pulumi.Int(cfg.ThrottleBurst),
			// Per-route metrics (ApiId+Stage+Route) exist only with this on.
			DetailedMetricsEnabled: pulumi.Bool(true),
		},
	}, child)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// addRoutes exposes every function that has an HTTP route, behind the JWT
// authorizer unless its registry entry is public.
func (a *httpAPI) addRoutes(ctx *pulumi.Context, fns *functions) error {
	child := pulumi.Parent(a)
	for _, fn := range fns.All {
		if fn.Spec.HTTP == nil {
			continue
		}
		if err := a.newRoute(ctx, child, fn); err != nil {
			return fmt.Errorf("route of %s: %w", fn.Spec.Name, err)
		}
	}
	return ctx.RegisterResourceOutputs(a, pulumi.Map{
		"apiId":  a.API.ID(),
		"apiUrl": a.API.ApiEndpoint,
		"issuer": a.Issuer,
	})
}

// newRoute wires one HTTP function: integration, route, and the permission
// that lets only this API, on this route, invoke it.
func (a *httpAPI) newRoute(ctx *pulumi.Context, child pulumi.ResourceOption, fn *deployedFunction) error {
	api, route := a.API, fn.Spec.HTTP
	authorizationType, err := routeAuthorization(fn.Spec.Auth)
	if err != nil {
		return err
	}
	integration, err := apigatewayv2.NewIntegration(ctx, fn.Spec.Name+"-integration", &apigatewayv2.IntegrationArgs{
		ApiId:                api.ID(),
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationMethod:    pulumi.String("POST"),
		IntegrationUri:       fn.Function.InvokeArn,
		PayloadFormatVersion: pulumi.String("2.0"),
	}, child)
	if err != nil {
		return err
	}

	args := &apigatewayv2.RouteArgs{
		ApiId:             api.ID(),
		RouteKey:          pulumi.String(route.Key()),
		Target:            pulumi.Sprintf("integrations/%s", integration.ID()),
		AuthorizationType: pulumi.String(authorizationType),
	}
	if authorizationType == authJWT {
		args.AuthorizerId = a.Authorizer.ID()
	}
	_, err = apigatewayv2.NewRoute(ctx, fn.Spec.Name+"-route", args, child)
	if err != nil {
		return err
	}

	_, err = lambda.NewPermission(ctx, fn.Spec.Name+"-invoke", &lambda.PermissionArgs{
		Function:  fn.Function.Name,
		Action:    pulumi.String("lambda:InvokeFunction"),
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/*/%s", api.ExecutionArn, invokeArnSuffix(*route)),
	}, child)
	return err
}

// invokeArnSuffix is the METHOD/path part of the ARN API Gateway presents when
// it invokes a route. The ARN carries the request's real path, so each path
// parameter ({id}, or greedy {proxy+}) becomes a wildcard.
func invokeArnSuffix(r registry.Route) string {
	segs := strings.Split(r.Path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "*"
		}
	}
	return r.Method + strings.Join(segs, "/")
}

// Route authorization types.
const (
	authNone = "NONE" // anyone may call
	authJWT  = "JWT"  // only with an access token the authorizer accepts
)

// routeAuthorization maps a registry auth level to the route's authorization
// type. Every level above public needs a valid token at the gateway; which
// role it must carry is the wrapper's check, the gateway has no notion of it.
// An unknown level is an error, never a default, so a typo in the registry
// cannot deploy a route open to anyone.
func routeAuthorization(a registry.Auth) (string, error) {
	switch a {
	case registry.Public:
		return authNone, nil
	case registry.User, registry.Seller, registry.Admin:
		return authJWT, nil
	default:
		return "", fmt.Errorf("unknown auth %q", a)
	}
}
