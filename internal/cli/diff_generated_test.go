package cli

import "testing"

var generatedSchema built

// TestDiffGeneratedColumns: a generated column made by hand with another expression, or
// turned into a plain column, is one finding whose SQL puts it back (its index, key and
// comment with it); PostgreSQL's spelling of the expression is no finding.
func TestDiffGeneratedColumns(t *testing.T) {
	runMutations(t, &generatedSchema, "testdata/generate/generated/steps/01.yaml", []mutation{
		{"expression changed", `ALTER TABLE lines DROP COLUMN total;
			ALTER TABLE lines ADD COLUMN total numeric(12,2) GENERATED ALWAYS AS (price + quantity) STORED;
			CREATE INDEX lines_total_idx ON lines (total); COMMENT ON COLUMN lines.total IS 'price times quantity'`,
			"column.generated", "public.lines.total"},
		{"no longer generated", `ALTER TABLE lines ALTER COLUMN label DROP EXPRESSION`, "column.generated", "public.lines.label"},
	})
}
