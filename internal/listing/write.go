package listing

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mountainhighway/marketplace/internal/auth"
	"github.com/mountainhighway/marketplace/internal/fault"
)

// Limits of a listing's fields.
const (
	MinTitle       = 3
	MaxTitle       = 120
	MaxDescription = 5000
	MaxStock       = 10_000
)

// currencies are the ISO 4217 codes the marketplace settles in.
var currencies = []string{"EUR", "GBP", "USD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK"}

// Currencies returns the accepted ISO 4217 currency codes.
func Currencies() []string { return slices.Clone(currencies) }

// New is the body of POST /v1/listings: everything a seller sets when
// creating a listing. Owner, status and version are not the caller's to set.
type New struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Price       Money  `json:"price"`
	Stock       *int   `json:"stock"`
}

// Patch is the body of PATCH /v1/listings/{id}: the fields to change.
type Patch struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Category    *string `json:"category"`
	Price       *Money  `json:"price"`
	Stock       *int    `json:"stock"`
}

// Actor is who changes a listing: its seller, or an admin acting for one.
type Actor struct {
	UserID string
	Admin  bool
}

// ActorOf returns the actor of an authenticated principal.
func ActorOf(p auth.Principal) Actor { return Actor{UserID: p.UserID, Admin: p.Has(auth.Admin)} }

// Writer is the persistence of listing changes. Every method enforces its
// invariants in the store itself (conditional writes), so two concurrent
// requests can never both win.
type Writer interface {
	// Create stores a new listing; it fails if the id exists.
	Create(ctx context.Context, l Listing) error
	// Update applies p to listing id if its version is still version and by
	// may change it, and returns the result. Errors: fault.NotFound (absent,
	// or another seller's listing the public cannot see), fault.Forbidden
	// (another seller's visible listing), fault.PreconditionFailed (stale
	// version).
	Update(ctx context.Context, id string, version int64, by Actor, p Patch, now time.Time) (Listing, error)
	// Transition moves listing id from one of from to to, with the same
	// ownership errors as Update and fault.Conflict when its status is not
	// one of from.
	Transition(ctx context.Context, id string, by Actor, from []Status, to Status, now time.Time) (Listing, error)
}

// Editor is the write side of listings.
type Editor struct {
	store Writer
	now   func() time.Time
}

// NewEditor returns an Editor over store.
func NewEditor(store Writer, now func() time.Time) *Editor {
	if now == nil {
		now = time.Now
	}
	return &Editor{store: store, now: now}
}

