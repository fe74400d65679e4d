// Package account holds the marketplace's accounts: registration, sign-in
// with short-lived access tokens and rotating refresh tokens, profiles and
// roles. It declares what it needs — a store, sessions, a password hasher,
// a token issuer, a brute-force guard, a security-event sink — and knows
// nothing of DynamoDB or JWT.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"golang.org/x/text/unicode/norm"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// User is an account as its owner sees it. The password hash never leaves
// the store except through Store.ByEmail.
type User struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Name      string      `json:"name"`
	Roles     []auth.Role `json:"roles"`
	CreatedAt time.Time   `json:"createdAt"`
	UpdatedAt time.Time   `json:"updatedAt"`
}

// Session is one refresh token of a session family. Only its hash is
// stored: a leaked table does not leak usable tokens.
type Session struct {
	TokenHash string
	FamilyID  string
	UserID    string
	ExpiresAt time.Time
}

// Store keeps accounts.
type Store interface {
	// Create stores u with its password hash; fault.Conflict when the
	// email is taken. Email uniqueness is enforced by the store atomically.
	Create(ctx context.Context, u User, passwordHash string) error
	// ByEmail returns the account and its password hash; fault.NotFound.
	ByEmail(ctx context.Context, email string) (User, string, error)
	// ByID returns the account; fault.NotFound.
	ByID(ctx context.Context, id string) (User, error)
	// UpdateName changes the display name; fault.NotFound.
	UpdateName(ctx context.Context, id, name string, now time.Time) (User, error)
	// SetRoles replaces the roles; fault.NotFound.
	SetRoles(ctx context.Context, id string, roles []auth.Role, now time.Time) (User, error)
}

// Sessions keeps refresh-token families.
type Sessions interface {
	// Start stores the first token of a new family.
	Start(ctx context.Context, s Session) error
	// Rotate spends the token with hash old and stores next in its family,
	// atomically. It returns fault.Unauthenticated for an unknown, expired
	// or revoked token, and ErrReused when the token was already spent —
	// the sign that a copy of it is in someone else's hands.
	Rotate(ctx context.Context, old string, next Session, now time.Time) (Session, error)
	// Lookup returns the session of a token hash; fault.NotFound.
	Lookup(ctx context.Context, tokenHash string) (Session, error)
	// Revoke ends a family: none of its tokens refreshes again.
	Revoke(ctx context.Context, familyID string) error
}

// ErrReused marks a refresh token presented a second time.
var ErrReused = fault.E("account.Sessions", fault.Unauthenticated, "this session has ended; sign in again")

// Hasher hashes and checks passwords.
type Hasher interface {
	Hash(pw string) (string, error)
	Verify(encoded, pw string) (bool, error)
	// VerifyDummy takes as long as Verify, for unknown emails.
	VerifyDummy(pw string)
	// Check applies the password policy; a fault.Invalid error says why.
	Check(pw, email string) error
}

// Issuer mints access tokens.
type Issuer interface {
	Issue(userID string, roles []auth.Role) (token string, expiresAt time.Time, err error)
}

// Guard slows down password guessing.
type Guard interface {
	// Check returns how long the caller must wait, zero to go ahead.
	Check(ctx context.Context, email, ip string, now time.Time) (time.Duration, error)
	// Failed records a failed attempt and returns the lockout it caused.
	Failed(ctx context.Context, email, ip string, now time.Time) (time.Duration, error)
	// Succeeded clears the account's failures.
	Succeeded(ctx context.Context, email string, now time.Time) error
}

// Events receives security events, each emitted once when it happens.
type Events interface {
	Emit(ctx context.Context, name string, fields map[string]any)
}

// The security events accounts emit.
const (
	EventRegistered    = "user_registered"
	EventLoginSucceded = "login_succeeded"
	EventLoginFailed   = "login_failed"
	EventLockout       = "login_lockout"
	EventTokenReused   = "refresh_token_reused"
	EventRoleChanged   = "role_changed"
)

// RefreshTTL is how long a refresh token lives without being used.
const RefreshTTL = 30 * 24 * time.Hour

// Tokens is what a successful sign-in returns.
type Tokens struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
	User         User   `json:"user"`
}

// Service implements the account use cases.
type Service struct {
	store    Store
	sessions Sessions
	hasher   Hasher
	issuer   Issuer
	guard    Guard
	events   Events
	now      func() time.Time
}

