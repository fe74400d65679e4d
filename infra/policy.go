package main

import (
	"encoding/json"
	"fmt"
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

// functionPolicy is the least-privilege inline policy of one function: write
// to its own log group, send traces, exactly the registry's table actions on
// the table and its indexes, and, for the functions that sign access tokens,
// reading the signing-key secret. A function that lists no table actions
// gets no DynamoDB statement at all, and one that does not sign gets no
// Secrets Manager statement.
func functionPolicy(spec registry.Function, logGroupArn, tableArn, signingKeysArn string) (string, error) {
	doc := policyDocument{
		Version: policyVersion,
		Statement: []policyStatement{
			{
				Sid:    "OwnLogGroup",
				Effect: "Allow",
				Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
				// Log streams are addressed as <group arn>:log-stream:<name>.
				Resource: []string{logGroupArn + ":*"},
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
			Resource: []string{tableArn, tableArn + "/index/*"},
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
			Resource: []string{signingKeysArn},
		})
	}
	return marshalPolicy(doc)
}

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

func marshalPolicy(doc policyDocument) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("marshal policy: %w", err)
	}
	return string(b), nil
}
