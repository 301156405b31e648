package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
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