// Deps are the collaborators of a Service. Issuer and Guard are only
// needed by the functions that sign in.
type Deps struct {
	Store    Store
	Sessions Sessions
	Hasher   Hasher
	Issuer   Issuer
	Guard    Guard
	Events   Events
	Now      func() time.Time
}

// NewService returns a Service.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{store: d.Store, sessions: d.Sessions, hasher: d.Hasher, issuer: d.Issuer, guard: d.Guard, events: d.Events, now: d.Now}
}

// Registration is the body of a sign-up.
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Register creates a buyer account and signs it in.
func (s *Service) Register(ctx context.Context, r Registration) (Tokens, error) {
	const op = "account.Register"
	if err := s.canSign(op); err != nil {
		return Tokens{}, err
	}
	email, emailErr := NormalizeEmail(r.Email)
	var errs []fault.FieldError
	if emailErr != nil {
		errs = append(errs, fault.FieldError{Field: "email", Message: emailErr.Error()})
	}
	name, nameErr := cleanName(r.Name)
	if nameErr != nil {
		errs = append(errs, fault.FieldError{Field: "name", Message: nameErr.Error()})
	}
	if err := s.hasher.Check(r.Password, email); err != nil {
		if fe, ok := fault.As(err); ok && fe.Kind == fault.Invalid {
			errs = append(errs, fe.Fields...)
		} else {
			return Tokens{}, fault.Wrap(op, err)
		}
	}
	if len(errs) > 0 {
		return Tokens{}, fault.Validation(op, errs...)
	}
	hash, err := s.hasher.Hash(r.Password)
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	now := s.now().UTC()
	u := User{ID: NewUserID(now), Email: email, Name: name, Roles: []auth.Role{auth.Buyer}, CreatedAt: now, UpdatedAt: now}
	if err := s.store.Create(ctx, u, hash); err != nil {
		if fault.KindOf(err) == fault.Conflict {
			return Tokens{}, fault.E(op, fault.Conflict, "an account with this email already exists; sign in instead")
		}
		return Tokens{}, fault.Wrap(op, err)
	}
	s.events.Emit(ctx, EventRegistered, map[string]any{"userId": u.ID})
	return s.startSession(ctx, u)
}

// Login signs in with email and password. Unknown emails and wrong
// passwords get the same answer after the same work.
func (s *Service) Login(ctx context.Context, email, password, ip string) (Tokens, error) {
	const op = "account.Login"
	if err := s.canSign(op); err != nil {
		return Tokens{}, err
	}
	bad := fault.E(op, fault.Unauthenticated, "the email or password is incorrect")
	norm, err := NormalizeEmail(email)
	if err != nil || password == "" || len(password) > maxPassword {
		s.hasher.VerifyDummy(password)
		return Tokens{}, bad
	}
	now := s.now()
	wait, err := s.guard.Check(ctx, norm, ip, now)
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	if wait > 0 {
		return Tokens{}, tooMany(op, wait)
	}
	u, hash, err := s.store.ByEmail(ctx, norm)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		s.hasher.VerifyDummy(password)
		return Tokens{}, s.failed(ctx, op, norm, ip, "", now, bad)
	case err != nil:
		return Tokens{}, fault.Wrap(op, err)
	}
	ok, err := s.hasher.Verify(hash, password)
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	if !ok {
		return Tokens{}, s.failed(ctx, op, norm, ip, u.ID, now, bad)
	}
	if err := s.guard.Succeeded(ctx, norm, now); err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	s.events.Emit(ctx, EventLoginSucceded, map[string]any{"userId": u.ID, "ip": ip})
	return s.startSession(ctx, u)
}

func (s *Service) failed(ctx context.Context, op, email, ip, userID string, now time.Time, bad error) error {
	locked, err := s.guard.Failed(ctx, email, ip, now)
	if err != nil {
		return fault.Wrap(op, err)
	}
	fields := map[string]any{"emailHash": emailHash(email), "ip": ip}
	if userID != "" {
		fields["userId"] = userID
	}
	s.events.Emit(ctx, EventLoginFailed, fields)
	if locked > 0 {
		fields["lockedForSeconds"] = int(locked.Seconds())
		s.events.Emit(ctx, EventLockout, fields)
	}
	return bad
}

func tooMany(op string, wait time.Duration) error {
	e := fault.E(op, fault.RateLimited, "too many sign-in attempts; try again later")
	e.RetryAfter = wait
	return e
}

