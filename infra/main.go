// Package main is the Pulumi program of Mountain Highway: it deploys the
// table, the uploads and media buckets with the CloudFront distribution in
// front of media, one queue and dead-letter queue per registry queue, one
// Lambda function per registry entry with its role, log group and alarms,
// and the HTTP API and queue consumers that trigger them. Everything is
// derived from internal/registry and internal/table, so adding a registry
// entry (a route, a queue consumer, a bucket grant) deploys it.
//
// Resources are built by newInfrastructure, outside pulumi.Run, so that the
// tests can run the same code under pulumi.WithMocks.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(run)
}

// run reads the stack configuration and builds the stack from it.
func run(ctx *pulumi.Context) error {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return err
	}
	_, err = newInfrastructure(ctx, cfg)
	return err
}
