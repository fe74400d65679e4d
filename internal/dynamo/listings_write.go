package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/telemetry"
)

var _ listing.Writer = (*Listings)(nil)

// Create stores a new listing, failing if its id exists.
func (s *Listings) Create(ctx context.Context, l listing.Listing) error {
	const op = "dynamo.Listings.Create"
	item, err := attributevalue.MarshalMap(toItem(l))
	if err != nil {
		return fault.Wrap(op, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// Update applies a patch with optimistic locking: it reads the listing,
// checks ownership and version, and writes the whole item back on the
// condition that the version is still the one read. Writing the whole item
// keeps every derived attribute (index keys, sold status) computed in one
// place, toItem; the condition makes the read-modify-write safe.
func (s *Listings) Update(ctx context.Context, id string, version int64, by listing.Actor, p listing.Patch, now time.Time) (listing.Listing, error) {
	const op = "dynamo.Listings.Update"
	l, err := s.owned(ctx, op, id, by)
	if err != nil {
		return listing.Listing{}, err
	}
	before := l
	if l.Version != version {
		return listing.Listing{}, stale(op, l.Version)
	}
	if p.Title != nil {
		l.Title = *p.Title
	}
	if p.Description != nil {
		l.Description = *p.Description
	}
	if p.Category != nil {
		l.Category = *p.Category
	}
	if p.Price != nil {
		l.Price = *p.Price
	}
	if p.Stock != nil {
		l.Stock = *p.Stock
		switch {
		case l.Status == listing.Published && l.Stock == 0:
			l.Status = listing.Sold
		case l.Status == listing.Sold && l.Stock > 0:
			l.Status = listing.Published
		}
	}
	return s.replaceAndIndex(ctx, op, before, l, now)
}

// Transition moves a listing between statuses, with the same checks.
func (s *Listings) Transition(ctx context.Context, id string, by listing.Actor, from []listing.Status, to listing.Status, now time.Time) (listing.Listing, error) {
	const op = "dynamo.Listings.Transition"
	l, err := s.owned(ctx, op, id, by)
	if err != nil {
		return listing.Listing{}, err
	}
	if l.Status == to {
		// Idempotent: publishing a published listing changes nothing but
		// repairs its index entries, should an earlier write have failed.
		s.reindex(ctx, nil, &l)
		return l, nil
	}
	before := l
	if !slices.Contains(from, l.Status) {
		return listing.Listing{}, fault.E(op, fault.Conflict, fmt.Sprintf("a %s listing cannot become %s", l.Status, to))
	}
	if to == listing.Published {
		if l.Stock == 0 {
			return listing.Listing{}, fault.E(op, fault.Conflict, "a listing with no stock cannot be published; set stock first")
		}
		published := now
		l.PublishedAt = &published
	}
	l.Status = to
	return s.replaceAndIndex(ctx, op, before, l, now)
}

// replaceAndIndex writes the listing, then its keyword index entries. The
// index is not in the listing's transaction: a failed index write leaves
// the listing saved and search one change behind, so it is logged as an
// error (and repaired by the next change or publish), not returned.
func (s *Listings) replaceAndIndex(ctx context.Context, op string, before, l listing.Listing, now time.Time) (listing.Listing, error) {
	saved, err := s.replace(ctx, op, l, now)
	if err != nil {
		return listing.Listing{}, err
	}
	s.reindex(ctx, &before, &saved)
	return saved, nil
}

func (s *Listings) reindex(ctx context.Context, before, after *listing.Listing) {
	if s.index == nil {
		return
	}
	if err := s.index.Reindex(ctx, before, after); err != nil {
		telemetry.FromContext(ctx).Logger.Error("search index update failed", slog.String("listingId", after.ID), slog.String("error", err.Error()))
	}
}

// owned reads a listing for a change by actor. Another seller's listing is
// "not found" while the public cannot see it, so drafts stay private, and
// forbidden once it is visible.
func (s *Listings) owned(ctx context.Context, op, id string, by listing.Actor) (listing.Listing, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: listingKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	notFound := fault.E(op, fault.NotFound, "no listing with id "+strconv.Quote(id))
	if len(out.Item) == 0 {
		return listing.Listing{}, notFound
	}
	var it listingItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	l, err := fromItem(it)
	if err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	if err := checkOwner(op, id, l, by); err != nil {
		return listing.Listing{}, err
	}
	return l, nil
}

// checkOwner lets the listing's seller, or an admin, change it. Another
// seller's listing is "not found" while the public cannot see it, so
// drafts stay private, and forbidden once it is visible.
func checkOwner(op, id string, l listing.Listing, by listing.Actor) error {
	if l.SellerID == by.UserID || by.Admin {
		return nil
	}
	if !l.Visible() {
		return fault.E(op, fault.NotFound, "no listing with id "+strconv.Quote(id))
	}
	return fault.E(op, fault.Forbidden, "only the listing's seller can change it")
}

// replace writes l back with the next version, on the condition that the
// stored version is still l's.
func (s *Listings) replace(ctx context.Context, op string, l listing.Listing, now time.Time) (listing.Listing, error) {
	read := l.Version
	l.Version++
	l.UpdatedAt = now
	item, err := attributevalue.MarshalMap(toItem(l))
	if err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("version = :read"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":read": &types.AttributeValueMemberN{Value: strconv.FormatInt(read, 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return listing.Listing{}, stale(op, -1)
	}
	if err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	return l, nil
}

func stale(op string, current int64) error {
	msg := "the listing changed since you read it; fetch it again and reapply your change"
	if current >= 0 {
		msg = fmt.Sprintf("the listing is at version %d, not the one in If-Match; fetch it again and reapply your change", current)
	}
	return fault.E(op, fault.PreconditionFailed, msg)
}
