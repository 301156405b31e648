package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// step is one statement by a caller and its outcome: the rows it returns or touches,
// or the SQLSTATE it fails with.
type step struct {
	who    string // user id in the claims, "" for none
	claims string // extra claims, JSON members: "role": "admin"
	role   string // "" for authenticated
	sql    string
	rows   int
	err    string
}

// teamApps are the three apps of the Team access section, each with what its callers
// must and must not do, written out by hand (not derived by verify).
var teamApps = []struct {
	name  string
	seed  string // run as the tables' owner: rows for the steps
	steps []step
}{
	{"saas", `
		INSERT INTO organizations (id, name, created_by) VALUES (1, 'A', 'alice'), (2, 'B', 'bob');
		INSERT INTO memberships VALUES (1, 'alice', 'admin'), (1, 'carol', 'member'), (2, 'bob', 'admin');
		INSERT INTO projects (id, org_id, name) VALUES (10, 1, 'a1'), (20, 2, 'b1');
		INSERT INTO tasks (id, project_id, title, created_by) VALUES (100, 10, 'ta', 'alice'), (200, 20, 'tb', 'bob');
		INSERT INTO audit_log (message) VALUES ('x');`,
		[]step{
			{who: "alice", sql: "SELECT * FROM projects", rows: 1},
			{who: "alice", sql: "SELECT * FROM tasks WHERE id = 200", rows: 0},
			{who: "alice", sql: "INSERT INTO projects (org_id, name) VALUES (1, 'mine')", rows: 1},
			// The hole of a correlated EXISTS: a member of one org inserting into another.
			{who: "alice", sql: "INSERT INTO projects (org_id, name) VALUES (2, 'theirs')", err: "42501"},
			{who: "alice", sql: "UPDATE projects SET org_id = 2 WHERE id = 10", err: "42501"},
			{who: "carol", sql: "SELECT * FROM projects", rows: 1},
			{who: "carol", sql: "INSERT INTO projects (org_id, name) VALUES (1, 'not an admin')", err: "42501"},
			{who: "carol", sql: "INSERT INTO tasks (project_id, title) VALUES (10, 'member task')", rows: 1},
			{who: "carol", sql: "INSERT INTO tasks (project_id, title) VALUES (20, 'other org')", err: "42501"},
			{who: "carol", sql: "UPDATE tasks SET created_by = 'carol' WHERE id = 100", err: "42501"},
			{who: "carol", sql: "SELECT * FROM memberships", rows: 2},
			{who: "carol", sql: "DELETE FROM memberships WHERE user_id = 'alice'", rows: 0},
			{who: "bob", sql: "SELECT * FROM tasks", rows: 1},
			{who: "bob", sql: "SELECT * FROM organizations", rows: 1},
			{who: "", sql: "SELECT * FROM projects", rows: 0},
			{who: "alice", sql: "SELECT * FROM audit_log", rows: 0},
			{who: "alice", claims: `"role": "admin"`, sql: "SELECT * FROM audit_log", rows: 1},
			{who: "", role: "anonymous", sql: "SELECT * FROM projects", err: "42501"},
		}},
	{"social", `
		INSERT INTO posts (id, author_id, published, body) VALUES (1, 'alice', true, 'hello'), (2, 'alice', false, 'draft'), (3, 'bob', false, 'bob draft');
		INSERT INTO follows VALUES ('alice', 'bob'), ('bob', 'alice');
		INSERT INTO reports (id, reporter_id, status) VALUES (1, 'alice', 'open'), (2, 'bob', 'closed');`,
		[]step{
			{role: "anonymous", sql: "SELECT * FROM posts", rows: 1},
			{who: "bob", sql: "SELECT * FROM posts", rows: 2},
			{who: "bob", sql: "UPDATE posts SET body = 'x' WHERE id = 1", rows: 0},
			{who: "bob", sql: "DELETE FROM posts WHERE id = 1", rows: 0},
			{who: "bob", claims: `"app": {"role": "moderator"}`, sql: "SELECT * FROM posts", rows: 3},
			{who: "bob", claims: `"app": {"role": "moderator"}`, sql: "DELETE FROM posts WHERE id = 2", rows: 1},
			{who: "alice", sql: "SELECT * FROM follows", rows: 1},
			{who: "alice", sql: "INSERT INTO follows VALUES ('bob', 'carol')", err: "42501"},
			{who: "carol", claims: `"app": {"role": "admin"}`, sql: "SELECT * FROM reports", rows: 2},
			{who: "carol", claims: `"app": {"role": "moderator"}`, sql: "UPDATE reports SET status = 'open'", rows: 1},
			// where holds for the new row too: an update cannot leave it.
			{who: "carol", claims: `"app": {"role": "moderator"}`, sql: "UPDATE reports SET status = 'closed'", err: "42501"},
			{who: "carol", claims: `"app": {"role": "admin"}`, sql: "UPDATE reports SET status = 'closed'", rows: 0},
			{role: "anonymous", sql: "INSERT INTO posts (author_id, body) VALUES ('x', 'spam')", err: "42501"},
		}},
	{"docs", `
		INSERT INTO documents (id, owner_id, title) VALUES (1, 'alice', 'plan'), (2, 'bob', 'notes');
		INSERT INTO shares VALUES (1, 'bob', 'editor'), (1, 'carol', 'viewer');`,
		[]step{
			{who: "bob", sql: "SELECT * FROM documents", rows: 2},
			{who: "bob", sql: "UPDATE documents SET title = 'edited' WHERE id = 1", rows: 1},
			// An editor taking a shared document: the owner column is immutable.
			{who: "bob", sql: "UPDATE documents SET owner_id = 'bob' WHERE id = 1", err: "42501"},
			{who: "bob", sql: "DELETE FROM documents WHERE id = 1", rows: 0},
			{who: "carol", sql: "SELECT * FROM documents", rows: 1},
			{who: "carol", sql: "UPDATE documents SET title = 'viewer edit' WHERE id = 1", rows: 0},
			{who: "carol", sql: "SELECT * FROM shares", rows: 2},
			{who: "carol", sql: "INSERT INTO shares VALUES (1, 'dave', 'editor')", err: "42501"},
			{who: "alice", sql: "INSERT INTO shares VALUES (1, 'dave', 'viewer')", rows: 1},
			{who: "alice", sql: "UPDATE shares SET role = 'editor' WHERE user_id = 'carol'", rows: 1},
			{who: "alice", sql: "SELECT * FROM documents", rows: 1},
		}},
	{"claims", `INSERT INTO reports VALUES (1, 'r')`,
		[]step{
			{who: "ann", claims: `"https://myapp.example.com/role": "admin"`, sql: "SELECT * FROM reports", rows: 1},
			// Once split at its dots into a nested path, which never matched.
			{who: "ann", claims: `"https": {"//myapp": {"example": {"com/role": "admin"}}}`, sql: "SELECT * FROM reports", rows: 0},
			{who: "ann", claims: `"email_verified": true, "app": {"tier.level": 3}`, sql: "UPDATE reports SET body = 'x'", rows: 1},
			// Once compared as text: the string "true" passed for the boolean.
			{who: "ann", claims: `"email_verified": "true", "app": {"tier.level": 3}`, sql: "UPDATE reports SET body = 'x'", rows: 0},
			{who: "ann", claims: `"email_verified": true, "app": {"tier.level": "3"}`, sql: "UPDATE reports SET body = 'x'", rows: 0},
		}},
	{"vendor", `
		INSERT INTO orgs VALUES (1), (2);
		INSERT INTO memberships VALUES (1, 'vera'), (2, 'cleo');
		INSERT INTO projects VALUES (10, 1, 2);
		INSERT INTO invoices VALUES (100, 10);
		INSERT INTO internal_notes VALUES (200, 10);`,
		[]step{
			{who: "vera", sql: "SELECT * FROM internal_notes", rows: 1},
			{who: "vera", sql: "SELECT * FROM invoices", rows: 0},
			{who: "cleo", sql: "SELECT * FROM invoices", rows: 1},
			// Once one function served both through rules: the client read these.
			{who: "cleo", sql: "SELECT * FROM internal_notes", rows: 0},
		}},
}

