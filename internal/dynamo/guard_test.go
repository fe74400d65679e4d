package dynamo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// guardT0 starts a 5-minute window: it is a whole multiple of 300 s.
var guardT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// lenientIPs is the default policy with an IP limit that account tests
// never reach.
func lenientIPs() dynamo.GuardPolicy {
	p := dynamo.DefaultGuardPolicy()
	p.IPLimit = 1 << 20
	return p
}

func newGuard(t *testing.T, p dynamo.GuardPolicy) (*dynamo.LoginGuard, *dynamodb.Client, string) {
	t.Helper()
	db, name := dynamotest.NewTable(t)
	return dynamo.NewLoginGuard(db, name, p), db, name
}

// guardLockItem reads an account's guard item as stored; nil if there is none.
func guardLockItem(t *testing.T, db *dynamodb.Client, name, email string) map[string]types.AttributeValue {
	t.Helper()
	sum := sha256.Sum256([]byte(email))
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(name),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "GUARD#ACCOUNT#" + hex.EncodeToString(sum[:])},
			"SK": &types.AttributeValueMemberS{Value: "LOCK"},
		},
		ConsistentRead: aws.Bool(true),
	})
	require.NoError(t, err)
	return out.Item
}

func guardNumber(t *testing.T, item map[string]types.AttributeValue, attr string) int64 {
	t.Helper()
	n, ok := item[attr].(*types.AttributeValueMemberN)
	require.True(t, ok, "%s is not a number in %v", attr, item)
	v, err := strconv.ParseInt(n.Value, 10, 64)
	require.NoError(t, err)
	return v
}

// guardPut stores an item the way a past run, or a corrupted one, left it.
func guardPut(t *testing.T, db *dynamodb.Client, name string, item map[string]types.AttributeValue) {
	t.Helper()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name), Item: item})
	require.NoError(t, err)
}

func guardAccountPK(email string) *types.AttributeValueMemberS {
	sum := sha256.Sum256([]byte(email))
	return &types.AttributeValueMemberS{Value: "GUARD#ACCOUNT#" + hex.EncodeToString(sum[:])}
}

func guardN(v int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func guardCheck(t *testing.T, g *dynamo.LoginGuard, email, ip string, now time.Time) time.Duration {
	t.Helper()
	wait, err := g.Check(context.Background(), email, ip, now)
	require.NoError(t, err)
	return wait
}

func guardFail(t *testing.T, g *dynamo.LoginGuard, email string, now time.Time) time.Duration {
	t.Helper()
	locked, err := g.Failed(context.Background(), email, "198.51.100.1", now)
	require.NoError(t, err)
	return locked
}

func TestGuardIPLimitTripsAtLimitPlusOneAndRecoversNextWindow(t *testing.T) {
	g, db, name := newGuard(t, dynamo.DefaultGuardPolicy())
	const ip, other = "203.0.113.7", "2001:db8::7"
	now := guardT0.Add(100 * time.Second) // window [t0, t0+5m)

	// One IP trying many accounts is what the IP limit is for: the email
	// changes on every attempt.
	for i := range 20 {
		assert.Zero(t, guardCheck(t, g, "user"+strconv.Itoa(i)+"@example.com", ip, now), "attempt %d", i+1)
	}
	assert.Equal(t, 200*time.Second, guardCheck(t, g, "user99@example.com", ip, now), "attempt 21 waits for the window's end")
	assert.Equal(t, 50*time.Second, guardCheck(t, g, "user0@example.com", ip, guardT0.Add(250*time.Second)))
	assert.Equal(t, time.Nanosecond, guardCheck(t, g, "user0@example.com", ip, guardT0.Add(5*time.Minute-time.Nanosecond)))
	assert.Zero(t, guardCheck(t, g, "user0@example.com", other, now), "another IP has its own window")

	// The next window starts from zero even though the full one is still
	// stored (DynamoDB Local runs no TTL, like a late TTL sweep).
	next := guardT0.Add(5 * time.Minute)
	assert.Zero(t, guardCheck(t, g, "user0@example.com", ip, next))
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "GUARD#IP#" + ip}, "SK": &types.AttributeValueMemberS{Value: strconv.FormatInt(guardT0.Unix(), 10)},
	}})
	require.NoError(t, err)
	require.NotEmpty(t, out.Item, "the full window is still stored")
	assert.Equal(t, int64(23), guardNumber(t, out.Item, "attempts"))
	assert.Equal(t, guardT0.Add(5*time.Minute+time.Minute).Unix(), guardNumber(t, out.Item, "expiresAt"), "window end plus margin")
	for i := range 19 {
		assert.Zero(t, guardCheck(t, g, "user0@example.com", ip, next), "attempt %d of the next window", i+2)
	}
	assert.Equal(t, 5*time.Minute, guardCheck(t, g, "user0@example.com", ip, next))
}

