package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/mountainhighway/marketplace/internal/registry"
	"github.com/mountainhighway/marketplace/internal/table"
)

// observability is the component that owns what on-call looks at besides the
// alarms: the overview dashboard and the saved Logs Insights queries.
type observability struct {
	pulumi.ResourceState

	Region    string
	Dashboard *cloudwatch.Dashboard
	Queries   []*cloudwatch.QueryDefinition
}

// awsRegion returns the region the aws provider deploys to (aws:region in
// the stack file). Every dashboard widget must name a region, and one naming
// the wrong region draws empty graphs instead of failing, so it is required.
func awsRegion(ctx *pulumi.Context) (string, error) {
	region, err := config.New(ctx, "aws").Try("region")
	if err != nil {
		return "", fmt.Errorf("aws:region must be set in Pulumi.%s.yaml: the dashboard names it: %w", ctx.Stack(), err)
	}
	return region, nil
}

// checkDashboard fails when the registry has outgrown one dashboard. It runs
// before any resource is registered: the body is only built once the deployed
// names are known, which would be half-way through a deployment.
func checkDashboard(specs []registry.Function) error {
	in := dashboardInput{Functions: make([]dashboardFunction, len(specs))}
	for i, spec := range specs {
		in.Functions[i].Spec = spec
	}
	for _, spec := range consumers(specs) {
		in.Queues = append(in.Queues, dashboardQueue{Name: spec.Queue.Name})
	}
	if n := len(dashboardWidgets(in)); n > maxDashboardWidgets {
		return fmt.Errorf("the overview dashboard would have %d widgets for %d functions; CloudWatch allows %d: split it", n, len(specs), maxDashboardWidgets)
	}
	return nil
}

// newObservability creates the overview dashboard and the saved queries from
// the deployed functions, so a new registry entry gets its row and is
// searched by every query without further code.
func newObservability(ctx *pulumi.Context, cfg stackConfig, region string, data *dataStore, fns *functions, api *httpAPI, work *jobs) (*observability, error) {
	o := &observability{Region: region}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Observability", "observability", o); err != nil {
		return nil, err
	}
	child := pulumi.Parent(o)

	dashboard, err := cloudwatch.NewDashboard(ctx, "overview", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(cfg.name("overview")),
		DashboardBody: overviewBody(cfg, region, data, fns, api, work),
	}, child)
	if err != nil {
		return nil, err
	}
	o.Dashboard = dashboard

	functionGroups := make([]pulumi.StringInput, 0, len(fns.All))
	for _, fn := range fns.All {
		functionGroups = append(functionGroups, fn.LogGroup.Name)
	}
	for _, q := range savedQueries() {
		var groups []pulumi.StringInput
		switch q.Sources {
		case functionLogs:
			groups = functionGroups
		case functionAndAccessLogs:
			groups = append([]pulumi.StringInput{api.AccessLog.Name}, functionGroups...)
		case accessLogOnly:
			groups = []pulumi.StringInput{api.AccessLog.Name}
		default:
			return nil, fmt.Errorf("saved query %s: unknown sources %d", q.Slug, q.Sources)
		}
		for i, part := range chunks(groups) {
			// The first part keeps the plain name, so the name the runbooks
			// give stays right when the registry outgrows one query.
			slug := q.Slug
			if i > 0 {
				slug = fmt.Sprintf("%s-%d", q.Slug, i+1)
			}
			def, err := cloudwatch.NewQueryDefinition(ctx, "query-"+slug, &cloudwatch.QueryDefinitionArgs{
				Name:          pulumi.String(queryName(cfg, slug)),
				LogGroupNames: pulumi.StringArray(part),
				QueryString:   pulumi.String(q.Query.String()),
			}, child)
			if err != nil {
				return nil, fmt.Errorf("saved query %s: %w", slug, err)
			}
			o.Queries = append(o.Queries, def)
		}
	}

	if err := ctx.RegisterResourceOutputs(o, pulumi.Map{
		"dashboardName": dashboard.DashboardName,
	}); err != nil {
		return nil, err
	}
	return o, nil
}

// queryName is the saved query's name; the slash makes the console show the
// stage's queries as one folder.
func queryName(cfg stackConfig, slug string) string { return "mh-" + cfg.Stage + "/" + slug }

// overviewBody resolves the deployed names the dashboard refers to and
// builds its body from them.
func overviewBody(cfg stackConfig, region string, data *dataStore, fns *functions, api *httpAPI, work *jobs) pulumi.StringOutput {
	values := []any{api.API.ID().ToStringOutput(), api.Stage.Name, data.Table.Name}
	for _, fn := range fns.All {
		values = append(values, fn.Function.Name, fn.LogGroup.Name)
	}
	for _, q := range work.Queues {
		values = append(values, q.Queue.Name, q.DLQ.Name)
	}
	return pulumi.All(values...).ApplyT(func(all []any) (string, error) {
		names, err := asStrings(all)
		if err != nil {
			return "", fmt.Errorf("dashboard: %w", err)
		}
		in := dashboardInput{
			Stage: cfg.Stage, Release: cfg.Release, Region: region,
			APIID: names[0], APIStage: names[1], Table: names[2],
		}
		for _, ix := range table.Indexes() {
			in.Indexes = append(in.Indexes, ix.Name)
		}
		for i, fn := range fns.All {
			in.Functions = append(in.Functions, dashboardFunction{
				Spec:     fn.Spec,
				Name:     names[3+2*i],
				LogGroup: names[4+2*i],
			})
		}
		queueNames := names[3+2*len(fns.All):]
		for i, q := range work.Queues {
			in.Queues = append(in.Queues, dashboardQueue{Name: q.Name, Queue: queueNames[2*i], DLQ: queueNames[2*i+1]})
		}
		return dashboardBody(in)
	}).(pulumi.StringOutput)
}

// asStrings converts resolved outputs that must all be strings.
func asStrings(values []any) ([]string, error) {
	out := make([]string, len(values))
	for i, v := range values {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value %d is %T, want a string", i, v)
		}
		out[i] = s
	}
	return out, nil
}

// dashboardURL is where the console shows the dashboard, for the stack output.
func dashboardURL(region string, name pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards/dashboard/%s", region, region, name)
}
