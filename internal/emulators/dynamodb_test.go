package emulators

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustCacheDir returns the real tool cache, so that the slow installs the
// tests do are shared with mh stack and with later runs.
func mustCacheDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("installs and starts real emulators")
	}
	dir, err := CacheDir()
	require.NoError(t, err)
	return dir
}

func TestDynamoDBLocal(t *testing.T) {
	cache := mustCacheDir(t)
	begin := time.Now()
	dir, err := InstallDynamoDBLocal(t.Context(), cache)
	require.NoError(t, err)
	t.Logf("install (or find) DynamoDB Local: %v", time.Since(begin))
	assert.FileExists(t, dir+"/DynamoDBLocal.jar")
	assert.DirExists(t, dir+"/DynamoDBLocal_lib")

	begin = time.Now()
	ddb, err := StartDynamoDBLocal(t.Context(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ddb.Stop()) })
	t.Logf("start DynamoDB Local: %v", time.Since(begin))

	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ddb.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	table := "emulators-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	require.NoError(t, err)
	tables, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{})
	require.NoError(t, err)
	assert.Contains(t, tables.TableNames, table)

	_, err = client.PutItem(t.Context(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
	})
	require.NoError(t, err)
	got, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}},
	})
	require.NoError(t, err)
	assert.Equal(t, &types.AttributeValueMemberS{Value: "a"}, got.Item["pk"])

	u, err := url.Parse(ddb.Endpoint())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", u.Hostname())
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)

	require.NoError(t, ddb.Stop())
	assertPortFree(t, port)
}
