package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/devstack"
	"github.com/mountainhighway/marketplace/internal/dynamo/dynamotest"
)

func get(t *testing.T, url string, v any) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil {
		require.NoError(t, json.Unmarshal(body, v), string(body))
	}
	return resp
}

func TestStackServesSeededListings(t *testing.T) {
	s, err := devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", Seed: 240, Out: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })

	var page struct {
		Items []struct {
			ID          string `json:"id"`
			Category    string `json:"category"`
			PublishedAt string `json:"publishedAt"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	resp := get(t, s.URL+"/v1/listings?limit=50", &page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, page.Items, 50)
	assert.NotEmpty(t, page.NextCursor)
	for i := 1; i < len(page.Items); i++ {
		assert.GreaterOrEqual(t, page.Items[i-1].PublishedAt, page.Items[i].PublishedAt, "newest first")
	}
	seen := map[string]bool{}
	for _, it := range page.Items {
		seen[it.ID] = true
	}
	total := len(page.Items)
	for page.NextCursor != "" {
		cur := page.NextCursor
		page.NextCursor = ""
		page.Items = nil
		resp = get(t, s.URL+"/v1/listings?limit=50&cursor="+cur, &page)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, it := range page.Items {
			assert.False(t, seen[it.ID], "duplicate %s", it.ID)
			seen[it.ID] = true
		}
		total += len(page.Items)
	}
	assert.Equal(t, 216, total, "9 in 10 demo listings are published")

	resp = get(t, s.URL+"/v1/listings?category=books&minPrice=1000&maxPrice=20000", &page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, it := range page.Items {
		assert.Equal(t, "books", it.Category)
	}
	var one map[string]any
	resp = get(t, s.URL+"/v1/listings/"+page.Items[0].ID, &one)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The seeded listings are searchable by the words of their titles.
	word := strings.Fields(one["title"].(string))[1]
	var found struct {
		Items []map[string]any `json:"items"`
	}
	resp = get(t, s.URL+"/v1/listings?q="+url.QueryEscape(strings.ToUpper(word)), &found)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotEmpty(t, found.Items, "searching %q", word)
	resp = get(t, s.URL+"/v1/nope", &one)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
}

func TestStackOverAnotherDynamoDB(t *testing.T) {
	ep := dynamotest.Endpoint(t)
	table := fmt.Sprintf("devstack-%d", time.Now().UnixNano())
	s, err := devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", Seed: 30, Out: io.Discard, DynamoEndpoint: ep, Table: table})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	assert.Equal(t, ep, s.DynamoURL)

	var page struct {
		Items []map[string]any `json:"items"`
	}
	resp := get(t, s.URL+"/v1/listings?limit=100", &page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, page.Items, 27)

	_, err = devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", DynamoEndpoint: ep, Table: table, Out: io.Discard})
	assert.ErrorContains(t, err, "create table", "an existing table is reported, not reused")
}

func TestStackReportsBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = devstack.Start(context.Background(), devstack.Options{Addr: ln.Addr().String(), Out: io.Discard})
	assert.ErrorContains(t, err, "listen")
}

// TestStackSignsInEveryDemoAccount walks the README's curl session on the
// embedded stack: demo accounts sign in, a new user registers, and each
// calls GET /v1/me with its token.
func TestStackSignsInEveryDemoAccount(t *testing.T) {
	s, err := devstack.Start(context.Background(), devstack.Options{Addr: "127.0.0.1:0", Seed: 12, Out: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })

	post := func(path string, body any) (int, map[string]any) {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		resp, err := http.Post(s.URL+path, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	me := func(token string) map[string]any {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/v1/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	for email, roles := range devstack.DemoAccounts {
		status, tok := post("/v1/auth/login", map[string]string{"email": email, "password": devstack.DemoPassword})
		require.Equal(t, http.StatusOK, status, tok)
		got := me(tok["accessToken"].(string))
		assert.Equal(t, email, got["email"])
		assert.Len(t, got["roles"], len(roles))
	}
	status, tok := post("/v1/auth/register", map[string]string{"email": "new@example.com", "password": "a brand new passphrase", "name": "New"})
	require.Equal(t, http.StatusCreated, status, tok)
	assert.Equal(t, "new@example.com", me(tok["accessToken"].(string))["email"])
	status, again := post("/v1/auth/refresh", map[string]string{"refreshToken": tok["refreshToken"].(string)})
	require.Equal(t, http.StatusOK, status, again)
}
