package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
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

// TestVerifyCannotEscalate: test SQL from schema.yaml once ran with the connecting
// role's power (a superuser): set_config('role', ...) then read every row and the
// server's files. Each escape below must now fail inside verify, and the tests after it
// must run as their caller still.
func TestVerifyCannotEscalate(t *testing.T) {
	t.Parallel()
	escapes := []string{
		`select pg_read_file('/etc/hostname') from (select set_config('role', 'none', true)) s`,
		`select count(*) from (select set_config('role', 'none', true)) s, todos`,
		`do $$begin execute 'reset role'; end$$`,
		`do $$begin execute 'set session authorization default'; end$$`,
		`select query_to_xml('select set_config(''role'', ''none'', true), pg_read_file(''/etc/hostname'')', true, false, '')`,
	}
	var tests strings.Builder
	for i, sql := range escapes {
		fmt.Fprintf(&tests, "      - {name: escape %d, as: bob, sql: %q, expect: {rows: 1}}\n", i, sql)
	}
	// After the escapes: bob still reads only his own rows.
	tests.WriteString("      - {name: bob is still bob, as: bob, sql: \"select * from todos\", expect: {rows: 1}}\n")
	src := table("name: todos", idCol+"\n{name: user_id, type: text, not_null: true, default: auth.user_id()}", "owner: user_id\npolicies: owner\ntests:\n") +
		strings.TrimRight(tests.String(), "\n") + "\n"
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": src})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	dbURL := pgtest.NewDB(t)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	r := run(t, work, "verify", "--schema", schemaPath, "--database-url", dbURL, "--format", "json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --format json: %v\n%s", err, r)
	}
	seen := 0
	for _, tr := range rep.Tables {
		for _, tc := range tr.Tests {
			seen++
			if tc.Name == "bob is still bob" {
				if tc.Observed != "rows 1" {
					t.Errorf("after the escapes, bob reads: %s (%s)", tc.Observed, tc.Detail)
				}
				continue
			}
			if !strings.HasPrefix(tc.Observed, "error ") {
				t.Errorf("test %q (%s) ran: %s", tc.Name, tc.SQL, tc.Observed)
			}
		}
	}
	if seen != len(escapes)+1 {
		t.Fatalf("verify ran %d test(s), want %d:\n%s", seen, len(escapes)+1, r)
	}
}

// TestEveryTypeByRuleKind draws every column type the format knows as the owner column
// (under a text and a uuid identity) and as a group's id (compared by a member rule):
// each schema is either refused at validate, with a position, or generates, applies,
// converges and verifies with no mismatch. Before, a uuid owner column passed validate
// and failed at up.
func TestEveryTypeByRuleKind(t *testing.T) {
	if testing.Short() {
		t.Skip("applies one migration per type and rule kind")
	}
	for _, typ := range sqlparse.KnownTypes() {
		for _, kind := range []string{"owner/text", "owner/uuid", "member"} {
			t.Run(kind+"/"+typ, func(t *testing.T) {
				t.Parallel()
				var src string
				switch kind {
				case "member":
					src = "version: 1\ngroups:\n  team: {table: memberships, group: team_id, user: user_id}\ntables:\n" +
						tableEntry("name: memberships", "{name: team_id, type: \""+typ+"\", primary_key: true}\n{name: user_id, type: text, primary_key: true}",
							"policies:\n  select: {member: team}")
				default:
					auth := ""
					if kind == "owner/uuid" {
						auth = "auth: {user_id: \"(auth.user_id())::uuid\"}\n"
					}
					src = "version: 1\n" + auth + "tables:\n" + tableEntry("name: todos", idCol+"\n{name: owner_col, type: \""+typ+"\", not_null: true}", "owner: owner_col\npolicies: owner")
				}
				work := t.TempDir()
				schemaPath := filepath.Join(work, "schema.yaml")
				writeFiles(t, work, map[string]string{"schema.yaml": src})
				if v := run(t, work, "validate", "--schema", schemaPath); v.code != 0 {
					if v.code != ExitError || !strings.Contains(v.stderr, "schema.yaml:") {
						t.Fatalf("validate refused without a position:\n%s", v)
					}
					return // refused with a position: allowed
				}
				c := newConverger(t, "")
				if msg := c.step(src); msg != "" {
					t.Fatalf("%s passed validate, then:\n%s\n%s", typ, msg, src)
				}
				if r := run(t, work, "verify", "--schema", schemaPath, "--database-url", c.dbURL); r.code != 0 {
					t.Fatalf("%s: verify:\n%s", typ, r)
				}
			})
		}
	}
}

