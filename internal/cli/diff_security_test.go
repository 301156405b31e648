package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestDiffSecurityDrift applies, one at a time, changes that let an app role past
// row-level security without touching a policy. diff must report each as a security
// finding of the right kind, exit 1, and print a fix that, applied, makes the next diff
// empty.
func TestDiffSecurityDrift(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/security.yaml")
	for _, tc := range []struct {
		name, sql, kind string
	}{
		{"table owned by the app role", `ALTER TABLE notes OWNER TO sec_app`, "table.owner"},
		{"table owned by another role", `CREATE ROLE sec_someone; ALTER TABLE notes OWNER TO sec_someone`, "table.owner"},
		{"app role is a member of the tables' owner", `GRANT postgres TO sec_app`, "role.membership"},
		{"app role is a member of a bypassing role", `CREATE ROLE sec_bypasser BYPASSRLS; GRANT sec_bypasser TO sec_anon`, "role.membership"},
		{"app role has BYPASSRLS", `ALTER ROLE sec_app BYPASSRLS`, "role.bypass"},
		{"app role is a superuser", `ALTER ROLE sec_anon SUPERUSER`, "role.bypass"},
		// SET app.impersonate = 'victim' then reads the victim's rows.
		{"identity function redefined", `CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text LANGUAGE sql STABLE
			AS $$ SELECT coalesce(nullif(current_setting('app.impersonate', true), ''), auth.session() ->> 'sub') $$`, "function.definition"},
		{"identity function made SECURITY DEFINER", `ALTER FUNCTION auth.session() SECURITY DEFINER`, "function.definition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := b.database(t)
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), tc.sql)
			// Roles are shared by every database of the server: put them back.
			t.Cleanup(func() {
				conn := pgtest.Connect(t, dbURL)
				for _, sql := range []string{"ALTER ROLE sec_app NOBYPASSRLS NOSUPERUSER", "ALTER ROLE sec_anon NOBYPASSRLS NOSUPERUSER",
					"REVOKE postgres FROM sec_app", "DROP OWNED BY sec_someone", "DROP ROLE IF EXISTS sec_bypasser, sec_someone"} {
					conn.Exec(context.Background(), sql) // some name roles this case did not create
				}
			})
			rep, r := diffReport(t, b.schema, dbURL)
			if r.code != ExitFound || len(rep.Findings) == 0 || rep.Findings[0].Kind != tc.kind || rep.Findings[0].Severity != "security" {
				t.Fatalf("want a first finding %s (security):\n%s", tc.kind, r)
			}
			text := run(t, "", "diff", "--schema", b.schema, "--database-url", dbURL)
			if !strings.Contains(text.stdout, tc.kind+" (security)") || !strings.Contains(text.stdout, "security)") {
				t.Errorf("text output:\n%s", text)
			}
			sql := run(t, "", "diff", "--schema", b.schema, "--database-url", dbURL, "--format", "sql")
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), sql.stdout)
			if rep, r := diffReport(t, b.schema, dbURL); r.code != 0 || len(rep.Findings) != 0 {
				t.Fatalf("diff after applying\n%s\n%s", sql.stdout, r)
			}
		})
	}
}