// Refresh spends a refresh token for a new access token and a new refresh
// token. A token spent twice ends its whole family.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	const op = "account.Refresh"
	if err := s.canSign(op); err != nil {
		return Tokens{}, err
	}
	ended := fault.E(op, fault.Unauthenticated, "this session has ended; sign in again")
	if !validRefreshToken(refreshToken) {
		return Tokens{}, ended
	}
	now := s.now()
	next, secret, err := newSession("", "", now)
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	old := hashToken(refreshToken)
	spent, err := s.sessions.Rotate(ctx, old, next, now)
	switch {
	case errors.Is(err, ErrReused):
		if rerr := s.sessions.Revoke(ctx, spent.FamilyID); rerr != nil {
			return Tokens{}, fault.Wrap(op, rerr)
		}
		s.events.Emit(ctx, EventTokenReused, map[string]any{"userId": spent.UserID, "familyId": spent.FamilyID})
		return Tokens{}, ended
	case fault.KindOf(err) == fault.Unauthenticated:
		return Tokens{}, ended
	case err != nil:
		return Tokens{}, fault.Wrap(op, err)
	}
	u, err := s.store.ByID(ctx, spent.UserID)
	if fault.KindOf(err) == fault.NotFound {
		return Tokens{}, ended
	}
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	return s.tokens(u, secret)
}

// Logout ends the session a refresh token belongs to. It succeeds for
// unknown tokens too: there is nothing to tell a caller about them.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	const op = "account.Logout"
	if !validRefreshToken(refreshToken) {
		return nil
	}
	sess, err := s.sessions.Lookup(ctx, hashToken(refreshToken))
	if fault.KindOf(err) == fault.NotFound {
		return nil
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	if err := s.sessions.Revoke(ctx, sess.FamilyID); err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// Me returns the caller's own account.
func (s *Service) Me(ctx context.Context, p auth.Principal) (User, error) {
	u, err := s.store.ByID(ctx, p.UserID)
	if err != nil {
		return User{}, s.notFound("account.Me", err)
	}
	return u, nil
}

// ProfileUpdate is the body of PATCH /v1/me: the only fields an account
// may change about itself.
type ProfileUpdate struct {
	Name *string `json:"name"`
}

// UpdateMe changes the caller's own profile.
func (s *Service) UpdateMe(ctx context.Context, p auth.Principal, up ProfileUpdate) (User, error) {
	const op = "account.UpdateMe"
	if up.Name == nil {
		return s.Me(ctx, p)
	}
	name, err := cleanName(*up.Name)
	if err != nil {
		return User{}, fault.Validation(op, fault.FieldError{Field: "name", Message: err.Error()})
	}
	u, err := s.store.UpdateName(ctx, p.UserID, name, s.now().UTC())
	if err != nil {
		return User{}, s.notFound(op, err)
	}
	return u, nil
}

// BecomeSeller gives the caller the seller role. It is idempotent.
func (s *Service) BecomeSeller(ctx context.Context, p auth.Principal) (User, error) {
	const op = "account.BecomeSeller"
	u, err := s.store.ByID(ctx, p.UserID)
	if err != nil {
		return User{}, s.notFound(op, err)
	}
	if slices.Contains(u.Roles, auth.Seller) {
		return u, nil
	}
	roles := append(slices.Clone(u.Roles), auth.Seller)
	return s.setRoles(ctx, op, p, u, roles)
}

// SetRoles replaces another account's roles; only admins reach it. An admin
// cannot remove its own admin role, so the platform never loses its last
// way in by accident.
func (s *Service) SetRoles(ctx context.Context, p auth.Principal, userID string, roles []auth.Role) (User, error) {
	const op = "account.SetRoles"
	if !p.Has(auth.Admin) {
		return User{}, fault.E(op, fault.Forbidden, "only admins change roles")
	}
	clean, err := cleanRoles(roles)
	if err != nil {
		return User{}, err
	}
	if userID == p.UserID && !slices.Contains(clean, auth.Admin) {
		return User{}, fault.E(op, fault.Conflict, "admins cannot remove their own admin role")
	}
	if !ValidUserID(userID) {
		return User{}, fault.E(op, fault.NotFound, "no user with this id")
	}
	u, err := s.store.ByID(ctx, userID)
	if err != nil {
		return User{}, s.notFound(op, err)
	}
	return s.setRoles(ctx, op, p, u, clean)
}

func (s *Service) setRoles(ctx context.Context, op string, by auth.Principal, u User, roles []auth.Role) (User, error) {
	updated, err := s.store.SetRoles(ctx, u.ID, roles, s.now().UTC())
	if err != nil {
		return User{}, s.notFound(op, err)
	}
	s.events.Emit(ctx, EventRoleChanged, map[string]any{"userId": u.ID, "by": by.UserID, "from": u.Roles, "to": roles})
	return updated, nil
}

func (s *Service) notFound(op string, err error) error {
	if fault.KindOf(err) == fault.NotFound {
		return fault.E(op, fault.NotFound, "no user with this id")
	}
	return fault.Wrap(op, err)
}

func (s *Service) startSession(ctx context.Context, u User) (Tokens, error) {
	const op = "account.startSession"
	sess, secret, err := newSession(u.ID, "", s.now())
	if err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	if err := s.sessions.Start(ctx, sess); err != nil {
		return Tokens{}, fault.Wrap(op, err)
	}
	return s.tokens(u, secret)
}

// canSign fails fast, before anything is written, in a function that holds
// no signing keys: only the functions whose registry entry Signs do.
func (s *Service) canSign(op string) error {
	if s.issuer == nil {
		return fault.Wrap(op, errors.New("this function has no token issuer"))
	}
	return nil
}

func (s *Service) tokens(u User, refresh string) (Tokens, error) {
	access, exp, err := s.issuer.Issue(u.ID, u.Roles)
	if err != nil {
		return Tokens{}, fault.Wrap("account.tokens", err)
	}
	return Tokens{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(time.Until(exp).Round(time.Second).Seconds()),
		RefreshToken: refresh, User: u,
	}, nil
}

// newSession makes a refresh token: 256 random bits, of which only the
// SHA-256 is stored. familyID "" starts a new family.
func newSession(userID, familyID string, now time.Time) (Session, string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Session{}, "", err
	}
	secret := refreshPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	if familyID == "" {
		familyID = "fam_" + ulid.Make().String()
	}
	return Session{TokenHash: hashToken(secret), FamilyID: familyID, UserID: userID, ExpiresAt: now.Add(RefreshTTL)}, secret, nil
}

