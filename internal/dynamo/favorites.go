package dynamo

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/table"
)

// FavoritesAPI is the part of the DynamoDB client favourites use.
type FavoritesAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Favorites stores favourites and listing counters:
//
//	PK = USER#<user>       SK = FAV#<listing>  GSI1PK = FAVS#<user>  GSI1SK = <createdAt>#<listing>
//	PK = LISTING#<listing> SK = STATS          favorites, views (ADD only)
//
// The favourite and its count change in one transaction, conditional on
// the favourite (not) existing, so repeating a request never double-counts.
type Favorites struct {
	db    FavoritesAPI
	table string
}

var (
	_ listing.FavoriteStore = (*Favorites)(nil)
	_ listing.ViewStore     = (*Favorites)(nil)
)

// NewFavorites returns the favourites store on table name.
func NewFavorites(db FavoritesAPI, name string) *Favorites { return &Favorites{db: db, table: name} }

func favKey(user, id string) map[string]types.AttributeValue { return key("USER#"+user, "FAV#"+id) }
func statsKey(id string) map[string]types.AttributeValue     { return key("LISTING#"+id, "STATS") }

func (s *Favorites) count(id string, delta int) *types.Update {
	return &types.Update{
		TableName: aws.String(s.table), Key: statsKey(id),
		UpdateExpression:          aws.String("ADD favorites :d SET #type = :stats"),
		ExpressionAttributeNames:  map[string]string{"#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberN{Value: strconv.Itoa(delta)}, ":stats": str("stats")},
	}
}

// AddFavorite stores the favourite and counts it, once, if the listing is
// visible.
func (s *Favorites) AddFavorite(ctx context.Context, user, id string, now time.Time) (bool, error) {
	const op = "dynamo.Favorites.AddFavorite"
	item := favKey(user, id)
	item["type"] = str("favorite")
	item["listingId"] = str(id)
	item["GSI1PK"] = str("FAVS#" + user)
	item["GSI1SK"] = str(now.UTC().Format(sortTime) + "#" + id)
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: listingKey(id),
			ConditionExpression:       aws.String("#s IN (:published, :sold)"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":published": str(string(listing.Published)), ":sold": str(string(listing.Sold))},
		}},
		{Update: s.count(id, 1)},
	}})
	if failed := cancelled(err); failed != nil {
		if failed[1] {
			return false, fault.E(op, fault.NotFound, "no listing with id "+strconv.Quote(id))
		}
		if failed[0] {
			return false, nil // already a favourite
		}
	}
	if err != nil {
		return false, fault.Wrap(op, err)
	}
	return true, nil
}

// RemoveFavorite deletes the favourite and uncounts it, once.
func (s *Favorites) RemoveFavorite(ctx context.Context, user, id string) (bool, error) {
	const op = "dynamo.Favorites.RemoveFavorite"
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: favKey(user, id), ConditionExpression: aws.String("attribute_exists(PK)")}},
		{Update: s.count(id, -1)},
	}})
	if failed := cancelled(err); failed != nil && failed[0] {
		return false, nil // not a favourite
	}
	if err != nil {
		return false, fault.Wrap(op, err)
	}
	return true, nil
}

// Favorites returns a page of user's favourite listings, most recently
// favourited first: one Query on GSI1 and one BatchGetItem. Favourites whose
// listing is no longer visible are left out of the page.
func (s *Favorites) Favorites(ctx context.Context, user string, limit int, after map[string]string) ([]listing.Listing, map[string]string, error) {
	const op = "dynamo.Favorites.Favorites"
	ix, _ := table.Lookup(table.GSI1)
	names := []string{table.PK, table.SK, ix.PK, ix.SK}
	var start map[string]types.AttributeValue
	if after != nil {
		if len(after) != len(names) || after[ix.PK] != "FAVS#"+user {
			return nil, nil, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "does not belong to this list"})
		}
		start = map[string]types.AttributeValue{}
		for _, n := range names {
			start[n] = str(after[n])
		}
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(ix.Name),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": ix.PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("FAVS#" + user)},
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(int32(limit + 1)),
	})
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}
	raw := out.Items
	var next map[string]string
	if len(raw) > limit {
		raw = raw[:limit]
		next = positionOf(raw[len(raw)-1], names)
	}
	ids := make([]string, 0, len(raw))
	for _, it := range raw {
		if v, ok := it["listingId"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, v.Value)
		}
	}
	ls, err := getListings(ctx, s.db, s.table, ids, listing.Listing.Visible)
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}
	return ls, next, nil
}

// AddViews adds view counts, one UpdateItem per listing.
func (s *Favorites) AddViews(ctx context.Context, counts map[string]int64) error {
	const op = "dynamo.Favorites.AddViews"
	for _, id := range sortedKeys(counts) {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: statsKey(id),
			UpdateExpression:          aws.String("ADD #views :n SET #type = :stats"),
			ExpressionAttributeNames:  map[string]string{"#views": "views", "#type": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.FormatInt(counts[id], 10)}, ":stats": str("stats")},
		})
		if err != nil {
			return fault.Wrap(op, err)
		}
	}
	return nil
}

type statsItem struct {
	Favorites int64 `dynamodbav:"favorites"`
	Views     int64 `dynamodbav:"views"`
}

func decodeStats(item map[string]types.AttributeValue) (listing.Stats, error) {
	var st statsItem
	if err := attributevalue.UnmarshalMap(item, &st); err != nil {
		return listing.Stats{}, err
	}
	return listing.Stats{Favorites: max(st.Favorites, 0), Views: st.Views}, nil
}
