package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mountainhighway/marketplace/internal/fault"
	"github.com/mountainhighway/marketplace/internal/listing"
	"github.com/mountainhighway/marketplace/internal/search"
	"github.com/mountainhighway/marketplace/internal/table"
)

// BatchGetAPI is the part of the DynamoDB client GetListings calls.
type BatchGetAPI interface {
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// BatchWriteAPI is the part of the DynamoDB client batch writes call.
type BatchWriteAPI interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// SearchAPI is the part of the DynamoDB client the search index calls.
type SearchAPI interface {
	BatchGetAPI
	BatchWriteAPI
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// SearchHit is one listing a search found, with its relevance.
type SearchHit = search.Hit

// SearchIndex is a keyword index of published listings: an inverted index
// kept in the base table, one item per (term, listing), see
// docs/data-model.md:
//
//	PK = TERM#<term>  SK = <publishedAt, fixed width>#<listingId>
//	attributes: type, listingId, inTitle, category, priceAmount   (no TTL)
//
// A term's partition lists the listings containing it, newest first, which
// is all a search needs: one Query per query term, no Scan, no extra index.
// The items copy the listing's category and price so filters apply without
// reading the listings.
//
// Consistency: the index is derived data, written by Reindex after the
// listing itself is saved, not in the listing's transaction (a listing has
// up to 50 terms, more than a transaction holds alongside it). A search may
// therefore lag a publish, an edit or an archive by the time of one
// request, and a failed Reindex leaves the listing saved with a stale index
// entry; Reindex returns the error so the caller can report it, and
// re-running it with the same arguments repairs the index. GetListings
// re-checks the status of what it returns, so a stale entry never shows an
// archived listing.
type SearchIndex struct {
	db         SearchAPI
	table      string
	candidates int
}

// SearchOption configures a SearchIndex.
type SearchOption func(*SearchIndex)

// DefaultSearchCandidates is how many index items one search reads per
// query term, newest first. See Search for what it bounds.
const DefaultSearchCandidates = 300

// WithSearchCandidates sets how many index items a search reads per term
// (at least 1), instead of DefaultSearchCandidates. Tests lower it to
// exercise what happens beyond it without writing hundreds of listings.
func WithSearchCandidates(n int) SearchOption {
	return func(s *SearchIndex) { s.candidates = max(1, n) }
}

// NewSearchIndex returns the search index on table name.
func NewSearchIndex(db SearchAPI, name string, opts ...SearchOption) *SearchIndex {
	s := &SearchIndex{db: db, table: name, candidates: DefaultSearchCandidates}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Limits of the batch calls, set by DynamoDB, and how often a batch is
// retried when DynamoDB leaves part of it unprocessed (throttling).
const (
	searchWriteBatch = 25
	searchGetBatch   = 100
	searchAttempts   = 8
	// searchVerifyKeys bounds the point reads one search may add to check
	// candidates against terms whose partition was cut at the candidate
	// cap (three BatchGetItem calls at most).
	searchVerifyKeys = 300
)

type termItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	Type        string `dynamodbav:"type"`
	ListingID   string `dynamodbav:"listingId"`
	InTitle     bool   `dynamodbav:"inTitle"`
	Category    string `dynamodbav:"category"`
	PriceAmount int64  `dynamodbav:"priceAmount"`
}

const termPrefix = "TERM#"

// termItems returns the index items of l, keyed by PK and SK. Only a
// published listing is searchable; nil, drafts, archived and sold
// listings (and, defensively, a published one without publishedAt, which
// has no place in the newest-first order) have none.
func termItems(l *listing.Listing) map[string]termItem {
	if l == nil || l.Status != listing.Published || l.PublishedAt == nil {
		return nil
	}
	sk := l.PublishedAt.UTC().Format(sortTime) + "#" + l.ID
	terms := search.Terms(l.Title, l.Description)
	out := make(map[string]termItem, len(terms))
	for _, t := range terms {
		it := termItem{
			PK: termPrefix + t.Text, SK: sk, Type: "searchterm", ListingID: l.ID, InTitle: t.InTitle,
			Category: l.Category, PriceAmount: l.Price.Amount,
		}
		out[it.PK+"\x00"+it.SK] = it
	}
	return out
}

// Reindex brings the index from listing before to listing after (either
// may be nil: before for a new listing, after for a deleted one). It
// deletes the items of terms after no longer has, and puts the ones that
// are new or whose attributes changed (a title edit touches only the
// changed words; a price or category change rewrites every term, since
// each carries them). Only published listings are indexed, so publishing
// adds every term and archiving, selling or unpublishing removes them all.
// It is idempotent: running it again with the same arguments writes the
// same items. It makes ceil(changes/25) BatchWriteItem calls, none when
// nothing searchable changed.
func (s *SearchIndex) Reindex(ctx context.Context, before, after *listing.Listing) error {
	const op = "dynamo.SearchIndex.Reindex"
	old, cur := termItems(before), termItems(after)
	var reqs []types.WriteRequest
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := cur[k]; !ok {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(old[k].PK, old[k].SK)}})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if o, ok := old[k]; ok && o == cur[k] {
			continue
		}
		av, err := attributevalue.MarshalMap(cur[k])
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

// termList is what one Query read of a term's partition.
type termList struct {
	term string
	rows []termItem // newest first
	byID map[string]termItem
	// cut reports that the partition may hold older items than rows.
	cut bool
}

// Search finds the published listings that contain every one of terms
// (AND semantics: each word a buyer adds narrows the results, as buyers
// expect of a shop's search box), in category q.Category and price range
// [q.MinPrice, q.MaxPrice] when set, best first: by search.Score, then
// most recent; q.Sort is not consulted, since keyword results are in
// relevance order. terms are the output of search.ParseQuery. It returns up
// to q.Limit hits (listing.DefaultLimit when zero) starting at position
// after (nil for the first page), and the position of the next page (nil on
// the last).
//
// It reads, concurrently, the newest DefaultSearchCandidates items of each
// term's partition (one Query per term), then takes the term with the
// fewest items as the driver and keeps its candidates that pass the filters
// and appear under every other term. When another term's partition was
// cut at the cap, a candidate older than what was read of it is checked
// with point reads (BatchGetItem, at most searchVerifyKeys keys), so a
// rare word combined with a common one still finds old listings. Recall is
// bounded only when every term is common: then the results are drawn from
// the newest DefaultSearchCandidates listings of the rarest term, and the
// filters apply to those. Cost: len(terms) Query calls, plus 1–3
// BatchGetItem calls only when a term has more items than the cap.
//
// Pages are slices of the ranked results, and the position is an offset
// bound to the query: {"o": "<offset>", "k": "<fingerprint of the terms
// and filters>"}. Results are recomputed for each page, so a listing
// published or edited between two page requests can shift the results by
// one (a repeat or a gap); ranking by relevance has no stable key to resume
// after, and a search is short-lived. A position that is malformed or
// belongs to another query is a fault.Invalid error on "query.cursor".
func (s *SearchIndex) Search(ctx context.Context, terms []string, q listing.Query, after map[string]string) ([]SearchHit, map[string]string, error) {
	const op = "dynamo.SearchIndex.Search"
	terms = distinct(terms)
	if len(terms) == 0 || len(terms) > search.MaxQueryTerms {
		return nil, nil, fault.Validation(op, fault.Fieldf("query.q", "must have between 1 and %d words to search for", search.MaxQueryTerms))
	}
	k := searchKey(terms, q)
	offset := 0
	if after != nil {
		o, ok := searchOffset(after, k)
		if !ok {
			return nil, nil, fault.Validation(op, fault.FieldError{Field: "query.cursor", Message: "does not belong to this query"})
		}
		offset = o
	}
	lists, err := s.readTerms(ctx, terms)
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}
	ranked, err := s.match(ctx, terms, lists, q)
	if err != nil {
		return nil, nil, fault.Wrap(op, err)
	}

	limit := q.Limit
	if limit <= 0 {
		limit = listing.DefaultLimit
	}
	limit = min(limit, listing.MaxLimit)
	if offset >= len(ranked) {
		return []SearchHit{}, nil, nil
	}
	end := min(offset+limit, len(ranked))
	hits := make([]SearchHit, 0, end-offset)
	for _, r := range ranked[offset:end] {
		hits = append(hits, r.Hit)
	}
	var next map[string]string
	if end < len(ranked) {
		next = map[string]string{"o": strconv.Itoa(end), "k": k}
	}
	return hits, next, nil
}

