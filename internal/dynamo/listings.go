package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/table"
)

// ListingsAPI is the part of the DynamoDB client the listing store calls.
type ListingsAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Listings stores listings. Item layout and indexes (see docs/data-model.md):
//
//	PK = LISTING#<id>  SK = LISTING
//	GSI1PK = CATEGORY#<category>  GSI1SK = <publishedAt>#<id>   (published only)
//	GSI2PK = PUBLISHED            GSI2SK = <publishedAt>#<id>   (published only)
//	GSI3PK = CATEGORY#<category>  GSI3SK = <price>#<id>         (published only)
//	GSI4PK = PUBLISHED            GSI4SK = <price>#<id>         (published only)
//
// The indexes are sparse: only published listings carry their keys, so
// browsing never reads a draft.
type Listings struct {
	db    ListingsAPI
	table string
	index *SearchIndex
}

var (
	_ listing.Store  = (*Listings)(nil)
	_ listing.Getter = (*Listings)(nil)
)

// WithIndex returns the store keeping the keyword index current after
// every change of a listing.
func (s *Listings) WithIndex(idx *SearchIndex) *Listings {
	c := *s
	c.index = idx
	return &c
}

// GetMany reads published listings by id, in the order of ids.
func (s *Listings) GetMany(ctx context.Context, ids []string) ([]listing.Listing, error) {
	ls, err := GetListings(ctx, s.db, s.table, ids)
	if err != nil {
		return nil, fault.Wrap("dynamo.Listings.GetMany", err)
	}
	return ls, nil
}

// NewListings returns the listing store on table name.
func NewListings(db ListingsAPI, name string) *Listings {
	return &Listings{db: db, table: name}
}

// pageRounds bounds the queries one Browse makes when a price filter
// discards items, so a selective filter returns a short page with a cursor
// instead of reading the whole partition.
const (
	pageRounds   = 5
	filteredPage = 100
)

// sortTime is fixed-width so that lexical order is time order.
const sortTime = "2006-01-02T15:04:05.000000000Z"

