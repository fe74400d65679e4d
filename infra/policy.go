package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mountainhighway/marketplace/internal/registry"
)

// policyDocument is an IAM policy. It is built as a Go value and marshalled,
// never concatenated as text, so ARNs cannot break the JSON.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

// policyStatement is one statement of a policyDocument.
type policyStatement struct {
	Sid       string            `json:"Sid,omitempty"`
	Effect    string            `json:"Effect"`
	Principal map[string]string `json:"Principal,omitempty"`
	Action    []string          `json:"Action"`
	Resource  []string          `json:"Resource,omitempty"`
	// Condition maps an operator (ArnEquals, StringEquals, Bool) to the
	// context keys it tests.
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// policyVersion is the only current IAM policy language version.
const policyVersion = "2012-10-17"

// lambdaAssumeRolePolicy lets the Lambda service, and nothing else, assume a
// function's role.
func lambdaAssumeRolePolicy() (string, error) {
	return marshalPolicy(policyDocument{
		Version: policyVersion,
		Statement: []policyStatement{{
			Effect:    "Allow",
			Principal: map[string]string{"Service": "lambda.amazonaws.com"},
			Action:    []string{"sts:AssumeRole"},
		}},
	})
}

// policyARNs are the deployed resources a function's policy names.
type policyARNs struct {
	LogGroup    string
	Table       string
	SigningKeys string
	// Queue is the queue the function consumes, "" for a function that
	// consumes none.
	Queue string
	// Buckets holds the ARN of every bucket, by role.
	Buckets map[registry.Bucket]string
}

// queueConsumerActions are what Lambda's event source mapping does with the
// function's own role: poll, delete what succeeded, read the queue's
// attributes, and change visibility of messages it hands back.
var queueConsumerActions = []string{
	"sqs:ReceiveMessage",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:ChangeMessageVisibility",
}

// functionPolicy is the least-privilege inline policy of one function: write
// to its own log group, send traces, exactly the registry's table actions on
// the table and its indexes, for the functions that sign access tokens
// reading the signing-key secret, for a worker consuming its own queue, and
// exactly the registry's object actions under each of its bucket prefixes.
// A function that lists no table actions gets no DynamoDB statement at all,
// one that does not sign gets no Secrets Manager statement, one without a
// queue no SQS statement and one without bucket access no S3 statement.
func functionPolicy(spec registry.Function, arns policyARNs) (string, error) {
	doc := policyDocument{
		Version: policyVersion,
		Statement: []policyStatement{
			{
				Sid:    "OwnLogGroup",
				Effect: "Allow",
				Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
				// Log streams are addressed as <group arn>:log-stream:<name>.
				Resource: []string{arns.LogGroup + ":*"},
			},
			{
				Sid:    "Tracing",
				Effect: "Allow",
				Action: []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
				// X-Ray has no resource-level permissions for these actions.
				Resource: []string{"*"},
			},
		},
	}
	if len(spec.Table) > 0 {
		actions := make([]string, len(spec.Table))
		for i, a := range spec.Table {
			actions[i] = string(a)
		}
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "Table",
			Effect:   "Allow",
			Action:   actions,
			Resource: []string{arns.Table, arns.Table + "/index/*"},
		})
	}
	if spec.Signs {
		// Read only, on that one secret: writing a key is `mh keys rotate`'s
		// job, with an operator's credentials, so a compromised function
		// cannot plant a key of its own.
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "SigningKeys",
			Effect:   "Allow",
			Action:   []string{"secretsmanager:GetSecretValue"},
			Resource: []string{arns.SigningKeys},
		})
	}
	if spec.Queue != nil {
		if arns.Queue == "" {
			return "", fmt.Errorf("policy of %s: queue %s has no ARN", spec.Name, spec.Queue.Name)
		}
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      "ConsumeQueue",
			Effect:   "Allow",
			Action:   slices.Clone(queueConsumerActions),
			Resource: []string{arns.Queue},
		})
	}
	for i, access := range spec.Buckets {
		bucketArn, ok := arns.Buckets[access.Bucket]
		if !ok || bucketArn == "" {
			return "", fmt.Errorf("policy of %s: bucket %q has no ARN", spec.Name, access.Bucket)
		}
		actions := make([]string, len(access.Actions))
		for j, a := range access.Actions {
			actions[j] = string(a)
		}
		// Object ARNs only: no bucket-level action (ListBucket, policy or
		// configuration changes) is ever needed to presign, read or write a
		// key, so a compromised function cannot enumerate other users' keys.
		doc.Statement = append(doc.Statement, policyStatement{
			Sid:      fmt.Sprintf("Objects%d", i),
			Effect:   "Allow",
			Action:   actions,
			Resource: []string{objectsArn(bucketArn, access.Prefix)},
		})
	}
	return marshalPolicy(doc)
}

// objectsArn is the ARN of every key of a bucket under a prefix.
func objectsArn(bucketArn, prefix string) string { return bucketArn + "/" + prefix + "*" }

// validateTableActions rejects anything but single, named DynamoDB actions, so
// a registry typo cannot widen a role to dynamodb:* or to another service.
func validateTableActions(spec registry.Function) error {
	for _, a := range spec.Table {
		name, ok := strings.CutPrefix(string(a), "dynamodb:")
		if !ok || name == "" || strings.ContainsAny(name, "*?") {
			return fmt.Errorf("function %s: table action %q is not a single dynamodb action", spec.Name, a)
		}
	}
	return nil
}

// objectActions are the only S3 actions a registry entry may be granted:
// object-level, single, named.
var objectActions = []registry.S3Action{registry.GetObject, registry.PutObject, registry.DeleteObject}

// validateBucketAccess rejects bucket grants that would be wider than the
// registry means: an unknown bucket, a whole bucket (empty prefix), a prefix
// that is not a folder (uploads would also match uploads-other/), a wildcard,
// or any action but the three object actions.
func validateBucketAccess(spec registry.Function) error {
	for _, access := range spec.Buckets {
		if !slices.Contains(buckets, access.Bucket) {
			return fmt.Errorf("function %s: unknown bucket %q", spec.Name, access.Bucket)
		}
		p := access.Prefix
		if p == "" || !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "*?") {
			return fmt.Errorf("function %s: bucket %s prefix %q must be a folder such as \"uploads/\", without wildcards", spec.Name, access.Bucket, p)
		}
		if len(access.Actions) == 0 {
			return fmt.Errorf("function %s: bucket %s prefix %s lists no actions", spec.Name, access.Bucket, p)
		}
		for _, a := range access.Actions {
			if !slices.Contains(objectActions, a) {
				return fmt.Errorf("function %s: bucket action %q is not one of %v", spec.Name, a, objectActions)
			}
		}
	}
	return nil
}

func marshalPolicy(doc policyDocument) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("marshal policy: %w", err)
	}
	return string(b), nil
}
