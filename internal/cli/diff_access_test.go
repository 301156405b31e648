package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

func TestDiffAccess(t *testing.T) {
	runMutations(t, &baseSchema, "testdata/diff/base.yaml", []mutation{
		{"grant revoked", `REVOKE DELETE ON tasks FROM authenticated`, "grant.add", "public.tasks.authenticated"},
		{"extra grant", `GRANT TRUNCATE ON tasks TO authenticated`, "grant.revoke", "public.tasks.authenticated"},
		{"grant to another declared role", `GRANT SELECT ON tasks TO anonymous`, "grant.revoke", "public.tasks.anonymous"},
		{"all grants revoked from a role", `REVOKE ALL ON projects FROM anonymous`, "grant.add", "public.projects.anonymous"},
		{"schema usage revoked", `REVOKE USAGE ON SCHEMA public FROM authenticated`, "schema.usage.grant", "public.authenticated"},
	})
}

// TestDiffRoleAndFunction covers what lives outside tables: a declared role dropped from
// the cluster, and the identity function missing from a database.
func TestDiffRoleAndFunction(t *testing.T) {
	t.Parallel()
	role := fmt.Sprintf("rlsm_auditor_%d", os.Getpid())
	work := t.TempDir()
	schemaPath := filepath.Join(work, "schema.yaml")
	writeFiles(t, work, map[string]string{"schema.yaml": fmt.Sprintf(`version: 1
auth:
  provider: none
  user_id: app.current_user_id()
  roles: [authenticated, %s]
tables:
  - name: notes
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: body, type: text}
    policies:
      select: anyone
`, role)})
	dir := filepath.Join(work, "migrations")
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	dbURL := pgtest.NewDB(t)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	rep, r := diffReport(t, schemaPath, dbURL)
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "function.missing" || rep.Findings[0].Object != "app.current_user_id()" {
		t.Fatalf("with provider none and no function, want one function.missing finding:\n%s", r.stdout)
	}
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, `CREATE SCHEMA app; CREATE FUNCTION app.current_user_id() RETURNS text LANGUAGE sql AS 'SELECT NULL::text'`)
	pgtest.MustExec(t, conn, `DROP ROLE `+role)
	rep, r = diffReport(t, schemaPath, dbURL)
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "role.create" || rep.Findings[0].Object != role {
		t.Fatalf("after dropping role %s, want one role.create finding:\n%s", role, r.stdout)
	}
	sql := run(t, "", "diff", "--format", "sql", "--schema", schemaPath, "--database-url", dbURL)
	pgtest.MustExec(t, conn, sql.stdout)
	if rep, r := diffReport(t, schemaPath, dbURL); len(rep.Findings) != 0 {
		t.Errorf("after applying diff's SQL:\n%s", r.stdout)
	}
	pgtest.MustExec(t, conn, `DROP ROLE `+role)
}

// TestDiffEquivalentForms builds a database from base.yaml and diffs it against the same
// schema spelled the ways PostgreSQL stores identically: nothing may be reported.
func TestDiffEquivalentForms(t *testing.T) {
	t.Parallel()
	baseSchema.build(t, "testdata/diff/base.yaml")
	dbURL := baseSchema.database(t)
	if rep, r := diffReport(t, "testdata/diff/equivalent.yaml", dbURL); len(rep.Findings) != 0 {
		t.Errorf("equivalent spellings reported as differences:\n%s", r.stdout)
	}
	if rep, r := diffReport(t, baseSchema.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("a database built from base.yaml differs from it:\n%s", r.stdout)
	}
}