type listingItem struct {
	PK          string     `dynamodbav:"PK"`
	SK          string     `dynamodbav:"SK"`
	GSI1PK      string     `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK      string     `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK      string     `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK      string     `dynamodbav:"GSI2SK,omitempty"`
	GSI3PK      string     `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK      string     `dynamodbav:"GSI3SK,omitempty"`
	GSI4PK      string     `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK      string     `dynamodbav:"GSI4SK,omitempty"`
	Type        string     `dynamodbav:"type"`
	ID          string     `dynamodbav:"id"`
	SellerID    string     `dynamodbav:"sellerId"`
	Title       string     `dynamodbav:"title"`
	Description string     `dynamodbav:"description"`
	Category    string     `dynamodbav:"category"`
	PriceAmount int64      `dynamodbav:"priceAmount"`
	Currency    string     `dynamodbav:"currency"`
	Status      string     `dynamodbav:"status"`
	Stock       int        `dynamodbav:"stock"`
	CreatedAt   string     `dynamodbav:"createdAt"`
	UpdatedAt   string     `dynamodbav:"updatedAt"`
	PublishedAt string     `dynamodbav:"publishedAt,omitempty"`
	Version     int64      `dynamodbav:"version"`
	Cover       *coverItem `dynamodbav:"cover,omitempty"`
}

type coverItem struct {
	ImageID  string                 `dynamodbav:"imageId"`
	Variants []listing.ImageVariant `dynamodbav:"variants"`
}

func listingKey(id string) map[string]types.AttributeValue { return key("LISTING#"+id, "LISTING") }

func toItem(l listing.Listing) listingItem {
	var cover *coverItem
	if l.Cover != nil {
		cover = &coverItem{ImageID: l.Cover.ImageID, Variants: l.Cover.Variants}
	}
	it := listingItem{
		Cover: cover,
		PK:    "LISTING#" + l.ID, SK: "LISTING", Type: "listing",
		ID: l.ID, SellerID: l.SellerID, Title: l.Title, Description: l.Description,
		Category: l.Category, PriceAmount: l.Price.Amount, Currency: l.Price.Currency,
		Status: string(l.Status), Stock: l.Stock,
		CreatedAt: l.CreatedAt.UTC().Format(time.RFC3339Nano),
		UpdatedAt: l.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Version:   l.Version,
	}
	if l.PublishedAt != nil {
		it.PublishedAt = l.PublishedAt.UTC().Format(time.RFC3339Nano)
		if l.Status == listing.Published {
			sk := l.PublishedAt.UTC().Format(sortTime) + "#" + l.ID
			it.GSI1PK, it.GSI1SK = "CATEGORY#"+l.Category, sk
			it.GSI2PK, it.GSI2SK = "PUBLISHED", sk
			byPrice := priceKey(l.Price.Amount) + "#" + l.ID
			it.GSI3PK, it.GSI3SK = "CATEGORY#"+l.Category, byPrice
			it.GSI4PK, it.GSI4SK = "PUBLISHED", byPrice
		}
	}
	return it
}

func fromItem(it listingItem) (listing.Listing, error) {
	var cover *listing.Cover
	if it.Cover != nil {
		cover = &listing.Cover{ImageID: it.Cover.ImageID, Variants: it.Cover.Variants}
	}
	l := listing.Listing{
		Cover: cover,
		ID:    it.ID, SellerID: it.SellerID, Title: it.Title, Description: it.Description,
		Category: it.Category, Price: listing.Money{Amount: it.PriceAmount, Currency: it.Currency},
		Status: listing.Status(it.Status), Stock: it.Stock, Version: it.Version,
	}
	var err error
	if l.CreatedAt, err = time.Parse(time.RFC3339Nano, it.CreatedAt); err != nil {
		return l, fmt.Errorf("listing %s createdAt: %w", it.ID, err)
	}
	if l.UpdatedAt, err = time.Parse(time.RFC3339Nano, it.UpdatedAt); err != nil {
		return l, fmt.Errorf("listing %s updatedAt: %w", it.ID, err)
	}
	if it.PublishedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, it.PublishedAt)
		if err != nil {
			return l, fmt.Errorf("listing %s publishedAt: %w", it.ID, err)
		}
		l.PublishedAt = &t
	}
	return l, nil
}

// Get returns the listing with id and its counters, or a fault.NotFound
// error. One Query on the listing's partition reads both items.
func (s *Listings) Get(ctx context.Context, id string) (listing.Listing, error) {
	const op = "dynamo.Listings.Get"
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("LISTING#" + id)},
	})
	if err != nil {
		return listing.Listing{}, fault.Wrap(op, err)
	}
	var (
		l      listing.Listing
		found  bool
		stats  listing.Stats
		images []listing.Image
	)
	for _, item := range out.Items {
		sk, _ := item[table.SK].(*types.AttributeValueMemberS)
		switch {
		case sk == nil:
		case sk.Value == "LISTING":
			var it listingItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return listing.Listing{}, fault.Wrap(op, err)
			}
			if l, err = fromItem(it); err != nil {
				return listing.Listing{}, fault.Wrap(op, err)
			}
			found = true
		case sk.Value == "STATS":
			if stats, err = decodeStats(item); err != nil {
				return listing.Listing{}, fault.Wrap(op, err)
			}
		case isImageSK(sk.Value):
			img, err := decodeImage(item)
			if err != nil {
				return listing.Listing{}, fault.Wrap(op, err)
			}
			images = append(images, img)
		}
	}
	if !found {
		return listing.Listing{}, fault.E(op, fault.NotFound, "no listing "+id)
	}
	l.Stats = &stats
	l.Images = images
	return l, nil
}

// priceKey is fixed-width so that lexical order is price order.
func priceKey(amount int64) string { return fmt.Sprintf("%013d", amount) }

// Browse queries the category index, or the all-listings index when no
// category is given, in the order asked: newest first (GSI1/GSI2) or by
// price (GSI3/GSI4). On the price indexes a price range is part of the key
// condition; on the recency indexes it is a filter expression (see
// pageRounds).
func (s *Listings) Browse(ctx context.Context, q listing.Query, after map[string]string) ([]listing.Listing, map[string]string, error) {
	const op = "dynamo.Listings.Browse"
	ix, partition := indexFor(q)
	keyNames := []string{table.PK, table.SK, ix.PK, ix.SK}

	var start map[string]types.AttributeValue
	if after != nil {
		if len(after) != len(keyNames) || after[ix.PK] != partition {
			return nil, nil, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "does not belong to this query"})
		}
		start = map[string]types.AttributeValue{}
		for _, k := range keyNames {
			v, ok := after[k]
			if !ok {
				return nil, nil, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "does not belong to this query"})
			}
			start[k] = &types.AttributeValueMemberS{Value: v}
		}
	}

	kb := expression.Key(ix.PK).Equal(expression.Value(partition))
	filtered := q.HasPriceFilter() && !q.ByPrice()
	if q.HasPriceFilter() && q.ByPrice() {
		kb = kb.And(priceRange(ix.SK, q))
	}
	eb := expression.NewBuilder().WithKeyCondition(kb)
	if filtered {
		eb = eb.WithFilter(priceFilter(q))
	}
	expr, err := eb.Build()
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}

	var raw []map[string]types.AttributeValue
	for round := 0; ; round++ {
		want := q.Limit + 1 - len(raw) // one more than needed tells whether a next page exists
		if filtered {
			want = max(want, filteredPage)
		}
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(ix.Name),
			KeyConditionExpression:    expr.KeyCondition(),
			FilterExpression:          expr.Filter(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(q.Sort == listing.PriceAsc),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(want)),
		})
		if err != nil {
			return nil, nil, fault.Wrap(op, err)
		}
		raw = append(raw, out.Items...)
		start = out.LastEvaluatedKey
		if len(raw) > q.Limit || len(start) == 0 {
			break
		}
		if round+1 == pageRounds {
			// Out of budget: hand back what we have and where we stopped.
			items, err := decodeListings(raw)
			if err != nil {
				return nil, nil, fault.Wrap(op, err)
			}
			return items, positionOf(start, keyNames), nil
		}
	}

	var next map[string]string
	if len(raw) > q.Limit {
		raw = raw[:q.Limit]
		next = positionOf(raw[len(raw)-1], keyNames)
	}
	items, err := decodeListings(raw)
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}
	return items, next, nil
}

func indexFor(q listing.Query) (table.Index, string) {
	name := map[[2]bool]string{
		{true, false}: table.GSI1, {false, false}: table.GSI2, // newest first
		{true, true}: table.GSI3, {false, true}: table.GSI4, // by price
	}[[2]bool{q.Category != "", q.ByPrice()}]
	ix, _ := table.Lookup(name)
	if q.Category != "" {
		return ix, "CATEGORY#" + q.Category
	}
	return ix, "PUBLISHED"
}

// priceRange bounds a price index's sort key: "<price>#<id>", where '~'
// sorts after every id character.
func priceRange(sk string, q listing.Query) expression.KeyConditionBuilder {
	switch {
	case q.MinPrice != nil && q.MaxPrice != nil:
		return expression.Key(sk).Between(expression.Value(priceKey(*q.MinPrice)+"#"), expression.Value(priceKey(*q.MaxPrice)+"#~"))
	case q.MinPrice != nil:
		return expression.Key(sk).GreaterThanEqual(expression.Value(priceKey(*q.MinPrice) + "#"))
	default:
		return expression.Key(sk).LessThanEqual(expression.Value(priceKey(*q.MaxPrice) + "#~"))
	}
}

func priceFilter(q listing.Query) expression.ConditionBuilder {
	price := expression.Name("priceAmount")
	switch {
	case q.MinPrice != nil && q.MaxPrice != nil:
		return price.Between(expression.Value(*q.MinPrice), expression.Value(*q.MaxPrice))
	case q.MinPrice != nil:
		return price.GreaterThanEqual(expression.Value(*q.MinPrice))
	default:
		return price.LessThanEqual(expression.Value(*q.MaxPrice))
	}
}

// positionOf extracts the key attributes of an item (or of a
// LastEvaluatedKey) as the string map a cursor carries.
func positionOf(item map[string]types.AttributeValue, names []string) map[string]string {
	pos := make(map[string]string, len(names))
	for _, n := range names {
		if s, ok := item[n].(*types.AttributeValueMemberS); ok {
			pos[n] = s.Value
		}
	}
	return pos
}

func decodeListings(raw []map[string]types.AttributeValue) ([]listing.Listing, error) {
	var its []listingItem
	if err := attributevalue.UnmarshalListOfMaps(raw, &its); err != nil {
		return nil, err
	}
	out := make([]listing.Listing, 0, len(its))
	for _, it := range its {
		l, err := fromItem(it)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Put writes listings, 25 per BatchWriteItem call, retrying unprocessed
// items. It replaces whole items and is meant for seeding and tests; the
// write paths with invariants use conditional writes.
func (s *Listings) Put(ctx context.Context, ls ...listing.Listing) error {
	const op = "dynamo.Listings.Put"
	reqs := make([]types.WriteRequest, 0, len(ls))
	for _, l := range ls {
		av, err := attributevalue.MarshalMap(toItem(l))
		if err != nil {
			return fault.Wrap(op, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	if err := searchBatchWrite(ctx, s.db, s.table, reqs); err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}
