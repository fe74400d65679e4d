// Package demo generates the demo marketplace that mh dev seeds: a few
// hundred listings across every category, deterministic for a given seed so
// that examples in the docs keep working.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/mountainhighway/marketplace/internal/listing"
)

type catalogue struct {
	adjectives []string
	nouns      []string
	minPrice   int64 // minor units
	maxPrice   int64
}

var catalogues = map[string]catalogue{
	"electronics":  {[]string{"Refurbished", "Wireless", "Compact", "Vintage", "Noise-cancelling"}, []string{"headphones", "camera", "laptop", "speaker", "e-reader", "drone"}, 15_00, 1_200_00},
	"fashion":      {[]string{"Linen", "Wool", "Leather", "Denim", "Handmade"}, []string{"jacket", "scarf", "boots", "dress", "backpack", "belt"}, 8_00, 350_00},
	"home":         {[]string{"Oak", "Ceramic", "Rattan", "Cast-iron", "Velvet"}, []string{"armchair", "lamp", "teapot", "mirror", "rug", "bookcase"}, 10_00, 900_00},
	"garden":       {[]string{"Terracotta", "Galvanised", "Folding", "Solar", "Cedar"}, []string{"planter", "bench", "lantern", "watering can", "trellis"}, 5_00, 400_00},
	"sports":       {[]string{"Carbon", "Lightweight", "Waterproof", "Pro", "Junior"}, []string{"road bike", "tennis racket", "tent", "climbing shoes", "kayak"}, 12_00, 2_500_00},
	"toys":         {[]string{"Wooden", "Classic", "Magnetic", "Plush", "Remote-control"}, []string{"train set", "puzzle", "building blocks", "doll house", "robot"}, 4_00, 250_00},
	"books":        {[]string{"First-edition", "Illustrated", "Signed", "Hardback", "Annotated"}, []string{"atlas", "cookbook", "novel", "poetry collection", "field guide"}, 3_00, 600_00},
	"music":        {[]string{"Acoustic", "Analog", "Vintage", "Electric", "Studio"}, []string{"guitar", "synthesizer", "turntable", "violin", "drum kit"}, 20_00, 3_000_00},
	"art":          {[]string{"Original", "Framed", "Limited-edition", "Abstract", "Watercolour"}, []string{"print", "painting", "sculpture", "etching", "photograph"}, 25_00, 5_000_00},
	"collectibles": {[]string{"Rare", "Mint", "Boxed", "Antique", "Numbered"}, []string{"coin set", "stamp album", "trading cards", "pocket watch", "vinyl record"}, 5_00, 1_500_00},
	"vehicles":     {[]string{"Restored", "Electric", "Classic", "Low-mileage", "Folding"}, []string{"scooter", "motorbike", "cargo bike", "camper van", "moped"}, 150_00, 25_000_00},
	"other":        {[]string{"Assorted", "Mixed", "Spare", "Unused", "Bulk"}, []string{"craft supplies", "office chair", "moving boxes", "sewing kit", "tool set"}, 2_00, 150_00},
}

var conditions = []string{"in excellent condition", "lightly used", "as new, never opened", "with minor signs of wear", "fully working"}

// Sellers are the demo seller ids the listings belong to.
var Sellers = []string{"usr_demo_seller_1", "usr_demo_seller_2", "usr_demo_seller_3"}

// Listings returns n listings published over the 60 days before now, one in
// ten of them still a draft, generated from seed.
func Listings(n int, seed uint64, now time.Time) []listing.Listing {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cats := listing.Categories()
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	entropy := ulid.Monotonic(rand.NewChaCha8(key), 0)
	out := make([]listing.Listing, 0, n)
	for i := 0; i < n; i++ {
		cat := cats[i%len(cats)]
		c := catalogues[cat]
		adj, noun := c.adjectives[rng.IntN(len(c.adjectives))], c.nouns[rng.IntN(len(c.nouns))]
		created := now.Add(-time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))).Truncate(time.Millisecond)
		price := c.minPrice + rng.Int64N(c.maxPrice-c.minPrice)
		price -= price % 100
		price += 99 // prices end in .99, like real ones
		l := listing.Listing{
			ID:          "lst_" + ulid.MustNew(ulid.Timestamp(created), entropy).String(),
			SellerID:    Sellers[rng.IntN(len(Sellers))],
			Title:       adj + " " + noun,
			Description: fmt.Sprintf("%s %s, %s. Collection or tracked delivery.", adj, noun, conditions[rng.IntN(len(conditions))]),
			Category:    cat,
			Price:       listing.Money{Amount: price, Currency: "EUR"},
			Status:      listing.Published,
			Stock:       1 + rng.IntN(3),
			CreatedAt:   created,
			UpdatedAt:   created,
			Version:     1,
		}
		if i%10 == 9 {
			l.Status = listing.Draft
		} else {
			published := created.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			l.PublishedAt = &published
			l.UpdatedAt = published
		}
		out = append(out, l)
	}
	return out
}
