package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
)

var bundled = &built{}

// TestVerifyCatchesHoles breaks a database built from the bundled schema.yaml in one way
// at a time and checks that verify fails naming the hole, and that it leaves the
// database as it found it.
func TestVerifyCatchesHoles(t *testing.T) {
	bundled.build(t, filepath.Join("..", "..", "schema.yaml"))
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"intact", "", ""},
		{"policy widened to true", `ALTER POLICY todos_select_owner ON todos USING (true)`,
			"public.todos: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"policy dropped", `DROP POLICY todos_insert_owner ON todos`,
			"public.todos: insert of its own row by a user: denied, schema.yaml says allowed"},
		{"update check widened", `ALTER POLICY comments_update_owner ON comments WITH CHECK (true)`,
			"public.comments: update giving its own row to another user: allowed, schema.yaml says denied"},
		{"rls disabled", `ALTER TABLE comments DISABLE ROW LEVEL SECURITY`,
			"public.comments: select of another user's row by a user: allowed, schema.yaml says denied"},
		{"comments readable by all", `ALTER POLICY comments_select_owner ON comments USING (true)`,
			`public.comments: test "bob cannot read alice's comments" (line 42) as bob: rows 1, schema.yaml says rows 0`},
		{"owner compared to the wrong column", `ALTER POLICY todos_delete_owner ON todos USING ((select auth.user_id()) = task)`,
			"public.todos: delete of its own row by a user: denied, schema.yaml says allowed"},
		{"anonymous reads todos", `GRANT SELECT ON todos TO anonymous; CREATE POLICY leak ON todos FOR SELECT TO anonymous USING (true)`,
			"public.todos: select by a caller with no identity as role anonymous: allowed, schema.yaml says denied"},
		// trust II: a delete by WHERE is held to the select rules too and was denied, so
		// verify passed while DELETE FROM todos deleted every user's rows.
		{"delete open to every row behind the select rules", `ALTER POLICY todos_delete_owner ON todos USING (true IS TRUE)`,
			"public.todos: delete without WHERE by a user, reaching another user's row: allowed, schema.yaml says denied"},
		{"grant missing", `REVOKE UPDATE ON todos FROM authenticated`,
			"public.todos: update of its own row by a user: denied, schema.yaml says allowed"},
		{"identity ignored", `CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text LANGUAGE sql STABLE AS $$ SELECT '` + verify.Bob + `' $$`,
			"public.todos: select of another user's row by a user: allowed, schema.yaml says denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbURL := bundled.database(t)
			conn := pgtest.Connect(t, dbURL)
			if tc.sql != "" {
				pgtest.MustExec(t, conn, tc.sql)
			}
			before := snapshot(t, dbURL)
			r := run(t, "", "verify", "--schema", bundled.schema, "--database-url", dbURL)
			if tc.want == "" {
				if r.code != 0 || !strings.Contains(r.stdout, "203 check(s) and 4 test(s): 0 mismatch(es), 0 decided") {
					t.Errorf("verify on an intact database:\n%s", r)
				}
			} else if r.code != ExitFound || !strings.Contains(r.stdout, "MISMATCH "+tc.want) {
				t.Errorf("verify did not name the hole %q:\n%s", tc.want, r)
			}
			if after := snapshot(t, dbURL); after != before {
				t.Errorf("verify left a trace: before %s, after %s", before, after)
			}
		})
	}
}

