package search

import (
	"strings"
	"unicode/utf8"

	"github.com/mountainhighway/marketplace/internal/fault"
)

// Limits of a buyer's query. Each term costs one index read, so the number
// of terms bounds what one search costs.
const (
	MaxQueryRunes = 100
	MaxQueryTerms = 8
)

// ParseQuery returns the distinct terms of a buyer's query, in the order
// typed, through the same pipeline as Terms, so that they compare equal to
// the indexed terms of the listings they should find. It fails with a
// fault.Invalid error on the field "query.q" when q is longer than
// MaxQueryRunes, has more than MaxQueryTerms terms, or has no term at all
// (only punctuation, emoji, single letters or stop-words).
//
// Joined with spaces, the terms are the normalised query to log or emit.
func ParseQuery(q string) ([]string, error) {
	const op = "search.ParseQuery"
	invalid := func(format string, args ...any) error {
		return fault.Validation(op, fault.Fieldf("query.q", format, args...))
	}
	q = strings.TrimSpace(q)
	if n := utf8.RuneCountInString(q); n > MaxQueryRunes {
		return nil, invalid("must be at most %d characters, not %d", MaxQueryRunes, n)
	}
	var terms []string
	seen := map[string]bool{}
	for _, w := range words(q) {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, w)
		}
	}
	switch {
	case len(terms) == 0:
		return nil, invalid("must contain a word to search for: two or more letters or digits, not only common words like %q", "the")
	case len(terms) > MaxQueryTerms:
		return nil, invalid("must have at most %d words to search for, not %d", MaxQueryTerms, len(terms))
	}
	return terms, nil
}
