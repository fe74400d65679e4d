package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/table"
)

// UsersAPI is the part of the DynamoDB client the account stores call.
type UsersAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Users stores accounts:
//
//	PK = USER#<id>      SK = PROFILE   the account, with its password hash
//	PK = EMAIL#<email>  SK = EMAIL     the email's owner: uniqueness by conditional put
//
// Both items are written in one transaction, so an email is never taken by
// an account that does not exist, nor an account left without its email.
type Users struct {
	db    UsersAPI
	table string
}

var _ account.Store = (*Users)(nil)

// NewUsers returns the account store on table name.
func NewUsers(db UsersAPI, name string) *Users { return &Users{db: db, table: name} }

type userItem struct {
	PK           string   `dynamodbav:"PK"`
	SK           string   `dynamodbav:"SK"`
	Type         string   `dynamodbav:"type"`
	ID           string   `dynamodbav:"id"`
	Email        string   `dynamodbav:"email"`
	Name         string   `dynamodbav:"name"`
	Roles        []string `dynamodbav:"roles"`
	PasswordHash string   `dynamodbav:"passwordHash"`
	CreatedAt    string   `dynamodbav:"createdAt"`
	UpdatedAt    string   `dynamodbav:"updatedAt"`
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		table.PK: &types.AttributeValueMemberS{Value: pk},
		table.SK: &types.AttributeValueMemberS{Value: sk},
	}
}

func userKey(id string) map[string]types.AttributeValue { return key("USER#"+id, "PROFILE") }

func (it userItem) user() (account.User, error) {
	u := account.User{ID: it.ID, Email: it.Email, Name: it.Name}
	for _, r := range it.Roles {
		u.Roles = append(u.Roles, auth.Role(r))
	}
	var err error
	if u.CreatedAt, err = time.Parse(time.RFC3339Nano, it.CreatedAt); err != nil {
		return u, fmt.Errorf("user %s createdAt: %w", it.ID, err)
	}
	if u.UpdatedAt, err = time.Parse(time.RFC3339Nano, it.UpdatedAt); err != nil {
		return u, fmt.Errorf("user %s updatedAt: %w", it.ID, err)
	}
	return u, nil
}

func roleStrings(rs []auth.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// Create stores a new account; fault.Conflict when the email is taken.
func (s *Users) Create(ctx context.Context, u account.User, passwordHash string) error {
	const op = "dynamo.Users.Create"
	item, err := attributevalue.MarshalMap(userItem{
		PK: "USER#" + u.ID, SK: "PROFILE", Type: "user", ID: u.ID, Email: u.Email, Name: u.Name,
		Roles: roleStrings(u.Roles), PasswordHash: passwordHash,
		CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339Nano), UpdatedAt: u.UpdatedAt.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fault.Wrap(op, err)
	}
	email := key("EMAIL#"+u.Email, "EMAIL")
	email["type"] = &types.AttributeValueMemberS{Value: "email"}
	email["userId"] = &types.AttributeValueMemberS{Value: u.ID}
	notExists := aws.String("attribute_not_exists(PK)")
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: email, ConditionExpression: notExists}},
	}})
	if failed := cancelled(err); failed != nil && failed[1] {
		return fault.E(op, fault.Conflict, "email taken")
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// cancelled returns, for a cancelled transaction, which of its items failed
// their condition; nil for any other outcome.
func cancelled(err error) map[int]bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	failed := map[int]bool{}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			failed[i] = true
		}
	}
	return failed
}

// ByEmail returns the account registered with email and its password hash.
func (s *Users) ByEmail(ctx context.Context, email string) (account.User, string, error) {
	const op = "dynamo.Users.ByEmail"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key("EMAIL#"+email, "EMAIL")})
	if err != nil {
		return account.User{}, "", fault.Wrap(op, err)
	}
	id, ok := out.Item["userId"].(*types.AttributeValueMemberS)
	if !ok {
		return account.User{}, "", fault.E(op, fault.NotFound, "no account")
	}
	it, err := s.get(ctx, id.Value)
	if err != nil {
		return account.User{}, "", err
	}
	u, err := it.user()
	if err != nil {
		return account.User{}, "", fault.Wrap(op, err)
	}
	return u, it.PasswordHash, nil
}

// ByID returns the account with id.
func (s *Users) ByID(ctx context.Context, id string) (account.User, error) {
	it, err := s.get(ctx, id)
	if err != nil {
		return account.User{}, err
	}
	u, err := it.user()
	if err != nil {
		return account.User{}, fault.Wrap("dynamo.Users.ByID", err)
	}
	return u, nil
}

func (s *Users) get(ctx context.Context, id string) (userItem, error) {
	const op = "dynamo.Users.get"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: userKey(id)})
	if err != nil {
		return userItem{}, fault.Wrap(op, err)
	}
	if len(out.Item) == 0 {
		return userItem{}, fault.E(op, fault.NotFound, "no account")
	}
	var it userItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return userItem{}, fault.Wrap(op, err)
	}
	return it, nil
}

// UpdateName changes an account's display name.
func (s *Users) UpdateName(ctx context.Context, id, name string, now time.Time) (account.User, error) {
	return s.update(ctx, "dynamo.Users.UpdateName", id, "SET #v = :v, updatedAt = :now", "name", &types.AttributeValueMemberS{Value: name}, now)
}

// SetRoles replaces an account's roles.
func (s *Users) SetRoles(ctx context.Context, id string, roles []auth.Role, now time.Time) (account.User, error) {
	av, err := attributevalue.Marshal(roleStrings(roles))
	if err != nil {
		return account.User{}, fault.Wrap("dynamo.Users.SetRoles", err)
	}
	return s.update(ctx, "dynamo.Users.SetRoles", id, "SET #v = :v, updatedAt = :now", "roles", av, now)
}

// update sets one attribute of an existing account, conditionally on the
// account existing, so an update never creates a half account.
func (s *Users) update(ctx context.Context, op, id, expr, attr string, v types.AttributeValue, now time.Time) (account.User, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      userKey(id),
		UpdateExpression:         aws.String(expr),
		ConditionExpression:      aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames: map[string]string{"#v": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": v, ":now": &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339Nano)},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return account.User{}, fault.E(op, fault.NotFound, "no account")
	}
	if err != nil {
		return account.User{}, fault.Wrap(op, err)
	}
	var it userItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return account.User{}, fault.Wrap(op, err)
	}
	u, err := it.user()
	if err != nil {
		return account.User{}, fault.Wrap(op, err)
	}
	return u, nil
}
