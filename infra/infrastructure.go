package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// infrastructure is every component of the stack, returned so that tests and
// later components can reach what they build on.
type infrastructure struct {
	Data          *dataStore
	Identity      *identity
	Media         *media
	Jobs          *jobs
	Functions     *functions
	API           *httpAPI
	Alerting      *alerting
	Observability *observability
}

// newInfrastructure builds the whole stack in dependency order: the table
// and the signing-key secret first, then the API (whose URL is the tokens'
// issuer), the buckets and distribution, the queues (fed by the uploads
// bucket), the functions that use all of them, the queue consumers and HTTP
// routes that trigger the functions, then the alarms, dashboard and saved
// queries that watch everything. It also exports the stack outputs.
func newInfrastructure(ctx *pulumi.Context, cfg stackConfig) (*infrastructure, error) {
	// Checked before the first resource, so a bad setting deploys nothing.
	specs := registry.All()
	region, err := awsRegion(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateSpecs(cfg, specs); err != nil {
		return nil, err
	}
	if err := validateNotifications(specs, objectNotifications); err != nil {
		return nil, err
	}
	if err := checkDashboard(specs); err != nil {
		return nil, err
	}
	account, err := awsAccount(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateBucketNames(cfg, account); err != nil {
		return nil, err
	}

	data, err := newDataStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	id, err := newIdentity(ctx, cfg)
	if err != nil {
		return nil, err
	}
	api, err := newHTTPAPI(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store, err := newMedia(ctx, cfg, account)
	if err != nil {
		return nil, err
	}
	work, err := newJobs(ctx, cfg, specs, account, store, objectNotifications)
	if err != nil {
		return nil, err
	}
	fns, err := newFunctions(ctx, cfg, specs, functionDeps{Data: data, Tokens: newTokenSettings(cfg, api, id), Media: store, Jobs: work})
	if err != nil {
		return nil, err
	}
	if err := work.addConsumers(ctx, fns); err != nil {
		return nil, err
	}
	if err := api.addRoutes(ctx, fns); err != nil {
		return nil, err
	}
	alerts, err := newAlerting(ctx, cfg, fns, api, work)
	if err != nil {
		return nil, err
	}
	obs, err := newObservability(ctx, cfg, region, data, fns, api, work)
	if err != nil {
		return nil, err
	}

	infra := &infrastructure{Data: data, Identity: id, Media: store, Jobs: work, Functions: fns, API: api, Alerting: alerts, Observability: obs}
	for name, value := range infra.outputs() {
		ctx.Export(name, value)
	}
	return infra, nil
}

// outputs are the stack outputs that CI and operators read after a deploy:
// where the API is, which table, topic, dashboard and signing-key secret,
// each registry name's deployed function name (for logs and `aws lambda
// invoke`), the buckets and the media URL, and each registry queue's URL
// and dead-letter queue URL (for `aws sqs` in the runbooks).
func (i *infrastructure) outputs() pulumi.Map {
	names := pulumi.StringMap{}
	for _, fn := range i.Functions.All {
		names[fn.Spec.Name] = fn.Function.Name
	}
	return pulumi.Map{
		"apiUrl":        i.API.API.ApiEndpoint,
		"tableName":     i.Data.Table.Name,
		"alarmTopicArn": i.Alerting.Topic.Arn,
		// Where `mh keys rotate` writes the signing keys.
		"signingKeysSecret":   i.Identity.SigningKeys.Name,
		"functionNames":       names,
		"dashboardName":       i.Observability.Dashboard.DashboardName,
		"dashboardUrl":        dashboardURL(i.Observability.Region, i.Observability.Dashboard.DashboardName),
		"uploadsBucket":       i.Media.Uploads.Bucket,
		"mediaBucket":         i.Media.Media.Bucket,
		"mediaBaseUrl":        i.Media.BaseURL,
		"queueUrls":           i.Jobs.queueURLs(),
		"deadLetterQueueUrls": i.Jobs.dlqURLs(),
	}
}
