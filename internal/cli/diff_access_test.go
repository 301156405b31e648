package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	pgtest.RunScript(t, conn, sql.stdout)
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

// TestDiffAsReadMostlyRole runs diff as a role that can only connect and create
// temporary tables, as the README documents, and checks that it leaves nothing behind.
func TestDiffAsReadMostlyRole(t *testing.T) {
	t.Parallel()
	baseSchema.build(t, "testdata/diff/base.yaml")
	dbURL := baseSchema.database(t)
	conn := pgtest.Connect(t, dbURL)
	role := fmt.Sprintf("rlsm_reader_%d", os.Getpid())
	var db string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, conn, fmt.Sprintf(`CREATE ROLE %s LOGIN; GRANT CONNECT, TEMPORARY ON DATABASE %q TO %s`, role, db, role))
	t.Cleanup(func() {
		c := pgtest.Connect(t, dbURL)
		pgtest.MustExec(t, c, fmt.Sprintf(`REVOKE ALL ON DATABASE %q FROM %s; DROP ROLE %s`, db, role, role))
	})
	before := catalogCounts(t, dbURL)
	u, _ := url.Parse(dbURL)
	u.User = url.User(role)
	if rep, r := diffReport(t, baseSchema.schema, u.String()); len(rep.Findings) != 0 || r.code != 0 {
		t.Errorf("diff as %s:\n%s", role, r)
	}
	pgtest.MustExec(t, conn, `ALTER POLICY tasks_select_owner ON tasks USING (true)`)
	if rep, r := diffReport(t, baseSchema.schema, u.String()); len(rep.Findings) != 1 {
		t.Errorf("diff as %s after a change:\n%s", role, r)
	}
	if after := catalogCounts(t, dbURL); after != before {
		t.Errorf("diff changed the catalog: %s before, %s after", before, after)
	}
}

// catalogCounts summarises the catalog: relations, policies, attributes, and references
// to roles.
func catalogCounts(t *testing.T, dbURL string) string {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	var s string
	// Roles are the cluster's, and other tests running beside this one create and drop
	// theirs: what the database's objects hold of roles (owners, grants, policies' roles)
	// is counted instead.
	err := conn.QueryRow(context.Background(), `SELECT format('%s relations, %s policies, %s attributes, %s references to roles',
		(SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_policy), (SELECT count(*) FROM pg_attribute),
		(SELECT count(*) FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDiffPendingMigrations checks the line about pending goose migrations, and that diff
// does not create goose's table on a database that has none.
func TestDiffPendingMigrations(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	fresh := pgtest.NewDB(t)
	dbURL := pgtest.NewDB(t)
	for i, step := range []string{"01", "02"} {
		data, _ := os.ReadFile("testdata/generate/add_column/steps/" + step + ".yaml")
		writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
		if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
			t.Fatal(r)
		}
		if i == 0 {
			if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
				t.Fatal(r)
			}
		}
	}
	r := run(t, work, "diff", "--schema", schemaPath, "--dir", dir, "--database-url", dbURL)
	want := "note: the database is at migration version 1; the migrations directory goes to 2 (1 pending: run rlsmigrate up)"
	if r.code != ExitFound || !strings.Contains(r.stdout, want) {
		t.Errorf("diff on a database behind migrations/: want exit 1 and %q:\n%s", want, r)
	}
	if r := run(t, work, "diff", "--schema", schemaPath, "--dir", dir, "--database-url", fresh); r.code != ExitFound || strings.Contains(r.stdout, "note:") {
		t.Errorf("diff on an empty database:\n%s", r)
	}
	if n := queryInt(t, fresh, "SELECT count(*) FROM pg_class WHERE relname = 'goose_db_version'"); n != 0 {
		t.Errorf("diff created goose's version table")
	}
}
