package demo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mountainhighway/marketplace/internal/demo"
	"github.com/mountainhighway/marketplace/internal/listing"
)

func TestListingsAreValidDeterministicAndVaried(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := demo.Listings(300, 1, now)
	b := demo.Listings(300, 1, now)
	assert.Equal(t, a, b, "the same seed gives the same data")
	assert.NotEqual(t, a, demo.Listings(300, 2, now))

	ids := map[string]bool{}
	cats := map[string]int{}
	drafts := 0
	for _, l := range a {
		assert.True(t, listing.ValidID(l.ID), l.ID)
		assert.False(t, ids[l.ID], "duplicate id %s", l.ID)
		ids[l.ID] = true
		assert.True(t, listing.ValidCategory(l.Category), l.Category)
		cats[l.Category]++
		assert.Positive(t, l.Price.Amount)
		assert.Equal(t, int64(99), l.Price.Amount%100)
		assert.Equal(t, "EUR", l.Price.Currency)
		assert.NotEmpty(t, l.Title)
		assert.Contains(t, demo.Sellers, l.SellerID)
		assert.False(t, l.CreatedAt.After(now))
		switch l.Status {
		case listing.Draft:
			drafts++
			assert.Nil(t, l.PublishedAt)
		case listing.Published:
			if assert.NotNil(t, l.PublishedAt) {
				assert.False(t, l.PublishedAt.Before(l.CreatedAt))
			}
		default:
			t.Errorf("unexpected status %s", l.Status)
		}
	}
	assert.Len(t, cats, len(listing.Categories()), "every category is represented")
	assert.Equal(t, 30, drafts)
}