// distinct returns terms without repeats, in their order.
func distinct(terms []string) []string {
	out := make([]string, 0, len(terms))
	for _, t := range terms {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// searchKey fingerprints what a page position depends on: the terms, in
// any order, and the filters. The page size is left out so it may change
// from page to page, as with browsing.
func searchKey(terms []string, q listing.Query) string {
	p := func(v *int64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatInt(*v, 10)
	}
	parts := append(slices.Sorted(slices.Values(terms)), "|", q.Category, p(q.MinPrice), p(q.MaxPrice))
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// searchOffset validates a position and returns its offset: exactly the
// keys "o" and "k", the fingerprint k, and a positive offset in canonical
// form.
func searchOffset(pos map[string]string, k string) (int, bool) {
	if len(pos) != 2 || pos["k"] != k {
		return 0, false
	}
	o, err := strconv.Atoi(pos["o"])
	if err != nil || o <= 0 || strconv.Itoa(o) != pos["o"] {
		return 0, false
	}
	return o, true
}

// readTerms queries each term's partition, newest first, concurrently:
// the terms are independent, so a search costs one round trip, not one
// per term.
func (s *SearchIndex) readTerms(ctx context.Context, terms []string) ([]termList, error) {
	proj := expression.NamesList(expression.Name(table.SK), expression.Name("listingId"), expression.Name("inTitle"),
		expression.Name("category"), expression.Name("priceAmount"))
	lists := make([]termList, len(terms))
	errs := make([]error, len(terms))
	var wg sync.WaitGroup
	for i, term := range terms {
		wg.Go(func() {
			expr, err := expression.NewBuilder().
				WithKeyCondition(expression.Key(table.PK).Equal(expression.Value(termPrefix + term))).
				WithProjection(proj).Build()
			if err != nil {
				errs[i] = err
				return
			}
			out, err := s.db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				KeyConditionExpression:    expr.KeyCondition(),
				ProjectionExpression:      expr.Projection(),
				ExpressionAttributeNames:  expr.Names(),
				ExpressionAttributeValues: expr.Values(),
				ScanIndexForward:          aws.Bool(false),
				Limit:                     aws.Int32(int32(s.candidates)),
			})
			if err != nil {
				errs[i] = err
				return
			}
			l := termList{term: term, cut: len(out.LastEvaluatedKey) > 0, byID: make(map[string]termItem, len(out.Items))}
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &l.rows); err != nil {
				errs[i] = err
				return
			}
			for _, r := range l.rows {
				l.byID[r.ListingID] = r
			}
			lists[i] = l
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return lists, nil
}

// candidate is a driver row and how it matched each term so far.
type candidate struct {
	row  termItem
	hits map[string]search.Term
	// unsure lists the terms whose cut partition did not reach back to
	// the candidate: only a point read can tell whether it has them.
	unsure []string
}

// match intersects the term lists (see Search), scores and ranks the
// result.
func (s *SearchIndex) match(ctx context.Context, terms []string, lists []termList, q listing.Query) ([]search.Ranked, error) {
	driver := slices.MinFunc(lists, func(a, b termList) int {
		if a.cut != b.cut { // a complete list is exact: prefer it
			if a.cut {
				return 1
			}
			return -1
		}
		return len(a.rows) - len(b.rows)
	})
	var cands []*candidate
	for _, r := range driver.rows {
		if !passes(r, q) {
			continue
		}
		c := &candidate{row: r, hits: map[string]search.Term{driver.term: {Text: driver.term, InTitle: r.InTitle}}}
		ok := true
		for _, l := range lists {
			if l.term == driver.term {
				continue
			}
			if h, found := l.byID[r.ListingID]; found {
				c.hits[l.term] = search.Term{Text: l.term, InTitle: h.InTitle}
				continue
			}
			// Absent from what was read. The list is newest first, so
			// that is final unless it was cut above the candidate.
			if !l.cut || len(l.rows) == 0 || r.SK > l.rows[len(l.rows)-1].SK {
				ok = false
				break
			}
			c.unsure = append(c.unsure, l.term)
		}
		if ok {
			cands = append(cands, c)
		}
	}
	if err := s.verify(ctx, cands); err != nil {
		return nil, err
	}

	ranked := make([]search.Ranked, 0, len(cands))
	for _, c := range cands {
		if len(c.hits) != len(terms) {
			continue
		}
		at, err := time.Parse(sortTime, strings.SplitN(c.row.SK, "#", 2)[0])
		if err != nil {
			return nil, err
		}
		ranked = append(ranked, search.Ranked{
			Hit:         search.Hit{ListingID: c.row.ListingID, Score: search.Score(terms, c.hits)},
			PublishedAt: at,
		})
	}
	search.Rank(ranked)
	return ranked, nil
}

// verify completes the hits of candidates with unsure terms by reading
// those (term, listing) items directly, newest candidates first, within
// searchVerifyKeys; a candidate left unchecked is dropped, which is the
// only way the cap can hide a match (see Search).
func (s *SearchIndex) verify(ctx context.Context, cands []*candidate) error {
	var keys []map[string]types.AttributeValue
	want := map[string]*candidate{}
	for _, c := range cands {
		if len(c.unsure) == 0 {
			continue
		}
		if len(keys)+len(c.unsure) > searchVerifyKeys {
			break
		}
		for _, t := range c.unsure {
			keys = append(keys, key(termPrefix+t, c.row.SK))
			want[termPrefix+t+"\x00"+c.row.SK] = c
		}
	}
	if len(keys) == 0 {
		return nil
	}
	proj := "#pk, #sk, inTitle"
	items, err := searchBatchGet(ctx, s.db, s.table, keys, &proj, map[string]string{"#pk": table.PK, "#sk": table.SK})
	if err != nil {
		return err
	}
	for _, av := range items {
		var it termItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		if c, ok := want[it.PK+"\x00"+it.SK]; ok {
			t := strings.TrimPrefix(it.PK, termPrefix)
			c.hits[t] = search.Term{Text: t, InTitle: it.InTitle}
		}
	}
	return nil
}

// passes reports whether an index row satisfies the query's filters.
func passes(r termItem, q listing.Query) bool {
	switch {
	case q.Category != "" && r.Category != q.Category:
		return false
	case q.MinPrice != nil && r.PriceAmount < *q.MinPrice:
		return false
	case q.MaxPrice != nil && r.PriceAmount > *q.MaxPrice:
		return false
	}
	return true
}

// GetListings reads the listings with ids in ceil(n/100) BatchGetItem
// calls (retrying what DynamoDB leaves unprocessed) and returns them in the
// order of ids, each once. Ids that no longer exist or whose listing is no
// longer published are skipped: the search index may lag the listings by
// a request (see SearchIndex), and search results show published listings
// only.
func GetListings(ctx context.Context, db BatchGetAPI, name string, ids []string) ([]listing.Listing, error) {
	return getListings(ctx, db, name, ids, func(l listing.Listing) bool { return l.Status == listing.Published })
}

// getListings reads listings by id in ≤ 100-key BatchGetItem calls, in the
// order of ids, keeping those keep accepts.
func getListings(ctx context.Context, db BatchGetAPI, name string, ids []string, keep func(listing.Listing) bool) ([]listing.Listing, error) {
	const op = "dynamo.GetListings"
	ids = distinct(ids)
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = listingKey(id)
	}
	items, err := searchBatchGet(ctx, db, name, keys, nil, nil)
	if err != nil {
		return nil, fault.Wrap(op, err)
	}
	byID := make(map[string]listing.Listing, len(items))
	for _, av := range items {
		var it listingItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, fault.Wrap(op, err)
		}
		l, err := fromItem(it)
		if err != nil {
			return nil, fault.Wrap(op, err)
		}
		byID[l.ID] = l
	}
	out := make([]listing.Listing, 0, len(ids))
	for _, id := range ids {
		if l, ok := byID[id]; ok && keep(l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// searchBatchWrite writes reqs 25 per BatchWriteItem call, retrying what
// DynamoDB leaves unprocessed with exponential backoff, searchAttempts
// times at most per batch.
func searchBatchWrite(ctx context.Context, db BatchWriteAPI, name string, reqs []types.WriteRequest) error {
	for batch := range slices.Chunk(reqs, searchWriteBatch) {
		pending := map[string][]types.WriteRequest{name: batch}
		for attempt := 0; len(pending[name]) > 0; attempt++ {
			if err := searchBackoff(ctx, attempt); err != nil {
				return err
			}
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// searchBatchGet reads keys 100 per BatchGetItem call, with the same
// retries as searchBatchWrite, and returns the items found in no
// particular order.
func searchBatchGet(ctx context.Context, db BatchGetAPI, name string, keys []map[string]types.AttributeValue, projection *string, names map[string]string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for batch := range slices.Chunk(keys, searchGetBatch) {
		pending := map[string]types.KeysAndAttributes{name: {
			Keys: batch, ProjectionExpression: projection, ExpressionAttributeNames: names,
		}}
		for attempt := 0; len(pending[name].Keys) > 0; attempt++ {
			if err := searchBackoff(ctx, attempt); err != nil {
				return nil, err
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, err
			}
			items = append(items, out.Responses[name]...)
			pending = out.UnprocessedKeys
		}
	}
	return items, nil
}

// searchBackoff waits before retry attempt (none before the first), and
// gives up after searchAttempts: unprocessed items mean the table is
// throttling, and a request should fail rather than wait indefinitely.
func searchBackoff(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	if attempt == searchAttempts {
		return errors.New("dynamo: unprocessed batch items after " + strconv.Itoa(searchAttempts) + " attempts")
	}
	t := time.NewTimer(time.Duration(1<<attempt) * 10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
