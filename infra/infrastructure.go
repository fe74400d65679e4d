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
// alarms that watch both. It also exports the stack outputs.
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

	infra := &infrastructure{Data: data, Functions: fns, API: api, Alerting: alerts}
	for name, value := range infra.outputs() {
		ctx.Export(name, value)
	}
	return infra, nil
}

// outputs are the stack outputs that CI and operators read after a deploy:
// where the API is, which table and topic to look at, and each registry
// name's deployed function name (for logs and `aws lambda invoke`).
func (i *infrastructure) outputs() pulumi.Map {
	names := pulumi.StringMap{}
	for _, fn := range i.Functions.All {
		names[fn.Spec.Name] = fn.Function.Name
	}
	return pulumi.Map{
		"apiUrl":        i.API.API.ApiEndpoint,
		"tableName":     i.Data.Table.Name,
		"alarmTopicArn": i.Alerting.Topic.Arn,
		"functionNames": names,
	}
}
