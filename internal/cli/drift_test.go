package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// securityDrift is a change made by hand to a database that migrations built, which
// lets an app role read or write more than schema.yaml says without a policy changing
// (or by changing one), and what catches it.
type securityDrift struct {
	name   string
	sql    string
	kinds  []string // the findings diff reports, every one a security finding
	also   []string // findings of the fix that are not security findings
	lint   string   // the live lint rule that reports it, or ""
	verify string   // part of verify's MISMATCH line when alice can read bob's row, or ""
	roles  bool     // it changes roles, which every database of the server shares: run alone
}

// asOwner runs sql as the role that ran the migrations (the connecting superuser).
func asOwner(sql string) string {
	return "DO $do$ BEGIN EXECUTE format(" + "'" + strings.ReplaceAll(sql, "'", "''") + "', current_user); END $do$"
}

// securityDrifts is the table behind "What diff guards" in docs/security.md.
var securityDrifts = []securityDrift{
	// Handing the table back takes the app role's privileges with it: they are granted
	// again.
	{name: "table owned by the app role", sql: `ALTER TABLE notes OWNER TO drift_app`,
		kinds: []string{"table.owner"}, also: []string{"grant.add"}, lint: "RLS021", verify: "public.notes: select of another user's row"},
	{name: "table owned by another role", sql: `CREATE ROLE drift_someone; ALTER TABLE notes OWNER TO drift_someone`,
		kinds: []string{"table.owner"}, lint: "RLS021", roles: true},
	{name: "app role member of the tables' owner", sql: asOwner(`GRANT %I TO drift_app`),
		kinds: []string{"role.membership"}, lint: "RLS020", verify: "public.notes: select of another user's row", roles: true},
	{name: "app role member of a BYPASSRLS role", sql: `CREATE ROLE drift_bypasser BYPASSRLS; GRANT drift_bypasser TO drift_anon`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "app role with BYPASSRLS", sql: `ALTER ROLE drift_app BYPASSRLS`,
		kinds: []string{"role.bypass"}, lint: "RLS014", verify: "public.notes: select of another user's row", roles: true},
	{name: "app role made superuser", sql: `ALTER ROLE drift_anon SUPERUSER`,
		kinds: []string{"role.bypass"}, lint: "RLS014", roles: true},
	{name: "identity function redefined to honour app.impersonate", sql: `CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text LANGUAGE sql STABLE
		AS $$ SELECT coalesce(nullif(current_setting('app.impersonate', true), ''), auth.session() ->> 'sub') $$`,
		kinds: []string{"function.definition"}},
	{name: "identity function made SECURITY DEFINER", sql: `ALTER FUNCTION auth.session() SECURITY DEFINER`,
		kinds: []string{"function.definition"}},
	{name: "view over the table, granted to the app role", sql: `CREATE VIEW note_feed AS SELECT * FROM notes; GRANT SELECT ON note_feed TO drift_app`,
		kinds: []string{"view.security_invoker"}, lint: "RLS022", verify: "view public.note_feed: select through it, as alice"},
	{name: "view over the table, granted to PUBLIC", sql: `CREATE VIEW note_all AS SELECT body FROM notes; GRANT SELECT ON note_all TO PUBLIC`,
		kinds: []string{"view.security_invoker"}, lint: "RLS022", verify: "view public.note_all: select through it, as alice"},
	{name: "view over a view that reads the table", sql: `CREATE VIEW note_inner AS SELECT * FROM notes;
		CREATE VIEW note_top AS SELECT * FROM note_inner; GRANT SELECT ON note_top TO drift_app`,
		kinds: []string{"view.security_invoker"}, lint: "RLS022", verify: "view public.note_top: select through it, as alice"},
	{name: "materialized view readable by the app role", sql: `INSERT INTO notes (user_id, body) VALUES ('mallory', 'secret');
		CREATE MATERIALIZED VIEW note_snapshot AS SELECT * FROM notes; GRANT SELECT ON note_snapshot TO drift_app`,
		kinds: []string{"materialized_view.readable"}, lint: "RLS022", verify: "materialized view public.note_snapshot: select through it, as alice"},
	{name: "SECURITY DEFINER function returning the table's rows", sql: `CREATE FUNCTION all_notes() RETURNS SETOF notes LANGUAGE sql STABLE SECURITY DEFINER
		AS 'SELECT * FROM public.notes'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function public.all_notes(): select through it, as alice"},
	{name: "SECURITY DEFINER function counting the table's rows", sql: `CREATE FUNCTION note_count() RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
		AS $$BEGIN RETURN (SELECT count(*) FROM public.notes); END$$; REVOKE EXECUTE ON FUNCTION note_count() FROM PUBLIC; GRANT EXECUTE ON FUNCTION note_count() TO drift_app`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function public.note_count(): select through it, as alice"},
	{name: "SECURITY DEFINER function taking an id", sql: `CREATE FUNCTION note_by_id(bigint) RETURNS SETOF notes LANGUAGE sql SECURITY DEFINER
		AS 'SELECT * FROM public.notes WHERE id = $1'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "grant to a role schema.yaml does not declare", sql: `CREATE ROLE drift_other; GRANT SELECT ON notes TO drift_other`,
		kinds: []string{"grant.revoke"}, roles: true},
	{name: "column grant to a role schema.yaml does not declare", sql: `CREATE ROLE drift_other; GRANT SELECT (body) ON notes TO drift_other`,
		kinds: []string{"grant.revoke"}, roles: true},
	{name: "column grant on the owner column", sql: `GRANT UPDATE (user_id) ON notes TO drift_anon`,
		kinds: []string{"grant.revoke"}},
	{name: "extra privilege for the app role", sql: `GRANT TRUNCATE ON notes TO drift_app`,
		kinds: []string{"grant.revoke"}},
	{name: "grant to PUBLIC", sql: `GRANT SELECT ON notes TO PUBLIC`,
		kinds: []string{"grant.revoke"}},
	{name: "grant WITH GRANT OPTION", sql: `GRANT SELECT ON notes TO drift_app WITH GRANT OPTION`,
		kinds: []string{"grant.grant_option.revoke"}},
	{name: "grant option passed on", sql: `CREATE ROLE drift_other; GRANT SELECT ON notes TO drift_app WITH GRANT OPTION;
		SET ROLE drift_app; GRANT SELECT ON notes TO drift_other; RESET ROLE`,
		kinds: []string{"grant.grant_option.revoke", "grant.revoke"}, roles: true},
	{name: "default privileges on tables of the schema", sql: asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO drift_app`),
		kinds: []string{"default_privileges.revoke"}, lint: "RLS024", roles: true},
	{name: "default privileges on every schema's tables", sql: asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I GRANT SELECT, UPDATE ON TABLES TO drift_anon`),
		kinds: []string{"default_privileges.revoke"}, lint: "RLS024", roles: true},
	{name: "default privileges on sequences", sql: asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE ON SEQUENCES TO drift_app`),
		kinds: []string{"default_privileges.revoke"}, lint: "RLS024", roles: true},
	{name: "CREATE on the declared schema", sql: `GRANT CREATE ON SCHEMA public TO drift_app`,
		kinds: []string{"schema.create.revoke"}, lint: "RLS025"},
	{name: "CREATE on schema auth", sql: `GRANT CREATE ON SCHEMA auth TO drift_anon`,
		kinds: []string{"schema.create.revoke"}, lint: "RLS025"},
	{name: "CREATE on the schema for a role schema.yaml does not declare", sql: `CREATE ROLE drift_other; GRANT CREATE ON SCHEMA public TO drift_other`,
		kinds: []string{"schema.create.revoke"}, roles: true},
	{name: "default privileges for a role schema.yaml does not declare", sql: `CREATE ROLE drift_other;` + asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO drift_other`),
		kinds: []string{"default_privileges.revoke"}, roles: true},
	{name: "privilege on the table's identity sequence", sql: `GRANT UPDATE ON SEQUENCE notes_id_seq TO drift_app`,
		kinds: []string{"sequence.grant.revoke"}},
	{name: "row-level security disabled", sql: `ALTER TABLE notes DISABLE ROW LEVEL SECURITY`,
		kinds: []string{"table.rls.enable"}, lint: "RLS013", verify: "public.notes: select of another user's row"},
	{name: "select policy widened to true", sql: `ALTER POLICY notes_select_owner ON notes USING (true)`,
		kinds: []string{"policy.alter"}, verify: "public.notes: select of another user's row"},
	// Read as the caller: PostgreSQL applies the caller's policies, so nothing leaks.
	{name: "security_invoker view over the table (no drift)", sql: `CREATE VIEW note_mine WITH (security_invoker = true) AS SELECT * FROM notes;
		GRANT SELECT ON note_mine TO drift_app`},
	// Owned by the app role, the view reads as the app role: the policies apply.
	{name: "view owned by the app role (no drift)", sql: `CREATE VIEW note_app AS SELECT * FROM notes; ALTER VIEW note_app OWNER TO drift_app;
		GRANT SELECT ON note_app TO drift_anon`},
	{name: "extra permissive policy", sql: `CREATE POLICY leak ON notes FOR SELECT TO drift_app USING (true)`,
		kinds: []string{"policy.drop"}, verify: "public.notes: select of another user's row"},
	{name: "update check dropped", sql: `ALTER POLICY notes_update_owner ON notes WITH CHECK (true)`,
		kinds: []string{"policy.alter"}, verify: "public.notes: update giving its own row to another user"},

	// Trust II: paths outside the declared schemas, in forms diff once did not read.
	{name: "view in another schema", sql: sideSchema + `CREATE VIEW side.feed AS SELECT * FROM public.notes; GRANT SELECT ON side.feed TO drift_app`,
		kinds: []string{"view.security_invoker"}, lint: "RLS022", verify: "view side.feed: select through it, as alice"},
	{name: "materialized view in another schema", sql: sideSchema + `INSERT INTO notes (user_id, body) VALUES ('mallory', 'secret');
		CREATE MATERIALIZED VIEW side.snap AS SELECT * FROM public.notes; GRANT SELECT ON side.snap TO drift_app`,
		kinds: []string{"materialized_view.readable"}, lint: "RLS022", verify: "materialized view side.snap: select through it, as alice"},
	{name: "SECURITY DEFINER function in another schema", sql: sideSchema + `CREATE FUNCTION side.all_notes() RETURNS SETOF public.notes
		LANGUAGE sql STABLE SECURITY DEFINER AS 'SELECT * FROM public.notes'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function side.all_notes(): select through it, as alice"},
	{name: "SECURITY DEFINER function with a BEGIN ATOMIC body", sql: `CREATE FUNCTION atomic_notes() RETURNS SETOF notes LANGUAGE sql STABLE SECURITY DEFINER
		BEGIN ATOMIC SELECT * FROM public.notes; END`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function public.atomic_notes(): select through it, as alice"},
	{name: "SECURITY DEFINER function naming the table in Unicode escapes", sql: `CREATE FUNCTION escaped_notes() RETURNS SETOF notes LANGUAGE sql STABLE SECURITY DEFINER
		AS $$SELECT * FROM public.U&"\006eotes"$$`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function public.escaped_notes(): select through it, as alice"},
	{name: "SECURITY DEFINER function naming the table in upper case", sql: `CREATE FUNCTION upper_notes() RETURNS SETOF notes LANGUAGE plpgsql STABLE SECURITY DEFINER
		AS $$BEGIN RETURN QUERY SELECT * FROM PUBLIC.NOTES; END$$`,
		kinds: []string{"function.security_definer"}, lint: "RLS023", verify: "function public.upper_notes(): select through it, as alice"},
	{name: "SECURITY DEFINER function running dynamic SQL", sql: `CREATE FUNCTION dyn(t text) RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
		AS $$DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM %I', t) INTO n; RETURN n; END$$`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "SECURITY DEFINER function calling query_to_xml", sql: `CREATE FUNCTION as_xml() RETURNS xml LANGUAGE sql STABLE SECURITY DEFINER
		AS $$SELECT query_to_xml('select * from public.' || 'notes', true, false, '')$$`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "SECURITY DEFINER function in another language", sql: `CREATE FUNCTION internal_len(text) RETURNS int LANGUAGE internal IMMUTABLE SECURITY DEFINER AS 'textlen'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "SECURITY DEFINER procedure deleting the table's rows", sql: `CREATE PROCEDURE wipe_notes() LANGUAGE sql SECURITY DEFINER AS 'DELETE FROM public.notes'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "volatile SECURITY DEFINER function (verify does not call it)", sql: `CREATE FUNCTION touch_notes() RETURNS bigint LANGUAGE sql SECURITY DEFINER
		AS 'SELECT count(*) FROM public.notes'`,
		kinds: []string{"function.security_definer"}, lint: "RLS023"},
	{name: "inheritance parent without row-level security", sql: sideSchema + `CREATE TABLE side.all_notes (id bigint, user_id text, body text);
		ALTER TABLE notes INHERIT side.all_notes; GRANT SELECT ON side.all_notes TO drift_app`,
		kinds: []string{"table.exposes_rls_rows"}, lint: "RLS027"},
	{name: "partitioned parent without row-level security", sql: sideSchema + `CREATE TABLE side.parted (id bigint NOT NULL, user_id text NOT NULL, body text)
		PARTITION BY LIST (user_id); ALTER TABLE side.parted ATTACH PARTITION public.notes DEFAULT; GRANT SELECT ON side.parted TO drift_app`,
		kinds: []string{"table.exposes_rls_rows"}, lint: "RLS027"},
	{name: "rule copying rows into a readable table", sql: sideSchema + `CREATE TABLE side.copy (LIKE public.notes); GRANT SELECT ON side.copy TO drift_app;
		CREATE RULE keep AS ON INSERT TO notes DO ALSO INSERT INTO side.copy VALUES (NEW.*)`,
		kinds: []string{"table.exposes_rls_rows"}, lint: "RLS027"},
	{name: "trigger copying rows into a readable table", sql: sideSchema + `CREATE TABLE side.tcopy (LIKE public.notes); GRANT SELECT, INSERT ON side.tcopy TO drift_app;
		CREATE FUNCTION side.keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO side.tcopy SELECT NEW.*; RETURN NEW; END$$;
		CREATE TRIGGER keep AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION side.keep()`,
		kinds: []string{"table.exposes_rls_rows"}, lint: "RLS027"},
	{name: "app role member of pg_read_server_files", sql: `GRANT pg_read_server_files TO drift_app`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "app role member of pg_write_server_files", sql: `GRANT pg_write_server_files TO drift_app`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "app role member of pg_execute_server_program", sql: `GRANT pg_execute_server_program TO drift_anon`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "app role member of pg_read_all_data", sql: `GRANT pg_read_all_data TO drift_app`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "app role member of pg_write_all_data", sql: `GRANT pg_write_all_data TO drift_anon`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	{name: "one declared role member of another", sql: `GRANT drift_app TO drift_anon`,
		kinds: []string{"role.membership"}, lint: "RLS020", roles: true},
	// Look-alikes: nothing reaches the rows.
	{name: "view in a schema the app roles cannot use (no drift)", sql: `CREATE SCHEMA hidden; CREATE VIEW hidden.feed AS SELECT * FROM public.notes;
		GRANT SELECT ON hidden.feed TO drift_app`},
	{name: "SECURITY DEFINER trigger function (no drift)", sql: `CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
		AS $$BEGIN NEW.body := coalesce(NEW.body, ''); RETURN NEW; END$$; CREATE TRIGGER stamp BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION stamp()`},
	{name: "SECURITY DEFINER function reading another table (no drift)", sql: `CREATE FUNCTION other_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER AS 'SELECT count(*) FROM pg_class'`},
}

// sideSchema makes schema side, which schema.yaml does not declare, usable by the app
// roles.
const sideSchema = `CREATE SCHEMA side; GRANT USAGE ON SCHEMA side TO drift_app, drift_anon; `

// unowned are the finding kinds for objects rlsmigrate does not own: --format sql prints
// their fix as a comment unless --allow-destructive.
var unowned = []string{"view.security_invoker", "materialized_view.readable", "function.security_definer", "table.exposes_rls_rows"}

// TestSecurityDrift applies each drift to its own database built by up from
// testdata/diff/drift.yaml, then checks: diff exits 1 and reports exactly the drift's
// findings, each a security finding, first, in text, JSON and Markdown; the fix diff
// prints in --format sql, applied, leaves nothing to report (or, for objects rlsmigrate
// does not own, leaves them until --allow-destructive applies it); lint reports its
// live rule; verify names the path where the drift lets alice read bob's row. Roles are
// shared by the whole server, so drifts that change them run one at a time, and every
// role a drift makes is dropped after it.
func TestSecurityDrift(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/drift.yaml")
	var roles sync.RWMutex
	for _, tc := range securityDrifts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.roles && testing.Short() {
				t.Skip("changes roles every database shares, so it runs alone: run without -short")
			}
			if tc.roles {
				roles.Lock()
				defer roles.Unlock()
			} else {
				roles.RLock()
				defer roles.RUnlock()
			}
			dbURL := b.database(t)
			conn := pgtest.Connect(t, dbURL)
			pgtest.MustExec(t, conn, tc.sql)
			t.Cleanup(func() {
				for _, sql := range []string{"ALTER ROLE drift_app NOBYPASSRLS NOSUPERUSER", "ALTER ROLE drift_anon NOBYPASSRLS NOSUPERUSER",
					asOwner(`REVOKE %I FROM drift_app`), "DROP OWNED BY drift_someone, drift_bypasser, drift_other",
					"DROP ROLE IF EXISTS drift_bypasser, drift_someone, drift_other",
					asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE ALL ON TABLES FROM drift_app, drift_anon`),
					asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public REVOKE ALL ON TABLES FROM drift_app, drift_anon`),
					asOwner(`ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public REVOKE ALL ON SEQUENCES FROM drift_app`)} {
					conn.Exec(context.Background(), sql) // some name roles this drift did not create
				}
			})
			checkDriftReports(t, b.schema, dbURL, tc)
			l := run(t, "", "lint", "--schema", b.schema, "--database-url", dbURL)
			if tc.lint != "" && !strings.Contains(l.stdout, " "+tc.lint+" ") {
				t.Errorf("lint does not report %s:\n%s", tc.lint, l)
			}
			if len(tc.kinds) == 0 && (strings.Contains(l.stdout, " RLS022 ") || strings.Contains(l.stdout, " RLS023 ")) {
				t.Errorf("lint reports what is not a drift:\n%s", l)
			}
			v := run(t, "", "verify", "--schema", b.schema, "--database-url", dbURL, "--role", "drift_app")
			switch {
			case tc.verify != "" && (v.code != ExitFound || !strings.Contains(v.stdout, "MISMATCH "+tc.verify)):
				t.Errorf("verify does not name %q:\n%s", tc.verify, v)
			case tc.verify == "" && v.code == ExitError, len(tc.kinds) == 0 && v.code != 0:
				t.Errorf("verify:\n%s", v)
			}
			fix := run(t, "", "diff", "--schema", b.schema, "--database-url", dbURL, "--format", "sql")
			pgtest.RunScript(t, conn, fix.stdout)
			var left []string
			for _, k := range tc.kinds {
				if slices.Contains(unowned, k) {
					left = append(left, k)
				}
			}
			if rep, r := diffReport(t, b.schema, dbURL); !slices.Equal(findingKinds(rep.Findings), left) {
				t.Fatalf("after applying\n%s\ndiff reports %v, want %v:\n%s", fix.stdout, findingKinds(rep.Findings), left, r)
			}
			if len(left) > 0 {
				fix = run(t, "", "diff", "--schema", b.schema, "--database-url", dbURL, "--format", "sql", "--allow-destructive")
				pgtest.RunScript(t, conn, fix.stdout)
				if rep, r := diffReport(t, b.schema, dbURL); len(rep.Findings) != 0 {
					t.Fatalf("after applying, with --allow-destructive,\n%s\n%s", fix.stdout, r)
				}
			}
		})
	}
}

var summaryLine = regexp.MustCompile(`(?m)^\d+ difference\(s\) \((\d+) security\)`)

// checkDriftReports checks diff's report of tc in JSON, text and Markdown.
func checkDriftReports(t *testing.T, schemaPath, dbURL string, tc securityDrift) {
	t.Helper()
	rep, r := diffReport(t, schemaPath, dbURL)
	all := append(slices.Clone(tc.kinds), tc.also...)
	slices.Sort(all)
	if !slices.Equal(findingKinds(rep.Findings), all) {
		t.Fatalf("diff reports %v, want %v:\n%s", findingKinds(rep.Findings), all, r)
	}
	if len(all) == 0 {
		return // not a drift: diffReport checked the exit code
	}
	if rep.Findings[0].Severity != "security" {
		t.Errorf("the first finding is %s, not a security finding", rep.Findings[0].Severity)
	}
	for _, f := range rep.Findings {
		if want := slices.Contains(tc.kinds, f.Kind); (f.Severity == "security") != want {
			t.Errorf("%s %s is %s", f.Kind, f.Object, f.Severity)
		}
	}
	// The same findings as text and Markdown (TestDiffFormatsGolden runs those formats
	// through the command).
	text, md := render.Text(rep), render.Markdown(rep)
	for _, k := range tc.kinds {
		if !strings.Contains(text, k+" (security)") {
			t.Errorf("text output lacks %s (security):\n%s", k, text)
		}
		if !strings.Contains(md, "| "+k+" (security)") {
			t.Errorf("Markdown output lacks %s (security):\n%s", k, md)
		}
	}
	if m := summaryLine.FindStringSubmatch(text); r.code != ExitFound || m == nil || m[1] != fmt.Sprint(len(tc.kinds)) {
		t.Errorf("text output's summary does not count %d security finding(s):\n%s", len(tc.kinds), text)
	}
}

// findingKinds lists the kinds of findings, sorted, repeats kept.
func findingKinds(fs []render.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	slices.Sort(out)
	return out
}

// TestWhatDiffGuards keeps docs/security.md's table of security drifts the one this test
// applies: -update rewrites it.
func TestWhatDiffGuards(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("| drift | diff reports | lint | verify |\n|---|---|---|---|\n")
	for _, d := range securityDrifts {
		lint, verify := "–", "–"
		if d.lint != "" {
			lint = d.lint
		}
		if d.verify != "" {
			verify = "✓ names it"
		}
		kinds := make([]string, len(d.kinds))
		for i, k := range d.kinds {
			kinds[i] = "`" + k + "`"
		}
		reports := strings.Join(kinds, ", ")
		if len(kinds) == 0 {
			reports = "nothing: not a drift"
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", d.name, reports, lint, verify)
	}
	want := sb.String()
	path := filepath.Join("..", "..", "docs", "security.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	const start, end = "<!-- drift table: TestWhatDiffGuards -->\n", "<!-- end drift table -->"
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("docs/security.md has no %q ... %q section", start, end)
	}
	if got := readme[i+len(start) : j]; got != want {
		if *update {
			os.WriteFile(path, []byte(readme[:i+len(start)]+want+readme[j:]), 0o644)
			return
		}
		t.Errorf("docs/security.md's drift table is not the one TestSecurityDrift applies (go test ./internal/cli -run TestWhatDiffGuards -update):\n%s", want)
	}
}
