package cli

import (
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

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

// TestDiffOnlyWhatItOwns checks that objects outside the declared schemas are not
// reported, unless --schemas asks for them.
func TestDiffOnlyWhatItOwns(t *testing.T) {
	t.Parallel()
	baseSchema.build(t, "testdata/diff/base.yaml")
	dbURL := baseSchema.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `CREATE SCHEMA other; CREATE TABLE other.stray (id int);
		ALTER TABLE other.stray ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON other.stray USING (true)`)
	if rep, r := diffReport(t, baseSchema.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("diff reported objects outside the declared schemas:\n%s", r.stdout)
	}
	rep, r := diffReport(t, baseSchema.schema, dbURL, "--schemas", "public,other")
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "table.drop" || rep.Findings[0].Object != "other.stray" {
		t.Errorf("diff --schemas public,other should report other.stray as not declared:\n%s", r.stdout)
	}
}

// TestDiffFormatsGolden pins the text, markdown and sql reports for a database with a
// widened policy, an extra column and a dropped index.
func TestDiffFormatsGolden(t *testing.T) {
	t.Parallel()
	baseSchema.build(t, "testdata/diff/base.yaml")
	dbURL := baseSchema.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `ALTER POLICY tasks_select_owner ON tasks USING (true);
		ALTER TABLE tasks ADD COLUMN notes text; DROP INDEX tasks_project_id_idx`)
	var got string
	for _, format := range []string{"text", "markdown", "sql"} {
		r := run(t, baseSchema.work, "diff", "--format", format, "--schema", baseSchema.schema, "--database-url", dbURL)
		got += "$ rlsmigrate diff --format " + format + "\n" + r.String()
	}
	compareGolden(t, "testdata/diff/formats.txt", got)
}