// TestTeamApps builds each app from testdata/apps with generate and up, checks that diff
// finds nothing and verify proves every rule (no mismatch, nothing left underived), then
// runs each app's steps: every caller sees, inserts, updates and deletes what the rules
// say, and no statement fails with 42P17 (policy recursion).
func TestTeamApps(t *testing.T) {
	for _, app := range teamApps {
		t.Run(app.name, func(t *testing.T) {
			t.Parallel()
			var b built
			b.build(t, filepath.Join("testdata", "apps", app.name+".yaml"))
			dbURL := b.database(t)
			if rep, r := diffReport(t, b.schema, dbURL); len(rep.Findings) != 0 {
				t.Fatalf("diff on a database up built:\n%s", r)
			}
			v := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
			if v.code != 0 || !strings.Contains(v.stdout, "0 mismatch(es), 0 decided by custom rules") {
				t.Fatalf("verify:\n%s", v)
			}
			md := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL, "--format", "markdown")
			if md.code != 0 || !strings.Contains(md.stdout, "| operation | own rows | others' rows | others' rows, no WHERE | no identity |") ||
				!strings.Contains(md.stdout, "0 mismatch(es), 0 decided by custom rules") || strings.Contains(md.stdout, "✗") {
				t.Fatalf("verify --format markdown:\n%s", md)
			}
			conn := pgtest.Connect(t, dbURL)
			pgtest.MustExec(t, conn, app.seed)
			ctx := context.Background()
			for _, s := range app.steps {
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				claims := ""
				if s.who != "" {
					claims = fmt.Sprintf(`{"sub": %q`, s.who)
					if s.claims != "" {
						claims += ", " + s.claims
					}
					claims += "}"
				}
				role := s.role
				if role == "" {
					role = "authenticated"
				}
				if _, err := tx.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", claims); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+role); err != nil {
					t.Fatal(err)
				}
				n, err := execCount(ctx, tx, s.sql, nil)
				tx.Rollback(ctx)
				var pe *pgconn.PgError
				got := fmt.Sprintf("rows %d", n)
				if errors.As(err, &pe) {
					got = "error " + pe.Code + " " + pe.Message
				} else if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("rows %d", s.rows)
				if s.err != "" {
					want = "error " + s.err
				}
				if !strings.HasPrefix(got, want) {
					t.Errorf("%s as %s %s: %s; want %s", s.sql, role, claims, got, want)
				}
			}
		})
	}
}