// snapshot summarises the rows of the bundled tables and the catalog.
func snapshot(t *testing.T, dbURL string) string {
	t.Helper()
	var s string
	err := pgtest.Connect(t, dbURL).QueryRow(context.Background(), `SELECT format('todos %s, comments %s',
		(SELECT count(*) FROM todos), (SELECT count(*) FROM comments))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s + " " + catalogCounts(t, dbURL)
}

// TestVerifyCatalogDrivenRows: an owner column of type uuid failed (and the message
// blamed the role); interval and point columns broke the sample values; a NOT NULL
// column defaulting to the caller's id failed on a table without an owner; an owner table
// with a composite key.
func TestVerifyCatalogDrivenRows(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/uuid_owner.yaml")
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "0 mismatch(es)") {
		t.Fatalf("verify:\n%s", r)
	}
}

// TestVerifyReportsRecursion: a policy failing with infinite recursion (42P17) was
// "not derived" and verify exited 0.
func TestVerifyReportsRecursion(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/recursion.yaml")
	dbURL := b.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `ALTER POLICY members_select_owner ON members
		USING (org_id in (select m.org_id from members m where m.user_id = (select auth.user_id())))`)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	if r.code != ExitFound || !strings.Contains(r.stdout, "MISMATCH public.members: select of its own row by a user: failed") ||
		!strings.Contains(r.stdout, "infinite recursion") {
		t.Fatalf("verify on a recursive policy:\n%s", r)
	}
}

// TestVerifyReportsRefusedRowsAsNotExercised: a CHECK constraint that verify's test rows
// break ended verify with exit 2; the table, and one whose rows need its rows, are now
// reported as not exercised, with the database's reason, and the others are checked.
func TestVerifyReportsRefusedRowsAsNotExercised(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/refused_rows.yaml")
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	for _, want := range []string{
		`public.orders: skipped, not exercised: the database refused verify's test rows (new row for relation "orders" violates check constraint "orders_total_large", SQLSTATE 23514)`,
		`public.lines: skipped, not exercised: the database refused verify's test rows (`,
		"public.notes (owner user_id)",
		"0 mismatch(es)",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("verify: want exit 0 and %q:\n%s", want, r)
		}
	}
}

// TestVerifyThroughExternalUsers: an owner column referencing auth.users (declared
// external) left verify no row to insert; the test users get rows in auth.users, and
// the table is checked.
func TestVerifyThroughExternalUsers(t *testing.T) {
	t.Parallel()
	externalSchema.build(t, "testdata/diff/external.yaml")
	dbURL := externalSchema.database(t)
	r := run(t, externalSchema.work, "verify", "--schema", externalSchema.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "public.notes (owner user_id)") || !strings.Contains(r.stdout, " 0 mismatch(es)") ||
		strings.Contains(r.stdout, "not exercised") {
		t.Fatalf("verify:\n%s", r)
	}
}

// TestVerifyMovesSequencesPastExistingIDs: rows inserted with explicit ids left the
// identity sequence behind, so verify's test rows took an id that existed (exit 2, then
// "not exercised"); the sequence is moved past them and the table is checked.
func TestVerifyMovesSequencesPastExistingIDs(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/refused_rows.yaml")
	dbURL := b.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `INSERT INTO notes (id, user_id) OVERRIDING SYSTEM VALUE
		SELECT i, 'someone' FROM generate_series(1, 5) i`)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "public.notes (owner user_id)") || strings.Contains(r.stdout, "public.notes: skipped") {
		t.Fatalf("verify on a table whose rows are ahead of its sequence:\n%s", r)
	}
}

// TestVerifyTestsCarryClaims: verify's callers carried only sub, so a test of a custom
// rule reading other claims could not be written; they carry verify.users' claims, with
// a test's own over them.
func TestVerifyTestsCarryClaims(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/claims.yaml")
	dbURL := b.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `INSERT INTO reports (org_id) VALUES (7), (7), (8)`)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL, "--format", "json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --format json: %v\n%s", err, r)
	}
	ran := 0
	for _, tr := range rep.Tables {
		for _, tc := range tr.Tests {
			ran++
			if tc.Failed() {
				t.Errorf("test %q: %s, want %s (%s)", tc.Name, tc.Observed, tc.Expected, tc.Detail)
			}
		}
	}
	if ran != 5 || r.code != 0 {
		t.Fatalf("verify ran %d tests, want 5, exit 0:\n%s", ran, r)
	}
}

