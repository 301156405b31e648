package cli

import (
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

var rowSchema built

// TestDiffRows: a declared row deleted, changed, set to NULL or given a value where
// schema.yaml says NULL is one finding, whose SQL puts it back; found by a unique key,
// a row whose key changed is missing.
func TestDiffRows(t *testing.T) {
	runMutations(t, &rowSchema, "testdata/generate/rows/steps/01.yaml", []mutation{
		{"row deleted", `DELETE FROM plans WHERE id = 'pro'`, "row.create", "public.plans.(id) = ('pro')"},
		{"value changed", `UPDATE plans SET price = 11 WHERE id = 'free'`, "row.alter", "public.plans.(id) = ('free')"},
		{"value set to null", `UPDATE plans SET features = NULL WHERE id = 'free'`, "row.alter", "public.plans.(id) = ('free')"},
		{"null given a value", `UPDATE plans SET settings = '{}' WHERE id = 'it''s "quoted"'`, "row.alter", `public.plans.(id) = ('it''s "quoted"')`},
		{"unique key changed", `UPDATE role_permissions SET permission = 'messages.list' WHERE permission = 'messages.read'`,
			"row.create", "public.role_permissions.(role, permission) = ('member', 'messages.read')"},
	})
}

// TestDiffRowsLeavesOtherRows: rows the app adds, and values PostgreSQL prints in
// another spelling than schema.yaml's (an upper-case uuid, a numeric's scale, JSON's
// spacing), are no finding.
func TestDiffRowsLeavesOtherRows(t *testing.T) {
	t.Parallel()
	rowSchema.build(t, "testdata/generate/rows/steps/01.yaml")
	dbURL := rowSchema.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `INSERT INTO plans (id, price) VALUES ('team', 20);
		INSERT INTO role_permissions (role, permission) VALUES ('member', 'messages.list')`)
	if rep, r := diffReport(t, rowSchema.schema, dbURL); len(rep.Findings) != 0 {
		t.Fatalf("diff after the app added rows:\n%s", r)
	}
}
