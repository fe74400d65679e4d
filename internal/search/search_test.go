package search_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/search"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"accents", "Café crème brûlée", "cafe creme brulee"},
		{"upper case accents", "CAFÉ", "cafe"},
		{"already plain", "cafe", "cafe"},
		{"sharp s", "Straße", "strasse"},
		{"capital sharp s", "STRAẞE", "strasse"},
		{"ligatures", "Æble Œuvre ﬁne", "aeble oeuvre fine"},
		{"o slash", "Søren Ø", "soren o"},
		{"polish l", "Łódź", "lodz"},
		{"turkish dotted I", "İstanbul", "istanbul"},
		{"greek accents and final sigma", "Οδός ΟΔΟΣ", "οδοσ οδοσ"},
		{"cyrillic", "Ёлка", "елка"},
		{"fullwidth", "ＡＢＣ１２３", "abc123"},
		{"circled digit", "①", "1"},
		{"emoji kept as is", "🔥 Deal", "🔥 deal"},
		{"japanese voicing kept", "ガラス", "ガラス"},
		{"devanagari vowel sign kept", "किताब", "किताब"},
		{"hangul recomposed", "한국", "한국"},
		{"invalid utf-8", "ab\xffcd", "ab cd"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search.Normalize(tt.in)
			assert.Equal(t, tt.want, got, "Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			assert.Equal(t, got, search.Normalize(got), "Normalize is idempotent")
		})
	}
}

func texts(ts []search.Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

// ti and de build a title term and a description-only term.
func ti(s string) search.Term { return search.Term{Text: s, InTitle: true} }
func de(s string) search.Term { return search.Term{Text: s} }

func TestTerms(t *testing.T) {
	tests := []struct {
		name, title, desc string
		want              []search.Term
	}{
		{
			name: "accents, case and plural fold", title: "Café crème vintage", desc: "Deux tasses à café",
			want: []search.Term{ti("caf"), ti("crem"), ti("vintag"), de("deux"), de("tass")},
		},
		{
			name: "title and description share a term", title: "Red bike", desc: "A red bike, barely used",
			want: []search.Term{ti("red"), ti("bik"), de("bareli"), de("used")},
		},
		{
			name: "punctuation and emoji separate words", title: "🔥DEAL🔥 t-shirt (L/XL)!!!", desc: "",
			want: []search.Term{ti("deal"), ti("shirt"), ti("xl")},
		},
		{
			name: "stop-words in six languages", title: "The box of the year", desc: "le chat, der Hund, el perro, il gatto, het huis",
			want: []search.Term{ti("box"), ti("year"), de("chat"), de("hund"), de("perro"), de("gatto"), de("hui")},
		},
		{
			name: "plural forms meet their singular", title: "boxes shoes glasses batteries Schuhe toys", desc: "box shoe glass battery Schuh toy",
			want: []search.Term{ti("box"), ti("sho"), ti("glass"), ti("batteri"), ti("schuh"), ti("toy")},
		},
		{
			name: "short words are not folded", title: "gas bus yes", desc: "",
			want: []search.Term{ti("gas"), ti("bus"), ti("yes")},
		},
		{
			name: "digits and letters", title: "iPhone 15 Pro 256GB 4K", desc: "",
			want: []search.Term{ti("iphon"), ti("15"), ti("pro"), ti("256gb"), ti("4k")},
		},
		{
			name: "mixed scripts", title: "Книга книги Tokyo 東京タワー", desc: "",
			want: []search.Term{ti("книга"), ti("книги"), ti("tokyo"), ti("東京タワー")},
		},
		{name: "nothing searchable", title: "a & 🙂 ... x", desc: "—", want: []search.Term{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search.Terms(tt.title, tt.desc)
			assert.Equal(t, tt.want, got, "Terms(%q, %q)", tt.title, tt.desc)
		})
	}
}

func TestTermsAreCappedTitleFirst(t *testing.T) {
	var title, desc []string
	for i := range 30 {
		title = append(title, "t"+strings.Repeat("x", i+1))
		desc = append(desc, "d"+strings.Repeat("x", i+1))
	}
	got := search.Terms(strings.Join(title, " "), strings.Join(desc, " "))
	require.Len(t, got, search.MaxTerms)
	for i, term := range got[:30] {
		assert.True(t, term.InTitle, "term %d %q", i, term.Text)
	}
	for i, term := range got[30:] {
		assert.False(t, term.InTitle, "term %d %q", 30+i, term.Text)
	}

	many := strings.Repeat("word ", 10) + strings.Join(append(title, desc...), " ")
	assert.Len(t, search.Terms(many, ""), search.MaxTerms, "the cap applies within the title too")
}

func TestTermsTruncatesLongRuns(t *testing.T) {
	long := strings.Repeat("東", 100)
	got := search.Terms(long, strings.Repeat("京", 40))
	require.Len(t, got, 2)
	assert.Equal(t, strings.Repeat("東", search.MaxTermRunes), got[0].Text)
	assert.Equal(t, strings.Repeat("京", search.MaxTermRunes), got[1].Text)

	q, err := search.ParseQuery(strings.Repeat("東", 50))
	require.NoError(t, err)
	assert.Equal(t, []string{got[0].Text}, q, "a query is truncated the same way, so it still matches")
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"accents and case", "  CAFÉ Crème ", []string{"caf", "crem"}},
		{"duplicates and order", "bike RED bikes red", []string{"bik", "red"}},
		{"stop-words dropped", "the lamp for the desk", []string{"lamp", "desk"}},
		{"eight terms", "one two three four five six seven eight", []string{"one", "two", "thre", "four", "fiv", "six", "seven", "eight"}},
		{"exactly 100 characters", strings.Repeat("é", 100), []string{strings.Repeat("e", search.MaxTermRunes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := search.ParseQuery(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "ParseQuery(%q)", tt.in)
		})
	}
}

