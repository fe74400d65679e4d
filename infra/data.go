package main

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/mountainhighway/marketplace/internal/table"
)

// dataStore is the component that owns the system's state: the single table.
type dataStore struct {
	pulumi.ResourceState

	Table *dynamodb.Table
}

// newDataStore creates the table exactly as internal/table describes it, so the
// local stacks and AWS agree on keys, indexes and TTL.
func newDataStore(ctx *pulumi.Context, cfg stackConfig) (*dataStore, error) {
	d := &dataStore{}
	if err := ctx.RegisterComponentResource("mountain-highway:infra:Data", "data", d); err != nil {
		return nil, err
	}

	// Every key attribute is declared once, whether it keys the table or an
	// index; DynamoDB rejects duplicate and unused attribute definitions.
	var attrs dynamodb.TableAttributeArray
	seen := map[string]bool{}
	addAttr := func(name string) {
		if !seen[name] {
			seen[name] = true
			attrs = append(attrs, dynamodb.TableAttributeArgs{Name: pulumi.String(name), Type: pulumi.String("S")})
		}
	}
	addAttr(table.PK)
	addAttr(table.SK)
	var gsis dynamodb.TableGlobalSecondaryIndexArray
	for _, ix := range table.Indexes() {
		addAttr(ix.PK)
		addAttr(ix.SK)
		gsis = append(gsis, dynamodb.TableGlobalSecondaryIndexArgs{
			Name:           pulumi.String(ix.Name),
			HashKey:        pulumi.String(ix.PK),
			RangeKey:       pulumi.String(ix.SK),
			ProjectionType: pulumi.String("ALL"),
		})
	}

	opts := []pulumi.ResourceOption{pulumi.Parent(d)}
	if cfg.isProd() {
		// Two locks on prod data: Pulumi refuses to delete or replace a
		// protected resource, and AWS refuses DeleteTable from anyone.
		opts = append(opts, pulumi.Protect(true))
	}
	tbl, err := dynamodb.NewTable(ctx, "table", &dynamodb.TableArgs{
		Name:                   pulumi.String(cfg.name("table")),
		BillingMode:            pulumi.String("PAY_PER_REQUEST"),
		HashKey:                pulumi.String(table.PK),
		RangeKey:               pulumi.String(table.SK),
		Attributes:             attrs,
		GlobalSecondaryIndexes: gsis,
		Ttl: dynamodb.TableTtlArgs{
			AttributeName: pulumi.String(table.TTL),
			Enabled:       pulumi.Bool(true),
		},
		// PITR in staging too: restores get rehearsed where mistakes are cheap.
		PointInTimeRecovery: dynamodb.TablePointInTimeRecoveryArgs{Enabled: pulumi.Bool(true)},
		// Enabled without a key ARN means the AWS-managed aws/dynamodb KMS key,
		// whose use is visible in CloudTrail, instead of the AWS-owned key.
		ServerSideEncryption:      dynamodb.TableServerSideEncryptionArgs{Enabled: pulumi.Bool(true)},
		DeletionProtectionEnabled: pulumi.Bool(cfg.isProd()),
	}, opts...)
	if err != nil {
		return nil, err
	}
	d.Table = tbl

	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"tableName": tbl.Name,
		"tableArn":  tbl.Arn,
	}); err != nil {
		return nil, err
	}
	return d, nil
}
