package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAllOrNothingWidensAccess: a condition that reads no column of its row opens every
// row to a caller however it is spelt; generate refuses it as widens-access unless
// allowed, where once only the spelling "true" was refused (trust II: 1 IN (1),
// (select true) and true IS TRUE went through with no hazard).
func TestAllOrNothingWidensAccess(t *testing.T) {
	base := table("name: todos", idCol+"\n{name: user_id, type: text, not_null: true, default: auth.user_id()}", "owner: user_id\npolicies: owner")
	for _, cond := range []string{"true IS TRUE", "1 IN (1)", "(select true)", "auth.user_id() IS NOT NULL", "exists (select 1 from pg_roles)"} {
		t.Run(cond, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
			writeFiles(t, work, map[string]string{"schema.yaml": base})
			if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
				t.Fatal(r)
			}
			next := strings.Replace(base, "policies: owner", "policies:\n      select: owner\n      insert: owner\n      update: owner\n      delete: {using: \""+cond+"\"}", 1)
			writeFiles(t, work, map[string]string{"schema.yaml": next})
			r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir)
			if r.code != ExitError || !strings.Contains(r.stderr, "todos_delete_rule [widens-access]") {
				t.Fatalf("generate of delete using %q:\n%s", cond, r)
			}
			if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir, "--allow-hazards", "drops-policy,widens-access"); r.code != 0 {
				t.Fatalf("generate --allow-hazards drops-policy,widens-access:\n%s", r)
			}
		})
	}
}