func TestGuardCheckCostsTwoCalls(t *testing.T) {
	calls := dynamo.NewCalls()
	db, name := dynamotest.NewTable(t, calls.Option())
	p := dynamo.DefaultGuardPolicy()
	p.IPLimit = 1
	g := dynamo.NewLoginGuard(db, name, p)

	calls.Reset()
	assert.Zero(t, guardCheck(t, g, "jane@example.com", "203.0.113.7", guardT0))
	assert.Equal(t, map[string]int{"UpdateItem": 1, "GetItem": 1}, calls.Snapshot())

	// Over the IP limit, the account is not even read.
	calls.Reset()
	assert.Positive(t, guardCheck(t, g, "jane@example.com", "203.0.113.7", guardT0))
	assert.Equal(t, map[string]int{"UpdateItem": 1}, calls.Snapshot())
}

func TestGuardLockoutStartsAfterFreeFailuresDoublesAndCaps(t *testing.T) {
	g, _, _ := newGuard(t, lenientIPs())
	const email, ip = "jane@example.com", "203.0.113.7"
	now := guardT0
	for i := range 5 {
		assert.Zero(t, guardFail(t, g, email, now), "failure %d is free", i+1)
		assert.Zero(t, guardCheck(t, g, email, ip, now))
	}
	// Each further failure, made as soon as the previous lock ends, locks
	// for twice as long, up to 15 minutes.
	for i, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		require.Equal(t, want, guardFail(t, g, email, now), "failure %d", i+6)
		assert.Equal(t, want, guardCheck(t, g, email, ip, now), "Check right after failure %d", i+6)
		assert.Equal(t, want-10*time.Second, guardCheck(t, g, email, ip, now.Add(10*time.Second)), "Check 10 s later")
		assert.Equal(t, time.Millisecond, guardCheck(t, g, email, ip, now.Add(want-time.Millisecond)))
		now = now.Add(want)
		assert.Zero(t, guardCheck(t, g, email, ip, now), "the lock of failure %d has ended", i+6)
	}
}

func TestGuardSuccessClearsFailuresAndLock(t *testing.T) {
	g, db, name := newGuard(t, lenientIPs())
	const email, ip = "jane@example.com", "203.0.113.7"
	for range 6 {
		guardFail(t, g, email, guardT0)
	}
	require.Equal(t, 30*time.Second, guardCheck(t, g, email, ip, guardT0))

	require.NoError(t, g.Succeeded(context.Background(), email, guardT0))
	assert.Zero(t, guardCheck(t, g, email, ip, guardT0))
	assert.Nil(t, guardLockItem(t, db, name, email))
	for i := range 5 {
		assert.Zero(t, guardFail(t, g, email, guardT0), "failure %d after a success is free again", i+1)
	}
	assert.Equal(t, 30*time.Second, guardFail(t, g, email, guardT0))
	require.NoError(t, g.Succeeded(context.Background(), "nobody@example.com", guardT0), "nothing to clear is fine")
}

func TestGuardForgetsFailuresAfterFailureMemory(t *testing.T) {
	const email = "jane@example.com"
	for _, tt := range []struct {
		name  string
		after time.Duration
		want  time.Duration // the lock the 6th failure causes
	}{
		{"remembered just before", time.Hour - time.Second, 30 * time.Second},
		{"forgotten at", time.Hour, 0},
		{"forgotten after", 3 * time.Hour, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, db, name := newGuard(t, lenientIPs())
			for range 5 {
				guardFail(t, g, email, guardT0)
			}
			require.Equal(t, int64(5), guardNumber(t, guardLockItem(t, db, name, email), "failures"), "the old failures are stored")
			assert.Equal(t, tt.want, guardFail(t, g, email, guardT0.Add(tt.after)))
			if tt.want == 0 {
				assert.Equal(t, int64(1), guardNumber(t, guardLockItem(t, db, name, email), "failures"), "counting restarted")
			}
		})
	}
}

