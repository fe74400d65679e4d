package search

import (
	"cmp"
	"slices"
	"time"
)

// Hit is one listing a search found, with its relevance.
type Hit struct {
	ListingID string
	Score     float64
}

// titleBonus is what a title match adds over a description match, shared
// between the query's terms so that all of them together add less than one
// matched term does.
const titleBonus = 0.5

// Score is the relevance of a listing to a query: the number of distinct
// query terms the listing contains, plus a bonus below one for the share of
// them found in its title. So a listing matching more terms always ranks
// first, and among listings matching as many, title matches outrank
// description matches. hits maps a term's text to how the listing contains
// it; terms absent from hits did not match. Ties are left to Rank, which
// breaks them by recency.
func Score(queryTerms []string, hits map[string]Term) float64 {
	distinct := make(map[string]bool, len(queryTerms))
	matched, inTitle := 0, 0
	for _, q := range queryTerms {
		if distinct[q] {
			continue
		}
		distinct[q] = true
		h, ok := hits[q]
		if !ok {
			continue
		}
		matched++
		if h.InTitle {
			inTitle++
		}
	}
	if matched == 0 {
		return 0
	}
	return float64(matched) + titleBonus*float64(inTitle)/float64(len(distinct))
}

// Ranked is a hit with what Rank needs to break ties.
type Ranked struct {
	Hit
	PublishedAt time.Time
}

// Rank orders hits best first: by score, then most recently published, then
// by listing id, so the order is total and pages of it never overlap.
func Rank(rs []Ranked) {
	slices.SortFunc(rs, func(a, b Ranked) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := b.PublishedAt.Compare(a.PublishedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ListingID, a.ListingID)
	})
}
