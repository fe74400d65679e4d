package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/table"
)

// Sessions stores refresh-token families:
//
//	PK = REFRESH#<sha256 of token>  SK = REFRESH  familyId, userId, used, expiresAt (TTL)
//	PK = FAMILY#<id>                SK = FAMILY   userId, revoked, expiresAt (TTL)
//
// Spending a token is one transaction: mark it used (only if unused), check
// the family is not revoked, and store its successor. A second spend fails
// the first condition, which is how reuse is detected.
type Sessions struct {
	db    UsersAPI
	table string
}

var _ account.Sessions = (*Sessions)(nil)

// NewSessions returns the session store on table name.
func NewSessions(db UsersAPI, name string) *Sessions { return &Sessions{db: db, table: name} }

func tokenKey(hash string) map[string]types.AttributeValue { return key("REFRESH#"+hash, "REFRESH") }
func familyKey(id string) map[string]types.AttributeValue  { return key("FAMILY#"+id, "FAMILY") }
func epoch(t time.Time) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}
func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }
func boolean(b bool) *types.AttributeValueMemberBOOL {
	return &types.AttributeValueMemberBOOL{Value: b}
}

func (s *Sessions) tokenPut(sess account.Session) *types.Put {
	item := tokenKey(sess.TokenHash)
	item["type"] = str("refresh")
	item["familyId"] = str(sess.FamilyID)
	item["userId"] = str(sess.UserID)
	item["used"] = boolean(false)
	item[table.TTL] = epoch(sess.ExpiresAt)
	return &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}
}

// Start stores a new family and its first token.
func (s *Sessions) Start(ctx context.Context, sess account.Session) error {
	const op = "dynamo.Sessions.Start"
	fam := familyKey(sess.FamilyID)
	fam["type"] = str("family")
	fam["userId"] = str(sess.UserID)
	fam["revoked"] = boolean(false)
	fam[table.TTL] = epoch(sess.ExpiresAt)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: fam, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: s.tokenPut(sess)},
	}})
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// Lookup returns the session a token hash belongs to, used or not.
func (s *Sessions) Lookup(ctx context.Context, hash string) (account.Session, error) {
	const op = "dynamo.Sessions.Lookup"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: tokenKey(hash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return account.Session{}, fault.Wrap(op, err)
	}
	fam, ok1 := out.Item["familyId"].(*types.AttributeValueMemberS)
	user, ok2 := out.Item["userId"].(*types.AttributeValueMemberS)
	exp, ok3 := out.Item[table.TTL].(*types.AttributeValueMemberN)
	if !ok1 || !ok2 || !ok3 {
		return account.Session{}, fault.E(op, fault.NotFound, "no session")
	}
	secs, err := strconv.ParseInt(exp.Value, 10, 64)
	if err != nil {
		return account.Session{}, fault.Wrap(op, err)
	}
	return account.Session{TokenHash: hash, FamilyID: fam.Value, UserID: user.Value, ExpiresAt: time.Unix(secs, 0)}, nil
}

// Rotate spends the token old and stores next (in old's family, for old's
// user). On reuse it returns the spent session with account.ErrReused so the
// caller can revoke the family.
func (s *Sessions) Rotate(ctx context.Context, old string, next account.Session, now time.Time) (account.Session, error) {
	const op = "dynamo.Sessions.Rotate"
	ended := fault.E(op, fault.Unauthenticated, "session ended")
	spent, err := s.Lookup(ctx, old)
	if fault.KindOf(err) == fault.NotFound {
		return account.Session{}, ended
	}
	if err != nil {
		return account.Session{}, err
	}
	if !now.Before(spent.ExpiresAt) {
		return account.Session{}, ended // TTL deletion is lazy: expiry is checked here too
	}
	next.FamilyID, next.UserID = spent.FamilyID, spent.UserID
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: tokenKey(old),
			UpdateExpression:          aws.String("SET used = :t, usedAt = :now"),
			ConditionExpression:       aws.String("used = :f"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true), ":f": boolean(false), ":now": epoch(now)},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: familyKey(spent.FamilyID),
			UpdateExpression:          aws.String("SET #ttl = :exp"),
			ConditionExpression:       aws.String("revoked = :f"),
			ExpressionAttributeNames:  map[string]string{"#ttl": table.TTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": boolean(false), ":exp": epoch(next.ExpiresAt)},
		}},
		{Put: s.tokenPut(next)},
	}})
	if failed := cancelled(err); failed != nil {
		if failed[0] {
			return spent, account.ErrReused
		}
		return account.Session{}, ended
	}
	if err != nil {
		return account.Session{}, fault.Wrap(op, err)
	}
	return spent, nil
}

// Revoke marks a family revoked. It is idempotent.
func (s *Sessions) Revoke(ctx context.Context, familyID string) error {
	const op = "dynamo.Sessions.Revoke"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: familyKey(familyID),
		UpdateExpression:          aws.String("SET revoked = :t"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // no such family: nothing to revoke
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}