// TestVerifyInsertsOverReferencedOwnerRows: to try a caller's insert of its own row
// where the owner column is the key, verify deletes the row the caller has; a table
// referencing it without cascade refused the delete, and verify stopped with exit 2.
func TestVerifyInsertsOverReferencedOwnerRows(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/referenced_owner.yaml")
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "public.profiles (owner id)") || !strings.Contains(r.stdout, " 0 mismatch(es)") {
		t.Fatalf("verify:\n%s", r)
	}
	if !strings.Contains(r.stdout, "insert") || strings.Contains(r.stdout, "not run") {
		t.Errorf("verify left the insert of a caller's own profile out:\n%s", r)
	}
}

// TestVerifyWithSignUpTrigger: a trigger on auth.users made each test user's profile
// as verify added the user, so verify's own profile rows collided and the table was not
// exercised; the test users are added with triggers off.
func TestVerifyWithSignUpTrigger(t *testing.T) {
	t.Parallel()
	externalTriggerSchema.build(t, "testdata/diff/external_trigger.yaml")
	dbURL := externalTriggerSchema.database(t)
	r := run(t, externalTriggerSchema.work, "verify", "--schema", externalTriggerSchema.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "public.profiles (owner id)") || strings.Contains(r.stdout, "not exercised") {
		t.Fatalf("verify:\n%s", r)
	}
}

// TestVerifyThroughDeclaredUsersTable: an owner column referencing a users table of
// schema.yaml left verify's rows without a user to point at (the users table's key got a
// sample value, and was filled after the tables referencing it): every such table was
// not exercised. The users' rows now carry their ids and come first, and a table no rule
// opens is checked to let nothing through.
func TestVerifyThroughDeclaredUsersTable(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/users_table.yaml")
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL, "--format", "json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("verify: %v\n%s", err, r)
	}
	checked := map[string]int{}
	for _, tr := range rep.Tables {
		if tr.Skipped != "" {
			t.Errorf("%s skipped: %s", tr.Table, tr.Skipped)
		}
		for _, c := range tr.Checks {
			checked[tr.Table]++
			if tr.Table == "public.users" && c.Expected != verify.Denied {
				t.Errorf("users, which no rule opens: %s %s expected %s", c.Operation, c.Case, c.Expected)
			}
		}
	}
	if checked["public.notes"] == 0 || checked["public.users"] == 0 || len(rep.Mismatches()) > 0 {
		t.Errorf("checks per table %v, mismatches %v", checked, rep.Mismatches())
	}
}

// TestVerifyWithBypassRole: a declared role that bypasses row-level security
// (Supabase's service_role) was expected to be held by the rules, and every attempt it
// made was a mismatch; its privileges alone say what it may do.
func TestVerifyWithBypassRole(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	data, err := os.ReadFile("testdata/verify/bypass_role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
	schemaPath := filepath.Join(work, "schema.yaml")
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", filepath.Join(work, "migrations")); r.code != 0 {
		t.Fatal(r)
	}
	dbURL := pgtest.NewSupabaseDB(t)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", filepath.Join(work, "migrations")); r.code != 0 {
		t.Fatal(r)
	}
	r := run(t, work, "verify", "--schema", schemaPath, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "as service_role") || !strings.Contains(r.stdout, " 0 mismatch(es)") {
		t.Fatalf("verify:\n%s", r)
	}
}

// TestVerifyInsertsOverReferenceKeyedRows: a table whose primary key is made of its
// references and owner (a chat's participants) got, for verify's insert of a caller's
// own row, the key of the row verify had set up for the caller: a unique violation,
// reported as a mismatch. The set-up row goes first, as for an owner-keyed table.
func TestVerifyInsertsOverReferenceKeyedRows(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/verify/reference_key.yaml")
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, " 0 mismatch(es)") {
		t.Fatalf("verify:\n%s", r)
	}
}
