// Package dynamotest gives integration tests a fresh table on DynamoDB
// Local, the faithful stand-in `make test` starts (see mh stack).
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mountainhighway/marketplace/internal/dynamo"
)

// EndpointEnv names the variable mh stack sets to DynamoDB Local's URL.
const EndpointEnv = "MH_TEST_DYNAMODB_ENDPOINT"

var seq atomic.Int64

// Endpoint returns DynamoDB Local's URL. Without it the test is skipped
// locally, and fails under CI=true: CI must never pass by skipping.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv(EndpointEnv)
	if ep == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: run the tests through `make test` (mh stack)", EndpointEnv)
		}
		tb.Skipf("%s is not set: run `make test` to start DynamoDB Local", EndpointEnv)
	}
	return ep
}

// NewTable creates a uniquely named table with the production schema and
// deletes it when the test ends. It returns a client (with optFns applied)
// and the table name.
func NewTable(tb testing.TB, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, string) {
	tb.Helper()
	ep := Endpoint(tb)
	ctx := context.Background()
	db, err := dynamo.NewClient(ctx, "eu-west-1", ep, optFns...)
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("t-%s-%d-%d", sanitize(tb.Name()), time.Now().UnixNano()%1e9, seq.Add(1))
	if len(name) > 255 {
		name = name[:255]
	}
	if err := dynamo.CreateTable(ctx, db, name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return db, name
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
