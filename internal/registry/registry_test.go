package registry_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/httpapi"
	"github.com/mountainhighway/marketplace/internal/registry"
)

const root = "../.."

func TestEntriesAreWellFormed(t *testing.T) {
	names := map[string]bool{}
	routes := map[string]bool{}
	namePattern := regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)
	for _, fn := range registry.All() {
		assert.Truef(t, namePattern.MatchString(fn.Name), "name %q must be a lower-case slug (it names a folder and a Lambda)", fn.Name)
		assert.Falsef(t, names[fn.Name], "duplicate name %q", fn.Name)
		names[fn.Name] = true
		assert.NotEmpty(t, fn.Description, fn.Name)
		assert.Positive(t, fn.MemoryMB, fn.Name)
		assert.Positive(t, fn.Timeout, fn.Name)
		assert.Positive(t, fn.MaxBody, fn.Name)
		assert.Positive(t, fn.Alarms.Errors, fn.Name)
		assert.Less(t, fn.Alarms.P95, fn.Timeout, "%s: a p95 alarm at or above the timeout never fires before timeouts do", fn.Name)
		if fn.HTTP != nil {
			assert.Contains(t, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}, fn.HTTP.Method, fn.Name)
			assert.Truef(t, strings.HasPrefix(fn.HTTP.Path, "/v1/") || strings.HasPrefix(fn.HTTP.Path, "/.well-known/"), "%s: path %s is outside the API", fn.Name, fn.HTTP.Path)
			assert.Falsef(t, routes[fn.HTTP.Key()], "route %s served twice", fn.HTTP.Key())
			routes[fn.HTTP.Key()] = true
			assert.Contains(t, []registry.Auth{registry.Public, registry.User, registry.Seller, registry.Admin}, fn.Auth, fn.Name)
		}
		if fn.HTTP != nil && fn.Auth != registry.Public {
			// Verifiers read the public keys from the table (PK = KEYS).
			assert.Containsf(t, fn.Table, registry.GetItem, "%s verifies tokens, so it needs dynamodb:GetItem for the JWKS", fn.Name)
		}
		for _, a := range fn.Table {
			assert.Truef(t, strings.HasPrefix(string(a), "dynamodb:") && !strings.Contains(string(a), "*"), "%s: table action %q", fn.Name, a)
		}
	}
}

func TestLookup(t *testing.T) {
	fn, ok := registry.Lookup("listing-get")
	require.True(t, ok)
	assert.Equal(t, "GET /v1/listings/{id}", fn.HTTP.Pattern())
	assert.Equal(t, []registry.TableAction{registry.Query, registry.UpdateItem}, fn.Table, "the listing, its counters and aggregated view counts")
	assert.Equal(t, registry.DefaultMemoryMB, fn.MemoryMB, "defaults are filled in")
	_, ok = registry.Lookup("nope")
	assert.False(t, ok)
	for _, fn := range registry.HTTP() {
		assert.NotNil(t, fn.HTTP)
	}
}

// TestEveryEntryHasItsPieces keeps the registry, functions/, events/ and the
// dev server's handler table in step, in both directions.
func TestEveryEntryHasItsPieces(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	require.NoError(t, err)
	var folders []string
	for _, d := range dirs {
		if d.IsDir() {
			folders = append(folders, d.Name())
		}
	}
	samples, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	require.NoError(t, err)
	handlers := httpapi.Routes(httpapi.Deps{})

	var names []string
	for _, fn := range registry.All() {
		names = append(names, fn.Name)
		main, err := os.ReadFile(filepath.Join(root, "functions", fn.Name, "main.go"))
		if assert.NoErrorf(t, err, "%s has no functions/%s/main.go", fn.Name, fn.Name) {
			assert.Containsf(t, string(main), `"`+fn.Name+`"`, "functions/%s/main.go must start the %s entry", fn.Name, fn.Name)
			assert.LessOrEqualf(t, strings.Count(string(main), "\n"), 30, "functions/%s/main.go must stay thin", fn.Name)
		}
		if fn.HTTP != nil {
			assert.Containsf(t, handlers, fn.Name, "%s has no handler in httpapi.Routes (the dev server would not serve it)", fn.Name)
		}
		has := slices.ContainsFunc(samples, func(p string) bool { return sampleOwner(filepath.Base(p)) == fn.Name })
		assert.Truef(t, has, "%s has no sample event in events/ (events/apigw-%s-<case>.json or events/sqs-<queue>-<case>.json)", fn.Name, fn.Name)
	}
	for _, f := range folders {
		assert.Containsf(t, names, f, "functions/%s has no registry entry", f)
	}
	for _, p := range samples {
		assert.Containsf(t, names, sampleOwner(filepath.Base(p)), "events/%s belongs to no registry entry", filepath.Base(p))
	}
	for name := range handlers {
		assert.Containsf(t, names, name, "httpapi.Routes serves %s, which is not in the registry", name)
	}
}

// sampleOwner returns the function a sample belongs to: for "apigw-" the
// longest registry name that follows, for "sqs-" the consumer of the queue
// named there.
func sampleOwner(file string) string {
	trigger, rest, ok := strings.Cut(strings.TrimSuffix(file, ".json"), "-")
	if !ok {
		return ""
	}
	owner, best := "", ""
	for _, fn := range registry.All() {
		name := fn.Name
		switch {
		case trigger == "apigw" && fn.HTTP != nil:
		case trigger == "sqs" && fn.Queue != nil:
			name = fn.Queue.Name
		default:
			continue
		}
		if strings.HasPrefix(rest, name+"-") && len(name) > len(best) {
			owner, best = fn.Name, name
		}
	}
	return owner
}