func TestGuardIgnoresExpiredLockStillStored(t *testing.T) {
	g, db, name := newGuard(t, lenientIPs())
	const email, ip = "jane@example.com", "203.0.113.7"
	// A lock whose item TTL has not removed yet, although it expired a
	// second ago; its lockedUntil claims another day.
	guardPut(t, db, name, map[string]types.AttributeValue{
		"PK": guardAccountPK(email), "SK": &types.AttributeValueMemberS{Value: "LOCK"},
		"failures": guardN(12), "lockedUntil": guardN(guardT0.Add(24 * time.Hour).UnixMilli()), "expiresAt": guardN(guardT0.Add(-time.Second).Unix()),
	})
	assert.Zero(t, guardCheck(t, g, email, ip, guardT0))
	assert.Zero(t, guardFail(t, g, email, guardT0), "the stale failures are not counted")
	item := guardLockItem(t, db, name, email)
	assert.Equal(t, int64(1), guardNumber(t, item, "failures"))
	assert.Zero(t, guardNumber(t, item, "lockedUntil"), "the stale lock is gone")
	assert.Equal(t, guardT0.Add(time.Hour).Unix(), guardNumber(t, item, "expiresAt"))

	// The same item one second earlier was live and locked.
	g2, db2, name2 := newGuard(t, lenientIPs())
	guardPut(t, db2, name2, map[string]types.AttributeValue{
		"PK": guardAccountPK(email), "SK": &types.AttributeValueMemberS{Value: "LOCK"},
		"failures": guardN(12), "lockedUntil": guardN(guardT0.Add(24 * time.Hour).UnixMilli()), "expiresAt": guardN(guardT0.Add(time.Second).Unix()),
	})
	assert.Equal(t, 24*time.Hour, guardCheck(t, g2, email, ip, guardT0))
}

func TestGuardAccountsAndIPsAreIndependent(t *testing.T) {
	p := dynamo.DefaultGuardPolicy()
	p.IPLimit = 3
	g, _, _ := newGuard(t, p)
	const a, b = "alice@example.com", "bob@example.com"
	for range 6 {
		guardFail(t, g, a, guardT0)
	}
	assert.Equal(t, 30*time.Second, guardCheck(t, g, a, "203.0.113.1", guardT0))
	assert.Zero(t, guardCheck(t, g, b, "203.0.113.1", guardT0), "bob is not locked by alice's failures")
	assert.Zero(t, guardFail(t, g, b, guardT0), "bob's first failure is free")

	assert.Zero(t, guardCheck(t, g, b, "203.0.113.1", guardT0), "third attempt from .1")
	assert.Positive(t, guardCheck(t, g, b, "203.0.113.1", guardT0), "fourth attempt from .1")
	assert.Zero(t, guardCheck(t, g, b, "203.0.113.2", guardT0), ".2 is not limited by .1")
}

func TestGuardKeysHoldNoEmail(t *testing.T) {
	g, db, name := newGuard(t, lenientIPs())
	const email = "jane.doe@example.com"
	guardCheck(t, g, email, "203.0.113.7", guardT0)
	for range 6 {
		guardFail(t, g, email, guardT0)
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(name)})
	require.NoError(t, err)
	require.Len(t, out.Items, 2, "one IP window, one account item")
	for _, item := range out.Items {
		for attr, v := range item {
			s, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			for _, part := range []string{"jane", "doe", "example"} {
				assert.NotContains(t, strings.ToLower(s.Value), part, "attribute %s", attr)
			}
		}
	}
	assert.NotEmpty(t, guardLockItem(t, db, name, email), "the account item is keyed by the email's SHA-256")
}

func TestGuardConcurrentFailuresCountExactly(t *testing.T) {
	g, db, name := newGuard(t, lenientIPs())
	const email = "jane@example.com"
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		locks  []time.Duration
		errs   []error
		starts = make(chan struct{})
	)
	for range 10 {
		wg.Go(func() {
			<-starts
			d, err := g.Failed(context.Background(), email, "203.0.113.7", guardT0)
			mu.Lock()
			defer mu.Unlock()
			locks, errs = append(locks, d), append(errs, err)
		})
	}
	close(starts)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(10), guardNumber(t, guardLockItem(t, db, name, email), "failures"))
	// Every count from 1 to 10 was handed out exactly once.
	slices.Sort(locks)
	assert.Equal(t, []time.Duration{0, 0, 0, 0, 0, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}, locks)
	assert.Equal(t, 8*time.Minute, guardCheck(t, g, email, "203.0.113.7", guardT0), "the longest lock wins, whatever order the writes landed in")
}

