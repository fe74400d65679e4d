package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/table"
)

// GuardAPI is the part of the DynamoDB client the login guard calls.
type GuardAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// GuardPolicy sets the limits a LoginGuard enforces.
type GuardPolicy struct {
	// IPLimit is how many login attempts, good or bad, one IP address may
	// make in each fixed window of IPWindow (rounded down to whole seconds,
	// at least one).
	IPLimit  int
	IPWindow time.Duration
	// FreeFailures is how many consecutive failed logins an account takes
	// before it locks. Each failure after that locks it for BaseLockout,
	// doubled for every failure beyond the first locking one, up to
	// MaxLockout.
	FreeFailures int
	BaseLockout  time.Duration
	MaxLockout   time.Duration
	// FailureMemory is how long after its last failure an account's
	// failures are forgotten.
	FailureMemory time.Duration
}

// DefaultGuardPolicy returns the production policy: 20 attempts per IP per
// 5 minutes; 5 free failures per account, then 30 s, 1 min, 2 min, … up to
// 15 min; failures forgotten an hour after the last one.
func DefaultGuardPolicy() GuardPolicy {
	return GuardPolicy{
		IPLimit: 20, IPWindow: 5 * time.Minute,
		FreeFailures: 5, BaseLockout: 30 * time.Second, MaxLockout: 15 * time.Minute,
		FailureMemory: time.Hour,
	}
}

// lockout returns how long the n-th consecutive failure locks the account.
func (p GuardPolicy) lockout(n int64) time.Duration {
	k := n - int64(p.FreeFailures) - 1
	if k < 0 {
		return 0
	}
	d := p.BaseLockout
	for ; k > 0 && d > 0 && d < p.MaxLockout; k-- {
		if d > p.MaxLockout/2 { // doubling would pass the cap, or overflow
			d = p.MaxLockout
		} else {
			d *= 2
		}
	}
	return min(d, p.MaxLockout)
}

// windowSeconds is the IP window in whole seconds, the unit of its key.
func (p GuardPolicy) windowSeconds() int64 {
	return max(int64(p.IPWindow/time.Second), 1)
}

// LoginGuard limits password guessing with two counters kept in DynamoDB,
// so that every Lambda instance sees the same counts:
//
//	PK = GUARD#IP#<ip>                     SK = <window start, unix s>   attempts, expiresAt (TTL)
//	PK = GUARD#ACCOUNT#<sha256 hex email>  SK = LOCK                     failures, lockedUntil (unix ms), expiresAt (TTL)
//
// The per-IP fixed window stops one address from trying many accounts; the
// per-account lockout stops many addresses from trying one account. The
// account key is a hash so that the table holds no email addresses for
// accounts that may not even exist. TTL removes both kinds of item, but
// lazily (up to days late), so every read also compares expiresAt itself.
type LoginGuard struct {
	db     GuardAPI
	table  string
	policy GuardPolicy
}

var _ account.Guard = (*LoginGuard)(nil)

// NewLoginGuard returns a guard enforcing p on table name.
func NewLoginGuard(db GuardAPI, name string, p GuardPolicy) *LoginGuard {
	return &LoginGuard{db: db, table: name, policy: p}
}

// guardTTLMargin keeps an IP window's item a little past the window's end,
// so that TTL never removes a window that a clock running slightly behind
// still counts in.
const guardTTLMargin = time.Minute

// ipWindowItem is what the window counter's update returns.
type ipWindowItem struct {
	Attempts int64 `dynamodbav:"attempts"`
}

// lockItem is an account's failure record.
type lockItem struct {
	Failures    int64 `dynamodbav:"failures"`
	LockedUntil int64 `dynamodbav:"lockedUntil"` // unix milliseconds
	ExpiresAt   int64 `dynamodbav:"expiresAt"`   // table.TTL, unix seconds
}

// remaining is how much longer the item locks its account at now. An item
// past its expiresAt is ignored: its failures are forgotten, whether or not
// TTL has removed it yet.
func (it lockItem) remaining(now time.Time) time.Duration {
	if it.ExpiresAt <= now.Unix() {
		return 0
	}
	return max(time.UnixMilli(it.LockedUntil).Sub(now), 0)
}

func guardIPKey(ip string, windowStart int64) map[string]types.AttributeValue {
	return key("GUARD#IP#"+ip, strconv.FormatInt(windowStart, 10))
}

