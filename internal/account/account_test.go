package account_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/account"
	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/dynamo"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/password"
	"github.com/mountainhighway/marketplace/internal/token"
)

// events records what the service emits, in order.
type events struct {
	mu    sync.Mutex
	names []string
}

func (e *events) Emit(_ context.Context, name string, _ map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names = append(e.names, name)
}

func (e *events) count(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, x := range e.names {
		if x == name {
			n++
		}
	}
	return n
}

type fixture struct {
	svc    *account.Service
	now    time.Time
	events *events
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, name := dynamotest.NewTable(t)
	k, err := token.NewKey(time.Now())
	require.NoError(t, err)
	f := &fixture{now: time.Now().Truncate(time.Hour), events: &events{}}
	clock := func() time.Time { return f.now }
	iss, err := token.NewIssuer(token.KeySet{Keys: []token.Key{k}}, "https://api.example.test", "mh", 15*time.Minute, clock)
	require.NoError(t, err)
	f.svc = account.NewService(account.Deps{
		Store: dynamo.NewUsers(db, name), Sessions: dynamo.NewSessions(db, name), Hasher: password.Argon2id{},
		Issuer: iss, Guard: dynamo.NewLoginGuard(db, name, dynamo.DefaultGuardPolicy()), Events: f.events, Now: clock,
	})
	return f
}

const pw = "a perfectly long passphrase"

func TestLoginLockoutTripsAndRecovers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.svc.Register(ctx, account.Registration{Email: "victim@example.com", Password: pw, Name: "V"})
	require.NoError(t, err)

	policy := dynamo.DefaultGuardPolicy()
	for i := 0; i < policy.FreeFailures; i++ {
		_, err := f.svc.Login(ctx, "victim@example.com", "guess number "+string(rune('a'+i)), "198.51.100.1")
		assert.Equal(t, fault.Unauthenticated, fault.KindOf(err), "attempt %d", i+1)
	}
	assert.Zero(t, f.events.count(account.EventLockout))
	_, err = f.svc.Login(ctx, "victim@example.com", "one guess too many", "198.51.100.1")
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err))
	assert.Equal(t, 1, f.events.count(account.EventLockout))

	_, err = f.svc.Login(ctx, "victim@example.com", pw, "198.51.100.2")
	fe, ok := fault.As(err)
	require.True(t, ok, "locked: %v", err)
	assert.Equal(t, fault.RateLimited, fe.Kind, "even the right password waits while locked")
	assert.Equal(t, policy.BaseLockout, fe.RetryAfter)

	f.now = f.now.Add(policy.BaseLockout + time.Second)
	tok, err := f.svc.Login(ctx, "victim@example.com", pw, "198.51.100.2")
	require.NoError(t, err, "the lock lifts")
	assert.NotEmpty(t, tok.AccessToken)

	_, err = f.svc.Login(ctx, "victim@example.com", "wrong again", "198.51.100.2")
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err), "success cleared the failures: no immediate lock")
}

func TestLoginPerIPLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	policy := dynamo.DefaultGuardPolicy()
	ip := "203.0.113.9"
	for i := 0; i < policy.IPLimit; i++ {
		_, err := f.svc.Login(ctx, "spray"+string(rune('a'+i%26))+"@example.com", "password guess", ip)
		require.Equal(t, fault.Unauthenticated, fault.KindOf(err), "attempt %d", i+1)
	}
	_, err := f.svc.Login(ctx, "another@example.com", "password guess", ip)
	fe, ok := fault.As(err)
	require.True(t, ok)
	assert.Equal(t, fault.RateLimited, fe.Kind)
	assert.Positive(t, fe.RetryAfter)
	assert.LessOrEqual(t, fe.RetryAfter, policy.IPWindow)

	_, err = f.svc.Login(ctx, "another@example.com", "password guess", "203.0.113.10")
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err), "other addresses are not affected")

	f.now = f.now.Add(policy.IPWindow)
	_, err = f.svc.Login(ctx, "another@example.com", "password guess", ip)
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err), "the next window starts afresh")
}

func TestRefreshTokenExpires(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, err := f.svc.Register(ctx, account.Registration{Email: "expiry@example.com", Password: pw, Name: "E"})
	require.NoError(t, err)
	f.now = f.now.Add(account.RefreshTTL + time.Minute)
	_, err = f.svc.Refresh(ctx, tok.RefreshToken)
	assert.Equal(t, fault.Unauthenticated, fault.KindOf(err))
	assert.Zero(t, f.events.count(account.EventTokenReused), "expiry is not reuse")
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"A@B.co", "a@b.co"},
		{"  x.y+tag@Example.ORG ", "x.y+tag@example.org"},
		{"", ""},
		{"no-at-sign", ""},
		{"a@localhost", ""},
		{"Name <a@b.co>", ""},
		{"a@b.co, c@d.co", ""},
	}
	for _, tt := range tests {
		got, err := account.NormalizeEmail(tt.in)
		if tt.want == "" {
			assert.Errorf(t, err, "NormalizeEmail(%q) = %q, want an error", tt.in, got)
			continue
		}
		assert.NoError(t, err)
		assert.Equalf(t, tt.want, got, "NormalizeEmail(%q)", tt.in)
	}
}

func TestSetRolesNeedsAnAdmin(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.SetRoles(context.Background(), auth.Principal{UserID: "usr_x", Roles: []auth.Role{auth.Buyer, auth.Seller}}, "usr_y", []auth.Role{auth.Buyer, auth.Admin})
	assert.Equal(t, fault.Forbidden, fault.KindOf(err), "the service checks too, not only the route")
}