func TestGuardLockoutArithmeticAtTheEdges(t *testing.T) {
	const email, ip = "jane@example.com", "203.0.113.7"
	t.Run("no free failures, doubling past the largest duration", func(t *testing.T) {
		g, _, _ := newGuard(t, dynamo.GuardPolicy{
			IPLimit: 100, IPWindow: time.Minute, FreeFailures: 0,
			BaseLockout: 1 << 62, MaxLockout: math.MaxInt64, FailureMemory: time.Hour,
		})
		assert.Equal(t, time.Duration(1<<62), guardFail(t, g, email, guardT0))
		assert.Equal(t, time.Duration(math.MaxInt64), guardFail(t, g, email, guardT0), "capped, not overflowed")
	})
	t.Run("no base lockout", func(t *testing.T) {
		g, _, _ := newGuard(t, dynamo.GuardPolicy{IPLimit: 100, IPWindow: time.Minute, FreeFailures: 1, MaxLockout: time.Hour, FailureMemory: time.Hour})
		for range 100 {
			assert.Zero(t, guardFail(t, g, email, guardT0))
		}
	})
	t.Run("lock longer than failure memory", func(t *testing.T) {
		g, _, _ := newGuard(t, dynamo.GuardPolicy{
			IPLimit: 100, IPWindow: time.Minute, FreeFailures: 0,
			BaseLockout: 2 * time.Hour, MaxLockout: 2 * time.Hour, FailureMemory: time.Minute,
		})
		require.Equal(t, 2*time.Hour, guardFail(t, g, email, guardT0))
		assert.Equal(t, time.Hour, guardCheck(t, g, email, ip, guardT0.Add(time.Hour)), "the item lives as long as its lock")
	})
	t.Run("sub-second window counts as one second", func(t *testing.T) {
		g, _, _ := newGuard(t, dynamo.GuardPolicy{IPLimit: 1, IPWindow: time.Millisecond, MaxLockout: time.Hour, FailureMemory: time.Hour})
		now := guardT0.Add(250 * time.Millisecond)
		assert.Zero(t, guardCheck(t, g, email, ip, now))
		assert.Equal(t, 750*time.Millisecond, guardCheck(t, g, email, ip, now))
		assert.Zero(t, guardCheck(t, g, email, ip, guardT0.Add(time.Second)))
	})
}

var errGuardInjected = errors.New("injected failure")

// faultyGuardDB is DynamoDB Local with a hook before each UpdateItem (counted
// from 1) and an optional GetItem failure, to reach the error paths and
// races that a healthy table does not produce on demand.
type faultyGuardDB struct {
	*dynamodb.Client
	beforeUpdate func(n int) error
	updates      int
	failGet      bool
}

func (f *faultyGuardDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates++
	if f.beforeUpdate != nil {
		if err := f.beforeUpdate(f.updates); err != nil {
			return nil, err
		}
	}
	return f.Client.UpdateItem(ctx, in, opts...)
}

func (f *faultyGuardDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.failGet {
		return nil, errGuardInjected
	}
	return f.Client.GetItem(ctx, in, opts...)
}

func failGuardUpdate(k int) func(int) error {
	return func(n int) error {
		if n == k {
			return errGuardInjected
		}
		return nil
	}
}

// assertGuardInternal checks err is an internal fault of op that keeps its
// cause for the log.
func assertGuardInternal(t *testing.T, err error, op string) {
	t.Helper()
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault: %v", err)
	assert.Equal(t, fault.Internal, fe.Kind)
	assert.Equal(t, op, fe.Op)
	assert.Error(t, fe.Err, "the cause is kept")
}

