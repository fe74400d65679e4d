// Package search turns listing text and buyers' queries into the terms of a
// keyword index, and ranks matches. It is pure Go: the index itself lives in
// an adapter (dynamo.SearchIndex), which stores one item per term a listing
// contains, so whatever this package decides a term is decides what is found.
//
// Both sides go through the same pipeline — Normalize, tokenise, drop
// stop-words and very short tokens, fold plurals — so a query matches a
// listing whenever their words agree after that pipeline, whatever the case,
// accents or punctuation.
package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Limits of the index. They bound what one listing writes (MaxTerms items)
// and the size of a partition key (MaxTermRunes).
const (
	// MaxTerms is the most terms one listing is indexed under, title terms
	// first, so that a long description costs a bounded number of writes.
	MaxTerms = 50
	// MinTermRunes drops one-letter tokens ("a", "x", "5"): they match
	// nearly everything and would make the largest index partitions.
	MinTermRunes = 2
	// MaxTermRunes truncates very long tokens. Scripts written without
	// spaces (Chinese, Japanese, Thai) come out of tokenising as whole runs,
	// and a description could otherwise make a multi-kilobyte key. The
	// query goes through the same truncation, so matching is unaffected.
	MaxTermRunes = 32
)

// Term is one word of a listing, as indexed.
type Term struct {
	// Text is the normalised, plural-folded word.
	Text string
	// InTitle reports whether the word occurs in the title (it may also
	// occur in the description); title matches rank higher.
	InTitle bool
}

// Normalize returns s in the form the index compares: compatibility
// decomposition (so "ﬁ" is "fi" and "①" is "1"), accents removed, lower
// case, and the letters that do not decompose folded to their usual
// ASCII spelling (ß→ss, æ→ae, ø→o, œ→oe, and a few more), so that "Café",
// "CAFE" and "cafe" are equal. Invalid UTF-8 becomes a space.
//
// Only the generic combining diacritical marks are removed — the accents of
// Latin, Greek and Cyrillic text. Marks that are part of a letter in other
// scripts (Devanagari vowel signs, the Japanese voicing marks) are kept,
// because removing them would merge different words.
func Normalize(s string) string {
	s = strings.ToValidUTF8(s, " ")
	s = stripAccents(s)
	s = lowerFold(s)
	// Lower-casing can itself produce a combining mark ("İ" becomes
	// "i̇"), so strip once more; then recompose what is left (Hangul,
	// kept marks) so the result is stable and compact.
	s = stripAccents(s)
	return norm.NFC.String(s)
}

// stripAccents decomposes s and drops accents. The transformer is built per
// call because transform chains keep state and are not safe to share
// between goroutines.
func stripAccents(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.Predicate(isAccent)))
	out, _, err := transform.String(t, s)
	if err != nil {
		// Unreachable for valid UTF-8 input and in-memory strings; keep
		// the decomposed text rather than losing the words.
		return norm.NFKD.String(s)
	}
	return out
}

// isAccent reports whether r is a diacritic to drop: the combining marks of
// the blocks Latin, Greek and Cyrillic text use.
func isAccent(r rune) bool {
	switch {
	case r >= 0x0300 && r <= 0x036F: // Combining Diacritical Marks
	case r >= 0x1AB0 && r <= 0x1AFF: // … Extended
	case r >= 0x1DC0 && r <= 0x1DFF: // … Supplement
	case r >= 0x20D0 && r <= 0x20FF: // … for Symbols
	case r >= 0xFE20 && r <= 0xFE2F: // Combining Half Marks
	default:
		return false
	}
	return true
}

// folds spells letters that have no decomposition the way people type them
// without the special key. Keys are lower case: lowerFold lowers first.
var folds = map[rune]string{
	'ß': "ss", 'æ': "ae", 'ø': "o", 'œ': "oe", 'ł': "l", 'đ': "d", 'ð': "d",
	'þ': "th", 'ı': "i", 'ħ': "h", 'ŋ': "n",
	'ς': "σ", // Greek final sigma is the same letter as σ
}

