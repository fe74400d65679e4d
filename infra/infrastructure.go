package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// infrastructure is every component of the stack, returned so that tests and
// later components (jobs, media, dashboards) can reach what they build on.
type infrastructure struct {
	Data      *dataStore
	Functions *functions
	API       *httpAPI
	Alerting  *alerting
}

// newInfrastructure builds the whole stack in dependency order: the table
// first, the functions that use it, the API that routes to them, and the
// alarms that watch both. It also sets the stack outputs.
func newInfrastructure(ctx *pulumi.Context, cfg stackConfig) (*infrastructure, error) {
	data, err := newDataStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fns, err := newFunctions(ctx, cfg, registry.All(), data)
	if err != nil {
		return nil, err
	}
	api, err := newHTTPAPI(ctx, cfg, fns)
	if err != nil {
		return nil, err
	}
	alerts, err := newAlerting(ctx, cfg, fns, api)
	if err != nil {
		return nil, err
	}

	names := pulumi.StringMap{}
	for _, fn := range fns.All {
		names[fn.Spec.Name] = fn.Function.Name
	}
	ctx.Export("apiUrl", api.API.ApiEndpoint)
	ctx.Export("tableName", data.Table.Name)
	ctx.Export("alarmTopicArn", alerts.Topic.Arn)
	ctx.Export("functionNames", names)

	return &infrastructure{Data: data, Functions: fns, API: api, Alerting: alerts}, nil
}