func TestParseQueryRejects(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"empty", "", "must contain a word"},
		{"only stop-words", "the and of", "must contain a word"},
		{"only emoji and punctuation", "🙂 !!! ?", "must contain a word"},
		{"only single letters", "a b c", "must contain a word"},
		{"too long", strings.Repeat("x", search.MaxQueryRunes+1), "at most 100 characters"},
		{"too many terms", "aa bb cc dd ee ff gg hh ii", "at most 8 words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := search.ParseQuery(tt.in)
			fe, ok := fault.As(err)
			require.True(t, ok, "ParseQuery(%q) error = %v, want a fault", tt.in, err)
			assert.Equal(t, fault.Invalid, fe.Kind)
			require.Len(t, fe.Fields, 1)
			assert.Equal(t, "query.q", fe.Fields[0].Field)
			assert.Contains(t, fe.Fields[0].Message, tt.msg)
		})
	}
}

func TestScore(t *testing.T) {
	q := []string{"red", "bike"}
	title := map[string]search.Term{"red": ti("red"), "bike": ti("bike")}
	desc := map[string]search.Term{"red": de("red"), "bike": de("bike")}
	mixed := map[string]search.Term{"red": ti("red"), "bike": de("bike")}
	oneTitle := map[string]search.Term{"red": ti("red")}

	assert.Greater(t, search.Score(q, title), search.Score(q, mixed), "title beats description")
	assert.Greater(t, search.Score(q, mixed), search.Score(q, desc))
	assert.Greater(t, search.Score(q, desc), search.Score(q, oneTitle), "more matched terms first")
	assert.Greater(t, search.Score(q, oneTitle), 0.0)
	assert.Zero(t, search.Score(q, nil))
	assert.Zero(t, search.Score(nil, title))
	assert.Equal(t, search.Score(q, title), search.Score([]string{"red", "bike", "red"}, title), "repeated query terms count once")
}

func TestRank(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	rs := []search.Ranked{
		{Hit: search.Hit{ListingID: "old", Score: 2}, PublishedAt: now.Add(-time.Hour)},
		{Hit: search.Hit{ListingID: "low", Score: 1}, PublishedAt: now},
		{Hit: search.Hit{ListingID: "new", Score: 2}, PublishedAt: now},
		{Hit: search.Hit{ListingID: "best", Score: 2.5}, PublishedAt: now.Add(-2 * time.Hour)},
		{Hit: search.Hit{ListingID: "new2", Score: 2}, PublishedAt: now},
	}
	search.Rank(rs)
	got := make([]string, len(rs))
	for i, r := range rs {
		got[i] = r.ListingID
	}
	assert.Equal(t, []string{"best", "new2", "new", "old", "low"}, got)
}

func FuzzTerms(f *testing.F) {
	f.Add("Café crème vintage", "Deux tasses à café")
	f.Add("🔥DEAL🔥 t-shirt", "ΟΔΟΣ Straße Łódź İstanbul")
	f.Add(strings.Repeat("東", 100), "ab\xffcd ﬁ ①")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, title, desc string) {
		terms := search.Terms(title, desc)
		if len(terms) > search.MaxTerms {
			t.Fatalf("Terms returned %d terms, want at most %d", len(terms), search.MaxTerms)
		}
		seen := map[string]bool{}
		titleDone := false
		for _, term := range terms {
			if seen[term.Text] {
				t.Fatalf("term %q repeated", term.Text)
			}
			seen[term.Text] = true
			if !utf8.ValidString(term.Text) {
				t.Fatalf("term %q is not valid UTF-8", term.Text)
			}
			if n := utf8.RuneCountInString(term.Text); n < search.MinTermRunes || n > search.MaxTermRunes {
				t.Fatalf("term %q has %d runes", term.Text, n)
			}
			if got := search.Normalize(term.Text); got != term.Text {
				t.Fatalf("term %q is not normalised: Normalize = %q", term.Text, got)
			}
			if strings.ContainsFunc(term.Text, func(r rune) bool { return r == ' ' }) {
				t.Fatalf("term %q contains a space", term.Text)
			}
			if !term.InTitle {
				titleDone = true
			} else if titleDone {
				t.Fatalf("title term %q after a description term", term.Text)
			}
		}
		// A listing is found by its own title: every query term of the
		// title is one of its indexed terms.
		if q, err := search.ParseQuery(title); err == nil && len(terms) < search.MaxTerms {
			for _, w := range q {
				if !seen[w] {
					t.Fatalf("query term %q of the title is not indexed: %q", w, texts(terms))
				}
			}
		}
	})
}