// TestVerifyFindsSelfEscalation: on a group table whose rules let members update their
// rows, verify makes a plain member set its own role to admin, and reports it; lint
// reports RLS028 at the rule.
func TestVerifyFindsSelfEscalation(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, filepath.Join("testdata", "apps", "escalate.yaml"))
	dbURL := b.database(t)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", dbURL)
	want := "MISMATCH public.memberships: update by a member setting its own row to pass the filter of group org_admin (making itself one): allowed, schema.yaml says denied"
	if r.code != ExitFound || !strings.Contains(r.stdout, want) {
		t.Errorf("verify does not report the escalation:\n%s", r)
	}
	if l := run(t, b.work, "lint", "--schema", b.schema); !strings.Contains(l.stdout, " RLS028 ") {
		t.Errorf("lint does not report RLS028:\n%s", l)
	}
}

// TestVerifyDoesNotCallVolatileDefiners: verify once called every SECURITY DEFINER
// function without arguments it found, and one that wrote a file on the server wrote
// three. A volatile one is now listed as not exercised; a sequence it advances (which
// no rollback takes back) shows it was not called.
func TestVerifyDoesNotCallVolatileDefiners(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/drift.yaml")
	dbURL := b.database(t)
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, `CREATE SEQUENCE side_effects;
		CREATE FUNCTION act() RETURNS SETOF notes LANGUAGE plpgsql SECURITY DEFINER
			AS $$BEGIN PERFORM nextval('public.side_effects'); RETURN QUERY SELECT * FROM public.notes; END$$`)
	r := run(t, "", "verify", "--schema", b.schema, "--database-url", dbURL, "--role", "drift_app")
	if !strings.Contains(r.stdout, "volatile: it may act outside verify's transaction") {
		t.Errorf("verify does not say why it left act() out:\n%s", r)
	}
	if n := queryInt(t, dbURL, `SELECT last_value::int + is_called::int FROM side_effects`); n != 1 {
		t.Errorf("verify called the volatile definer function (the sequence is at %d)", n)
	}
}

// TestNegativeLockRetriesRefused: up --lock-retries -1 was accepted.
func TestNegativeLockRetriesRefused(t *testing.T) {
	for _, flag := range [][]string{{"--lock-retries", "-1"}, {"--lock-backoff", "-1s"}} {
		r := run(t, "", append([]string{"up", "--database-url", "postgres://nobody@127.0.0.1:1/none"}, flag...)...)
		if r.code != ExitError || !strings.Contains(r.stderr, "must not be negative") {
			t.Errorf("up %v:\n%s", flag, r)
		}
	}
}

// TestVerifyAsTableOwner runs verify as the README allows it: a login role that owns
// the tables (not a superuser) and is a member of the verified roles. The confining
// function, the unbounded update and delete and their savepoints must work there too.
func TestVerifyAsTableOwner(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/apps/docs.yaml")
	dbURL := b.database(t)
	conn := pgtest.Connect(t, dbURL)
	role := fmt.Sprintf("rlsm_owner_%d", os.Getpid())
	var db string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, conn, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN; GRANT CONNECT, TEMPORARY ON DATABASE %[2]q TO %[1]s;
		GRANT authenticated TO %[1]s; ALTER TABLE documents OWNER TO %[1]s; ALTER TABLE shares OWNER TO %[1]s;
		GRANT USAGE ON SCHEMA rls TO %[1]s`, role, db))
	t.Cleanup(func() {
		c := pgtest.Connect(t, dbURL)
		pgtest.MustExec(t, c, fmt.Sprintf(`ALTER TABLE documents OWNER TO CURRENT_USER; ALTER TABLE shares OWNER TO CURRENT_USER;
			REVOKE ALL ON DATABASE %q FROM %[2]s; REVOKE USAGE ON SCHEMA rls FROM %[2]s; DROP ROLE %[2]s`, db, role))
	})
	u, _ := url.Parse(dbURL)
	u.User = url.User(role)
	r := run(t, b.work, "verify", "--schema", b.schema, "--database-url", u.String())
	if r.code != 0 || !strings.Contains(r.stdout, "0 mismatch(es)") {
		t.Fatalf("verify as %s:\n%s", role, r)
	}
}

// TestEveryRuleKind runs policy/testdata/rule_kinds.yaml, which holds a rule of every
// kind (policy.TestRuleKindsFile checks that), through generate, up, diff and verify:
// every kind compiles, applies, reads back unchanged and isolates as declared. It found
// verify updating a GENERATED ALWAYS identity column of tables without an owner, which
// PostgreSQL refuses before looking at privileges: 16 false mismatches.
func TestEveryRuleKind(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "policy", "testdata", "rule_kinds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := newConverger(t, "")
	if msg := c.step(string(data)); msg != "" {
		t.Fatalf("generate, up, diff:\n%s", msg)
	}
	schemaPath := filepath.Join(t.TempDir(), "schema.yaml")
	writeFiles(t, filepath.Dir(schemaPath), map[string]string{"schema.yaml": string(data)})
	r := run(t, "", "verify", "--schema", schemaPath, "--database-url", c.dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "public.audit") {
		t.Fatalf("verify:\n%s", r)
	}
}
