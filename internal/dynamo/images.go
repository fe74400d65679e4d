package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
)

// Images are stored beside their listing, one item each, so the worker that
// records them never races a seller's edit of the listing:
//
//	PK = LISTING#<listing>  SK = IMAGE#<image>  status, width, height, variants, reason, createdAt
//
// GET /v1/listings/{id} reads them with the listing in its one Query.
var _ listing.ImageStore = (*Listings)(nil)

type imageItem struct {
	PK        string                 `dynamodbav:"PK"`
	SK        string                 `dynamodbav:"SK"`
	Type      string                 `dynamodbav:"type"`
	ID        string                 `dynamodbav:"id"`
	Status    string                 `dynamodbav:"status"`
	Width     int                    `dynamodbav:"width,omitempty"`
	Height    int                    `dynamodbav:"height,omitempty"`
	Variants  []listing.ImageVariant `dynamodbav:"variants,omitempty"`
	Reason    string                 `dynamodbav:"reason,omitempty"`
	CreatedAt string                 `dynamodbav:"createdAt"`
}

func imageKey(listingID, imageID string) map[string]types.AttributeValue {
	return key("LISTING#"+listingID, "IMAGE#"+imageID)
}

func decodeImage(item map[string]types.AttributeValue) (listing.Image, error) {
	var it imageItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return listing.Image{}, err
	}
	at, err := time.Parse(time.RFC3339Nano, it.CreatedAt)
	if err != nil {
		return listing.Image{}, err
	}
	return listing.Image{
		ID: it.ID, Status: listing.ImageStatus(it.Status), Width: it.Width, Height: it.Height,
		Variants: it.Variants, Reason: it.Reason, CreatedAt: at,
	}, nil
}

// Owned reads a listing with its images for a change by actor.
func (s *Listings) Owned(ctx context.Context, id string, by listing.Actor) (listing.Listing, error) {
	const op = "dynamo.Listings.Owned"
	l, err := s.Get(ctx, id)
	if fault.KindOf(err) == fault.NotFound {
		return listing.Listing{}, fault.E(op, fault.NotFound, "no listing with id "+strconv.Quote(id))
	}
	if err != nil {
		return listing.Listing{}, err
	}
	if err := checkOwner(op, id, l, by); err != nil {
		return listing.Listing{}, err
	}
	return l, nil
}

// SaveImage records a processed (or rejected) image.
func (s *Listings) SaveImage(ctx context.Context, listingID string, img listing.Image) error {
	const op = "dynamo.Listings.SaveImage"
	item, err := attributevalue.MarshalMap(imageItem{
		PK: "LISTING#" + listingID, SK: "IMAGE#" + img.ID, Type: "image", ID: img.ID, Status: string(img.Status),
		Width: img.Width, Height: img.Height, Variants: img.Variants, Reason: img.Reason,
		CreatedAt: img.CreatedAt.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fault.Wrap(op, err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// SetCover sets (or, with replace and a nil cover, removes) the listing's
// cover image and bumps its version: the listing as buyers see it changed,
// and a seller's edit based on the old version must not overwrite it.
// Without replace it only fills an empty cover.
func (s *Listings) SetCover(ctx context.Context, listingID string, c *listing.Cover, replace bool) error {
	const op = "dynamo.Listings.SetCover"
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       listingKey(listingID),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ConditionExpression:       aws.String("attribute_exists(PK)"),
	}
	if c == nil {
		return s.clearCover(ctx, listingID)
	}
	{
		av, err := attributevalue.Marshal(coverItem{ImageID: c.ImageID, Variants: c.Variants})
		if err != nil {
			return fault.Wrap(op, err)
		}
		in.ExpressionAttributeValues[":c"] = av
		in.UpdateExpression = aws.String("SET cover = :c, version = version + :one")
		if !replace {
			in.ConditionExpression = aws.String("attribute_exists(PK) AND attribute_not_exists(cover)")
		}
	}
	_, err := s.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // a cover already, or no listing any more: nothing to do
	}
	if err != nil {
		return fault.Wrap(op, err)
	}
	return nil
}

// clearCover removes the cover by rewriting the listing under its version
// condition, retrying when an edit wins the race. (One UpdateItem with
// REMOVE would do in DynamoDB, but minidyn, behind make dev, ignores a
// REMOVE combined with a SET.)
func (s *Listings) clearCover(ctx context.Context, listingID string) error {
	const op = "dynamo.Listings.clearCover"
	for attempt := 0; attempt < 3; attempt++ {
		l, err := s.owned(ctx, op, listingID, listing.Actor{Admin: true})
		if fault.KindOf(err) == fault.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if l.Cover == nil {
			return nil
		}
		l.Cover = nil
		_, err = s.replace(ctx, op, l, l.UpdatedAt)
		if fault.KindOf(err) != fault.PreconditionFailed {
			return err
		}
	}
	return fault.Wrap(op, errors.New("the listing kept changing"))
}

// DeleteImage removes an image record and returns what it held.
func (s *Listings) DeleteImage(ctx context.Context, listingID, imageID string) (listing.Image, bool, error) {
	const op = "dynamo.Listings.DeleteImage"
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: imageKey(listingID, imageID), ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return listing.Image{}, false, fault.Wrap(op, err)
	}
	if len(out.Attributes) == 0 {
		return listing.Image{}, false, nil
	}
	img, err := decodeImage(out.Attributes)
	if err != nil {
		return listing.Image{}, false, fault.Wrap(op, err)
	}
	return img, true, nil
}

// Exists reports whether a listing exists, whatever its status.
func (s *Listings) Exists(ctx context.Context, id string) (bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: listingKey(id), ProjectionExpression: aws.String("PK"),
	})
	if err != nil {
		return false, fault.Wrap("dynamo.Listings.Exists", err)
	}
	return len(out.Item) > 0, nil
}

func isImageSK(sk string) bool { return strings.HasPrefix(sk, "IMAGE#") }