func guardAccountKey(email string) map[string]types.AttributeValue {
	sum := sha256.Sum256([]byte(email))
	return key("GUARD#ACCOUNT#"+hex.EncodeToString(sum[:]), "LOCK")
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Check counts a login attempt for the (normalised) email from ip and
// returns how long the caller must wait before trying again: until the
// end of the IP's window if the IP is over its limit, or until the
// account's lock ends. Zero means go ahead. The error is only for DynamoDB
// failures. Check costs two calls: one write, one read.
func (g *LoginGuard) Check(ctx context.Context, email, ip string, now time.Time) (time.Duration, error) {
	const op = "dynamo.LoginGuard.Check"
	w := g.policy.windowSeconds()
	start := now.Unix() / w * w
	end := time.Unix(start+w, 0)
	out, err := g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(g.table),
		Key:                      guardIPKey(ip, start),
		UpdateExpression:         aws.String("ADD attempts :one SET #ttl = :ttl"),
		ExpressionAttributeNames: map[string]string{"#ttl": table.TTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": number(1), ":ttl": epoch(end.Add(guardTTLMargin)),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fault.Wrap(op, err)
	}
	var win ipWindowItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &win); err != nil {
		return 0, fault.Wrap(op, err)
	}
	if win.Attempts > int64(g.policy.IPLimit) {
		return end.Sub(now), nil
	}

	lock, err := g.lock(ctx, email)
	if err != nil {
		return 0, fault.Wrap(op, err)
	}
	return lock.remaining(now), nil
}

// lock reads an account's failure record, strongly consistent so that a
// failure recorded by one instance locks the very next attempt anywhere.
func (g *LoginGuard) lock(ctx context.Context, email string) (lockItem, error) {
	out, err := g.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(g.table),
		Key:            guardAccountKey(email),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return lockItem{}, err
	}
	var it lockItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return lockItem{}, err
	}
	return it, nil
}

// Failed records a failed login for the (normalised) email and returns
// how long it locks the account, zero while the failure is still free.
// Call it for unknown emails too, so that a lockout says nothing about
// whether an account exists. ip is not used: Check has already counted the
// attempt against it.
func (g *LoginGuard) Failed(ctx context.Context, email, ip string, now time.Time) (time.Duration, error) {
	const op = "dynamo.LoginGuard.Failed"
	n, err := g.countFailure(ctx, email, now)
	if err != nil {
		return 0, fault.Wrap(op, err)
	}
	lockedFor := g.policy.lockout(n)
	if lockedFor == 0 {
		return 0, nil
	}
	until := now.Add(lockedFor)
	// The item must outlive the lock, or Check would ignore it as expired
	// when MaxLockout is longer than FailureMemory.
	ttl := now.Add(max(g.policy.FailureMemory, lockedFor+time.Second))
	_, err = g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(g.table),
		Key:              guardAccountKey(email),
		UpdateExpression: aws.String("SET lockedUntil = :until, #ttl = :ttl"),
		// Concurrent failures each set their own lock: never shorten one,
		// and never recreate an item a successful login has just deleted.
		ConditionExpression:      aws.String("attribute_exists(PK) AND (attribute_not_exists(lockedUntil) OR lockedUntil < :until)"),
		ExpressionAttributeNames: map[string]string{"#ttl": table.TTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": number(until.UnixMilli()), ":ttl": epoch(ttl),
		},
	})
	if err != nil && !conditionFailed(err) {
		return 0, fault.Wrap(op, err)
	}
	return lockedFor, nil
}

// countFailure adds one to the account's live failures and returns the new
// count. Failures older than FailureMemory may still be in the table (TTL
// is lazy), so the increment is conditional on the item being live, and an
// expired item is restarted at one instead.
func (g *LoginGuard) countFailure(ctx context.Context, email string, now time.Time) (int64, error) {
	names := map[string]string{"#ttl": table.TTL}
	values := map[string]types.AttributeValue{
		":one": number(1), ":ttl": epoch(now.Add(g.policy.FailureMemory)), ":now": epoch(now),
	}
	// Two rounds at most: a restart loses its condition only to another
	// failure that restarted the same item first, which the second
	// increment then counts on top of.
	for round := 0; ; round++ {
		out, err := g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(g.table),
			Key:                       guardAccountKey(email),
			UpdateExpression:          aws.String("ADD failures :one SET #ttl = :ttl"),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR #ttl > :now"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		if err == nil {
			var it lockItem
			if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
				return 0, err
			}
			return it.Failures, nil
		}
		if !conditionFailed(err) || round == 1 {
			return 0, err
		}
		// lockedUntil is zeroed rather than removed: minidyn, the dev
		// stack's DynamoDB, ignores a REMOVE that follows a SET.
		_, err = g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(g.table),
			Key:                      guardAccountKey(email),
			UpdateExpression:         aws.String("SET failures = :one, lockedUntil = :unlocked, #ttl = :ttl"),
			ConditionExpression:      aws.String("#ttl <= :now"),
			ExpressionAttributeNames: names,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": values[":one"], ":ttl": values[":ttl"], ":now": values[":now"], ":unlocked": number(0),
			},
		})
		if err == nil {
			return 1, nil
		}
		if !conditionFailed(err) {
			return 0, err
		}
	}
}

// Succeeded forgets the account's failures and lifts its lock, after a
// successful login. now is unused: deleting needs no clock.
func (g *LoginGuard) Succeeded(ctx context.Context, email string, now time.Time) error {
	const op = "dynamo.LoginGuard.Succeeded"
	_, err := g.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(g.table), Key: guardAccountKey(email)})
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