func lowerFold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		if f, ok := folds[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Terms returns the distinct terms of a listing, title terms first, at most
// MaxTerms. A word in both the title and the description is one term with
// InTitle set.
func Terms(title, description string) []Term {
	out := make([]Term, 0, 16)
	seen := make(map[string]bool, 32)
	for _, text := range words(title) {
		if len(out) == MaxTerms {
			return out
		}
		if !seen[text] {
			seen[text] = true
			out = append(out, Term{Text: text, InTitle: true})
		}
	}
	for _, text := range words(description) {
		if len(out) == MaxTerms {
			return out
		}
		if !seen[text] {
			seen[text] = true
			out = append(out, Term{Text: text})
		}
	}
	return out
}

// words returns the index words of s, in order, possibly repeated.
func words(s string) []string {
	var out []string
	for _, tok := range strings.FieldsFunc(Normalize(s), isSeparator) {
		if utf8.RuneCountInString(tok) < MinTermRunes || stopWords[tok] {
			continue
		}
		out = append(out, truncate(foldPlural(tok), MaxTermRunes))
	}
	return out
}

// isSeparator splits words on everything but letters, digits and the marks
// Normalize keeps (a Devanagari vowel sign is part of its word). Emoji,
// punctuation and symbols therefore separate words and are never indexed.
func isSeparator(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
}

func truncate(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// foldPlural is a deliberately light stemmer: it makes the common singular
// and plural of a word one term in English and the Romance and Germanic
// languages sellers write in, without a dictionary. Each step applies only
// when at least three runes remain, so short words are left alone:
//
//  1. drop a final "s", unless the word ends in "ss" or "us" (glass, bonus),
//  2. then drop a final "e" (boxes→box, shoes/shoe→sho, Schuhe/Schuh→schuh),
//  3. then turn a final "y" into "i" (batteries/battery→batteri).
//
// The trade-off: it over-merges some unrelated words (cafe and caf, rose
// and ros) and misses irregular plurals (mice, knives, Italian -i/-e). Both
// are cheap in a marketplace, where a slightly wider match is better than a
// missed listing, and a query always goes through the same folding, so
// folding never makes a listing unfindable by its own words.
func foldPlural(w string) string {
	long := func(s string) bool { return utf8.RuneCountInString(s) >= 3 }
	if strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && long(w[:len(w)-1]) {
		w = w[:len(w)-1]
	}
	if strings.HasSuffix(w, "e") && long(w[:len(w)-1]) {
		w = w[:len(w)-1]
	}
	if strings.HasSuffix(w, "y") && long(w[:len(w)-1]) {
		w = w[:len(w)-1] + "i"
	}
	return w
}

// stopWords are words too common to search for, in English and the other
// languages sellers write in (French, German, Spanish, Italian, Dutch), in
// normalised form. Words that are also meaningful elsewhere are left out on
// purpose ("van" is Dutch "of" but also a vehicle, "für" normalises to
// "fur", "über" to "uber").
var stopWords = func() map[string]bool {
	list := []string{
		// English
		"an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its",
		"of", "on", "or", "the", "this", "that", "to", "was", "were", "with",
		// French
		"au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "en", "est", "et", "la", "le", "les",
		"par", "pour", "que", "qui", "sur", "un", "une",
		// German
		"auf", "das", "dem", "den", "der", "des", "die", "ein", "eine", "einem", "einen", "einer", "eines",
		"im", "ist", "mit", "oder", "und", "von", "zu", "zum", "zur",
		// Spanish
		"al", "con", "del", "el", "es", "las", "los", "para", "por", "una", "unas", "uno", "unos",
		// Italian
		"da", "dei", "della", "delle", "dello", "di", "gli", "il", "lo", "per", "che",
		// Dutch
		"een", "het", "met", "op", "te", "voor", "dat",
	}
	m := make(map[string]bool, len(list))
	for _, w := range list {
		m[w] = true
	}
	return m
}()
