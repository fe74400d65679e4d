// Package table defines the single DynamoDB table as pure data — its key
// attributes, global secondary indexes and TTL attribute — so that the Pulumi
// program and the local stacks create exactly the same table.
package table

// Key attributes of the base table, and the TTL attribute that expires
// idempotency records, rate-limit buckets and rollups.
const (
	PK  = "PK"
	SK  = "SK"
	TTL = "expiresAt"
)

// Index is a global secondary index with string partition and sort keys,
// projecting all attributes.
type Index struct {
	Name string
	PK   string
	SK   string
}

// Index names, referenced by the adapters that query them.
const (
	GSI1 = "GSI1"
	GSI2 = "GSI2"
	GSI3 = "GSI3"
	GSI4 = "GSI4"
)

// Indexes returns every global secondary index of the table. See
// docs/data-model.md for the access pattern each one serves.
func Indexes() []Index {
	return []Index{
		{Name: GSI1, PK: "GSI1PK", SK: "GSI1SK"},
		{Name: GSI2, PK: "GSI2PK", SK: "GSI2SK"},
		{Name: GSI3, PK: "GSI3PK", SK: "GSI3SK"},
		{Name: GSI4, PK: "GSI4PK", SK: "GSI4SK"},
	}
}

// Lookup returns the index with the given name.
func Lookup(name string) (Index, bool) {
	for _, ix := range Indexes() {
		if ix.Name == name {
			return ix, true
		}
	}
	return Index{}, false
}