// Create stores a new draft owned by the caller.
func (e *Editor) Create(ctx context.Context, p auth.Principal, d New) (Listing, error) {
	const op = "listing.Create"
	stock := 1
	if d.Stock != nil {
		stock = *d.Stock
	}
	title, desc := clean(d.Title), cleanText(d.Description)
	var errs []fault.FieldError
	errs = append(errs, checkTitle(title)...)
	errs = append(errs, checkDescription(desc)...)
	errs = append(errs, checkCategory(d.Category)...)
	errs = append(errs, checkPrice(d.Price)...)
	errs = append(errs, checkStock(stock)...)
	if len(errs) > 0 {
		return Listing{}, fault.Validation(op, errs...)
	}
	now := e.now().UTC()
	l := Listing{
		ID: NewID(now), SellerID: p.UserID, Title: title, Description: desc, Category: d.Category,
		Price: d.Price, Status: Draft, Stock: stock, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if err := e.store.Create(ctx, l); err != nil {
		return Listing{}, fault.Wrap(op, err)
	}
	return l, nil
}

// Update changes the fields of p on a listing whose version is still
// version. A published listing whose stock reaches zero becomes sold.
func (e *Editor) Update(ctx context.Context, p auth.Principal, id string, version int64, patch Patch) (Listing, error) {
	const op = "listing.Update"
	if !ValidID(id) {
		return Listing{}, fault.E(op, fault.NotFound, "no listing with id "+quote(id))
	}
	var errs []fault.FieldError
	if patch.Title != nil {
		t := clean(*patch.Title)
		patch.Title = &t
		errs = append(errs, checkTitle(t)...)
	}
	if patch.Description != nil {
		d := cleanText(*patch.Description)
		patch.Description = &d
		errs = append(errs, checkDescription(d)...)
	}
	if patch.Category != nil {
		errs = append(errs, checkCategory(*patch.Category)...)
	}
	if patch.Price != nil {
		errs = append(errs, checkPrice(*patch.Price)...)
	}
	if patch.Stock != nil {
		errs = append(errs, checkStock(*patch.Stock)...)
	}
	if len(errs) > 0 {
		return Listing{}, fault.Validation(op, errs...)
	}
	l, err := e.store.Update(ctx, id, version, ActorOf(p), patch, e.now().UTC())
	return l, passOn(op, err)
}

// Publish makes a draft (or an archived listing) visible to buyers.
func (e *Editor) Publish(ctx context.Context, p auth.Principal, id string) (Listing, error) {
	return e.transition(ctx, "listing.Publish", p, id, []Status{Draft, Archived}, Published)
}

// Archive hides a listing from buyers without deleting it.
func (e *Editor) Archive(ctx context.Context, p auth.Principal, id string) (Listing, error) {
	return e.transition(ctx, "listing.Archive", p, id, []Status{Draft, Published, Sold}, Archived)
}

func (e *Editor) transition(ctx context.Context, op string, p auth.Principal, id string, from []Status, to Status) (Listing, error) {
	if !ValidID(id) {
		return Listing{}, fault.E(op, fault.NotFound, "no listing with id "+quote(id))
	}
	l, err := e.store.Transition(ctx, id, ActorOf(p), from, to, e.now().UTC())
	return l, passOn(op, err)
}

// passOn keeps the store's classified errors (they carry safe messages)
// and wraps the rest as internal.
func passOn(op string, err error) error {
	if err == nil {
		return nil
	}
	if fe, ok := fault.As(err); ok && fe.Kind != fault.Internal {
		return err
	}
	return fault.Wrap(op, err)
}

func clean(s string) string { return strings.Join(strings.Fields(norm.NFC.String(s)), " ") }

// cleanText normalises a description but keeps its line breaks.
func cleanText(s string) string {
	lines := strings.Split(strings.ReplaceAll(norm.NFC.String(s), "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func checkTitle(t string) []fault.FieldError {
	if n := utf8.RuneCountInString(t); n < MinTitle || n > MaxTitle {
		return []fault.FieldError{fault.Fieldf("title", "must be %d to %d characters", MinTitle, MaxTitle)}
	}
	if hasControl(t) {
		return []fault.FieldError{fault.Fieldf("title", "must not contain control characters")}
	}
	return nil
}

func checkDescription(d string) []fault.FieldError {
	if utf8.RuneCountInString(d) > MaxDescription {
		return []fault.FieldError{fault.Fieldf("description", "must be at most %d characters", MaxDescription)}
	}
	return nil
}

func checkCategory(c string) []fault.FieldError {
	if !ValidCategory(c) {
		return []fault.FieldError{fault.Fieldf("category", "must be one of %s", strings.Join(categories, ", "))}
	}
	return nil
}

func checkPrice(m Money) []fault.FieldError {
	var errs []fault.FieldError
	if m.Amount < 1 || m.Amount > MaxPrice {
		errs = append(errs, fault.Fieldf("price.amount", "must be a whole number of minor units (cents) between 1 and %d", int64(MaxPrice)))
	}
	if !slices.Contains(currencies, m.Currency) {
		errs = append(errs, fault.Fieldf("price.currency", "must be one of %s", strings.Join(currencies, ", ")))
	}
	return errs
}

func checkStock(n int) []fault.FieldError {
	if n < 0 || n > MaxStock {
		return []fault.FieldError{fault.Fieldf("stock", "must be between 0 and %d", MaxStock)}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
