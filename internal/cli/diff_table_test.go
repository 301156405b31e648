package cli

import "testing"

func TestDiffTables(t *testing.T) {
	runMutations(t, &baseSchema, "testdata/diff/base.yaml", []mutation{
		{"table dropped", `DROP TABLE tasks`, "table.create", "public.tasks"},
		{"extra table", `CREATE TABLE stray (id int)`, "table.drop", "public.stray"},
		{"rls disabled", `ALTER TABLE tasks DISABLE ROW LEVEL SECURITY`, "table.rls.enable", "public.tasks"},
		{"force removed", `ALTER TABLE projects NO FORCE ROW LEVEL SECURITY`, "table.force_rls.enable", "public.projects"},
		{"force added", `ALTER TABLE tasks FORCE ROW LEVEL SECURITY`, "table.force_rls.disable", "public.tasks"},
		{"primary key dropped", `ALTER TABLE tasks DROP CONSTRAINT tasks_pkey`, "table.primary_key.add", "public.tasks"},
	})
}