const refreshPrefix = "rt_"

var refreshPattern = regexp.MustCompile(`^rt_[A-Za-z0-9_-]{43}$`)

func validRefreshToken(t string) bool { return refreshPattern.MatchString(t) }

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func emailHash(email string) string { return hashToken(email)[:16] }

// NewUserID returns a fresh user id: "usr_" and a ULID.
func NewUserID(now time.Time) string {
	return "usr_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
}

var userIDPattern = regexp.MustCompile(`^usr_[0-9A-HJKMNP-TV-Z]{26}$`)

// ValidUserID reports whether id has the shape of a user id.
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

const (
	maxEmail    = 254
	maxName     = 80
	maxPassword = 1024 // longer inputs are rejected before hashing
)

// NormalizeEmail trims, Unicode-normalises (NFC) and lower-cases an email
// address and checks it is a plain addr-spec. Lower-casing the local part is
// not RFC-strict, but no mail provider people use distinguishes case, and
// two accounts differing only by case are an attack, not a feature.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	if e == "" {
		return "", errors.New("is required")
	}
	if len(e) > maxEmail {
		return "", errors.New("must be at most 254 characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", errors.New("must be an email address like name@example.com")
	}
	return e, nil
}

func cleanName(s string) (string, error) {
	n := strings.Join(strings.Fields(norm.NFC.String(s)), " ")
	if n == "" {
		return "", errors.New("is required")
	}
	if utf8.RuneCountInString(n) > maxName {
		return "", errors.New("must be at most 80 characters")
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) {
			return "", errors.New("must not contain control or direction characters")
		}
	}
	return n, nil
}

func cleanRoles(roles []auth.Role) ([]auth.Role, error) {
	const op = "account.cleanRoles"
	var out []auth.Role
	for i, r := range roles {
		if !auth.ValidRole(r) {
			return nil, fault.Validation(op, fault.Fieldf("roles["+strconv.Itoa(i)+"]", "must be one of buyer, seller, admin"))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if !slices.Contains(out, auth.Buyer) {
		return nil, fault.Validation(op, fault.Fieldf("roles", "must include buyer: every account can buy"))
	}
	slices.Sort(out)
	return out, nil
}