// TestVerifyCatchesBrokenTeamRules breaks, one at a time, what a built-in rule relies
// on in the database: verify must fail and name the attempt that shows it.
func TestVerifyCatchesBrokenTeamRules(t *testing.T) {
	t.Parallel()
	builds := map[string]*built{"saas": {}, "social": {}, "docs": {}}
	for _, tc := range []struct {
		name, app, sql, want string
	}{
		{"group function returns every org", "saas",
			`CREATE OR REPLACE FUNCTION rls.org_member() RETURNS bigint[] LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$SELECT ARRAY(SELECT org_id FROM public.memberships)$$`,
			"public.projects: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"group filter dropped", "saas",
			`CREATE OR REPLACE FUNCTION rls.org_admin() RETURNS bigint[] LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$SELECT ARRAY(SELECT org_id FROM public.memberships WHERE user_id = auth.user_id())$$`,
			"public.projects: update of a group's row by a member failing the group's filter: allowed, schema.yaml says denied"},
		{"through function ignores the group", "saas",
			`CREATE OR REPLACE FUNCTION rls.` + policy.ThroughFunction("org_member", &policy.Through{Table: "projects", Column: "org_id"}, "id") +
				`() RETURNS bigint[] LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$SELECT ARRAY(SELECT id FROM public.projects)$$`,
			"public.tasks: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"claim ignored", "saas", `ALTER POLICY audit_log_select_claim ON audit_log USING (true)`,
			"public.audit_log: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"claim value changed", "social", `ALTER POLICY posts_delete_claim ON posts USING (((SELECT auth.session()) #>> '{app,role}') = 'admin')`,
			"public.posts: delete of another user's row by a user with the claims the rules ask for: denied, schema.yaml says allowed"},
		{"where dropped", "social", `ALTER POLICY posts_select_anyone ON posts USING (true)`,
			"public.posts: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"immutable column granted", "docs", `GRANT UPDATE ON documents TO authenticated`,
			"public.documents: update by a member making itself the owner of a group's row: allowed, schema.yaml says denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := builds[tc.app]
			b.build(t, filepath.Join("testdata", "apps", tc.app+".yaml"))
			dbURL := b.database(t)
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), tc.sql)
			r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
			if r.code != ExitFound || !strings.Contains(r.stdout, "MISMATCH "+tc.want) {
				t.Fatalf("verify after %q: want MISMATCH %s\n%s", tc.sql, tc.want, r)
			}
		})
	}
}

// TestDiffTeamDrift changes, one at a time, the functions and column privileges team
// rules rely on: diff must report each with one finding and a fix that converges.
func TestDiffTeamDrift(t *testing.T) {
	t.Parallel()
	var b built
	runMutations(t, &b, "testdata/apps/docs.yaml", []mutation{
		{"group function returns every document",
			`CREATE OR REPLACE FUNCTION rls.doc_viewer() RETURNS bigint[] LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$SELECT ARRAY(SELECT id FROM public.documents)$$`,
			"function.replace", "rls.doc_viewer()"},
		{"group function no longer SECURITY DEFINER", `ALTER FUNCTION rls.doc_editor() SECURITY INVOKER`, "function.replace", "rls.doc_editor()"},
		{"group function search_path reset", `ALTER FUNCTION rls.doc_editor() RESET search_path`, "function.replace", "rls.doc_editor()"},
		{"group function executable by PUBLIC", `GRANT EXECUTE ON FUNCTION rls.doc_author() TO PUBLIC`, "function.replace", "rls.doc_author()"},
		{"extra definer function in rls", `CREATE FUNCTION rls.everything() RETURNS bigint[] LANGUAGE sql SECURITY DEFINER AS 'SELECT ARRAY(SELECT id FROM public.documents)'`,
			"function.drop", "rls.everything()"},
		{"owner column granted to update", `GRANT UPDATE (owner_id) ON documents TO authenticated`, "grant.revoke", "public.documents.authenticated"},
		{"update granted on the whole table", `GRANT UPDATE ON documents TO authenticated`, "grant.revoke", "public.documents.authenticated"},
		{"column privilege revoked", `REVOKE UPDATE (title) ON documents FROM authenticated`, "grant.add", "public.documents.authenticated"},
	})
}
