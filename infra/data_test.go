package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mountainhighway/marketplace/internal/table"
)

func TestTableMatchesInternalTable(t *testing.T) {
	tests := []struct {
		stage   string
		protect bool
	}{
		{stageStaging, false},
		{stageProd, true},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			m := validSetup(tt.stage).mustRun(t)
			require.Len(t, m.ofType(typeTable), 1, "one table")
			tbl := m.one(t, typeTable, "table")

			assert.Equal(t, "mh-"+tt.stage+"-table", tbl.in("name"))
			assert.Equal(t, "PAY_PER_REQUEST", tbl.in("billingMode"))
			assert.Equal(t, table.PK, tbl.in("hashKey"))
			assert.Equal(t, table.SK, tbl.in("rangeKey"))
			assert.Equal(t, map[string]any{"attributeName": table.TTL, "enabled": true}, tbl.in("ttl"))
			assert.Equal(t, map[string]any{"enabled": true}, tbl.in("pointInTimeRecovery"), "PITR on in every stage")
			assert.Equal(t, map[string]any{"enabled": true}, tbl.in("serverSideEncryption"))
			assert.Equal(t, tt.protect, tbl.in("deletionProtectionEnabled"), "AWS deletion protection only in prod")
			assert.Equal(t, tt.protect, tbl.Protect, "Pulumi protect only in prod")
			assert.Equal(t, "mountain-highway:infra:Data", tbl.Parent)

			var wantGSIs []any
			wantAttrs := map[string]bool{table.PK: true, table.SK: true}
			for _, ix := range table.Indexes() {
				wantGSIs = append(wantGSIs, map[string]any{
					"name": ix.Name, "hashKey": ix.PK, "rangeKey": ix.SK, "projectionType": "ALL",
				})
				wantAttrs[ix.PK], wantAttrs[ix.SK] = true, true
			}
			assert.ElementsMatch(t, wantGSIs, tbl.in("globalSecondaryIndexes"))

			// Each key attribute declared exactly once, as a string.
			attrs, ok := tbl.in("attributes").([]any)
			require.True(t, ok)
			gotAttrs := map[string]bool{}
			for _, a := range attrs {
				attr, ok := a.(map[string]any)
				require.True(t, ok)
				name, _ := attr["name"].(string)
				assert.False(t, gotAttrs[name], "attribute %s declared twice", name)
				gotAttrs[name] = true
				assert.Equal(t, "S", attr["type"], name)
			}
			assert.Equal(t, wantAttrs, gotAttrs)
		})
	}
}
