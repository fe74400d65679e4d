// Package dynamo implements the domain's stores on the single DynamoDB table
// defined by package table, through aws-sdk-go-v2. It also creates the table
// for local stacks and counts the calls made, so tests and benchmarks can
// check the access patterns.
package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/table"
)

// NewClient returns a DynamoDB client for region. A non-empty endpoint
// points it at a local DynamoDB (DynamoDB Local, minidyn) with static
// credentials, so nothing ever looks for real AWS credentials locally.
func NewClient(ctx context.Context, region, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	loads := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if endpoint != "" {
		loads = append(loads, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("dynamo: aws config: %w", err)
	}
	if endpoint != "" {
		optFns = append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) }}, optFns...)
	}
	return dynamodb.NewFromConfig(cfg, optFns...), nil
}

// CreateTable creates the table described by package table, on demand
// capacity, for local stacks and tests (production tables come from the
// Pulumi program, from the same description). It does not wait: DynamoDB
// Local creates tables active, and minidyn reports no status at all.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	attrs := map[string]bool{table.PK: true, table.SK: true}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(table.PK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(table.SK), KeyType: types.KeyTypeRange},
		},
	}
	for _, ix := range table.Indexes() {
		attrs[ix.PK], attrs[ix.SK] = true, true
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ix.SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for _, a := range sortedKeys(attrs) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS,
		})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("dynamo: create table %s: %w", name, err)
	}
	return nil
}