func TestGuardReportsStoreFailuresAsInternal(t *testing.T) {
	ctx := context.Background()
	const email, ip = "jane@example.com", "203.0.113.7"

	t.Run("missing table", func(t *testing.T) {
		db, _ := dynamotest.NewTable(t)
		g := dynamo.NewLoginGuard(db, "no-such-table", dynamo.DefaultGuardPolicy())
		_, err := g.Check(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Check")
		_, err = g.Failed(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Failed")
		assertGuardInternal(t, g.Succeeded(ctx, email, guardT0), "dynamo.LoginGuard.Succeeded")
	})
	t.Run("lock read fails", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, failGet: true}, name, dynamo.DefaultGuardPolicy())
		wait, err := g.Check(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Check")
		assert.ErrorIs(t, err, errGuardInjected)
		assert.Zero(t, wait)
	})
	t.Run("setting the lock fails", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, beforeUpdate: failGuardUpdate(2)}, name, dynamo.GuardPolicy{FreeFailures: 0, BaseLockout: time.Minute, MaxLockout: time.Minute, FailureMemory: time.Hour})
		locked, err := g.Failed(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Failed")
		assert.Zero(t, locked)
	})
	t.Run("restarting expired failures fails", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		guardPut(t, db, name, map[string]types.AttributeValue{
			"PK": guardAccountPK(email), "SK": &types.AttributeValueMemberS{Value: "LOCK"}, "failures": guardN(3), "expiresAt": guardN(guardT0.Unix() - 1),
		})
		g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, beforeUpdate: failGuardUpdate(2)}, name, dynamo.DefaultGuardPolicy())
		_, err := g.Failed(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Failed")
		assert.ErrorIs(t, err, errGuardInjected)
	})
	t.Run("corrupt items", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		g := dynamo.NewLoginGuard(db, name, dynamo.DefaultGuardPolicy())
		guardPut(t, db, name, map[string]types.AttributeValue{
			"PK": guardAccountPK(email), "SK": &types.AttributeValueMemberS{Value: "LOCK"},
			"failures": &types.AttributeValueMemberS{Value: "many"}, "lockedUntil": &types.AttributeValueMemberS{Value: "soon"}, "expiresAt": guardN(guardT0.Unix() + 60),
		})
		_, err := g.Check(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Check")
		_, err = g.Failed(ctx, email, ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Failed")

		guardPut(t, db, name, map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "GUARD#IP#" + ip}, "SK": &types.AttributeValueMemberS{Value: strconv.FormatInt(guardT0.Unix(), 10)},
			"attempts": &types.AttributeValueMemberS{Value: "lots"},
		})
		_, err = g.Check(ctx, "other@example.com", ip, guardT0)
		assertGuardInternal(t, err, "dynamo.LoginGuard.Check")
	})
}

func TestGuardRestartRaceCountsBoth(t *testing.T) {
	// Two failures both find the same expired item: one restarts it at 1,
	// the other's restart then loses its condition and must count on top.
	ctx := context.Background()
	const email = "jane@example.com"
	db, name := dynamotest.NewTable(t)
	guardPut(t, db, name, map[string]types.AttributeValue{
		"PK": guardAccountPK(email), "SK": &types.AttributeValueMemberS{Value: "LOCK"},
		"failures": guardN(9), "lockedUntil": guardN(guardT0.Add(time.Hour).UnixMilli()), "expiresAt": guardN(guardT0.Unix() - 1),
	})
	rival := dynamo.NewLoginGuard(db, name, lenientIPs())
	g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, beforeUpdate: func(n int) error {
		if n == 2 { // just before this guard's restart
			_, err := rival.Failed(ctx, email, "203.0.113.8", guardT0)
			return err
		}
		return nil
	}}, name, lenientIPs())

	locked, err := g.Failed(ctx, email, "203.0.113.7", guardT0)
	require.NoError(t, err)
	assert.Zero(t, locked)
	item := guardLockItem(t, db, name, email)
	assert.Equal(t, int64(2), guardNumber(t, item, "failures"))
	assert.Zero(t, guardNumber(t, item, "lockedUntil"))
}

func TestGuardLockWritesRacingOthers(t *testing.T) {
	ctx := context.Background()
	const email, ip = "jane@example.com", "203.0.113.7"
	t.Run("a later, longer lock is not shortened", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		rival := dynamo.NewLoginGuard(db, name, lenientIPs())
		for range 5 {
			guardFail(t, rival, email, guardT0)
		}
		// This guard counts failure 6, then, before it writes its 30 s
		// lock, the rival counts failure 7 and writes a 1 min lock.
		g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, beforeUpdate: func(n int) error {
			if n == 2 {
				assert.Equal(t, time.Minute, guardFail(t, rival, email, guardT0))
			}
			return nil
		}}, name, lenientIPs())
		locked, err := g.Failed(ctx, email, ip, guardT0)
		require.NoError(t, err)
		assert.Equal(t, 30*time.Second, locked)
		assert.Equal(t, time.Minute, guardCheck(t, g, email, ip, guardT0))
	})
	t.Run("a success in between is not undone", func(t *testing.T) {
		db, name := dynamotest.NewTable(t)
		rival := dynamo.NewLoginGuard(db, name, lenientIPs())
		for range 5 {
			guardFail(t, rival, email, guardT0)
		}
		g := dynamo.NewLoginGuard(&faultyGuardDB{Client: db, beforeUpdate: func(n int) error {
			if n == 2 {
				return rival.Succeeded(ctx, email, guardT0)
			}
			return nil
		}}, name, lenientIPs())
		_, err := g.Failed(ctx, email, ip, guardT0)
		require.NoError(t, err)
		assert.Nil(t, guardLockItem(t, db, name, email), "the lock write did not recreate the deleted item")
		assert.Zero(t, guardCheck(t, g, email, ip, guardT0))
	})
}
