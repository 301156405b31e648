package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/golden"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
)

// realApp is testdata/realapps/<app>/app.yaml: how the behaviour comparison sets up the
// two databases and who does what on them.
type realApp struct {
	Provider string `yaml:"provider"` // supabase (the default) or claims
	Setup    string `yaml:"setup"`    // run on both databases before the app
	Fixture  string `yaml:"fixture"`  // rows loaded into both, as the superuser, triggers off
	Callers  []struct {
		Name   string         `yaml:"name"`
		Role   string         `yaml:"role"`
		Claims map[string]any `yaml:"claims"`
	} `yaml:"callers"`
	Tables map[string]struct { // by name, or schema.name outside public
		Key     string   `yaml:"key"`      // the key column
		KeyExpr string   `yaml:"key_expr"` // or an expression that tells the rows apart
		Updates []string `yaml:"updates"`  // SET clauses; {uid} is the caller's id
		Inserts []string `yaml:"inserts"`  // (columns) VALUES (...)
	} `yaml:"tables"`
	Explained []struct {
		Match string `yaml:"match"`
		Why   string `yaml:"why"`
	} `yaml:"explained"`
	// NotExercised are the tables verify cannot set up, by name, and why.
	NotExercised map[string]string `yaml:"not_exercised"`
	// PullSchemas are the database schemas rlsmigrate pull reads (default public).
	PullSchemas []string `yaml:"pull_schemas"`
	// PullExplained says why the database adopted with pull denies what the original
	// allowed, line by line of pull-differences.txt.
	PullExplained []struct {
		Match string `yaml:"match"`
		Why   string `yaml:"why"`
	} `yaml:"pull_explained"`
}

// TestRealApps builds each real app twice on a real PostgreSQL: from its original SQL
// (original.sql), and with rlsmigrate from schema.yaml (generate, up). Both get the same
// rows; then every caller tries select, each update and delete on every row of every
// table, and each insert. rlsmigrate's database must never allow what the original
// denied; what the original allowed and rlsmigrate denies is listed in differences.txt
// (golden) and each line explained in app.yaml. diff is then empty and verify finds no
// mismatch on rlsmigrate's database.
func TestRealApps(t *testing.T) { eachRealApp(t, compareRealApp) }

// eachRealApp runs test, in parallel, on each app of testdata/realapps.
func eachRealApp(t *testing.T, test func(t *testing.T, dir string)) {
	dirs, err := filepath.Glob("testdata/realapps/*/app.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no real apps in testdata/realapps: %v", err)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			test(t, dir)
		})
	}
}

// loadRealApp reads dir's app.yaml and builds a database from its original SQL.
func loadRealApp(t *testing.T, dir string) (app realApp, newDB func(testing.TB) string, build func() (string, *pgx.Conn)) {
	data, err := os.ReadFile(filepath.Join(dir, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &app); err != nil {
		t.Fatalf("app.yaml: %v", err)
	}
	original, err := os.ReadFile(filepath.Join(dir, "original.sql"))
	if err != nil {
		t.Fatal(err)
	}
	newDB = pgtest.NewSupabaseDB
	if app.Provider == "claims" {
		newDB = pgtest.NewDB
	}
	return app, newDB, func() (string, *pgx.Conn) {
		url := newDB(t)
		conn := pgtest.Connect(t, url)
		if app.Setup != "" {
			pgtest.MustExec(t, conn, app.Setup)
		}
		pgtest.RunScript(t, conn, string(original))
		return url, conn
	}
}

// loadFixture loads app's rows into conn with triggers and foreign-key checks off, and
// moves the identity sequences past them.
func loadFixture(t *testing.T, app realApp, conn *pgx.Conn) {
	pgtest.MustExec(t, conn, "SET session_replication_role = replica;\n"+app.Fixture+"\nSET session_replication_role = DEFAULT;\n"+pastIdentities)
}

func compareRealApp(t *testing.T, dir string) {
	app, newDB, buildOriginal := loadRealApp(t, dir)
	// The original, as its SQL builds it.
	_, orig := buildOriginal()
	// rlsmigrate's, from schema.yaml.
	work := t.TempDir()
	schemaPath := filepath.Join(work, "schema.yaml")
	src, err := os.ReadFile(filepath.Join(dir, "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, work, map[string]string{"schema.yaml": string(src)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", filepath.Join(work, "migrations"), "--allow-destructive"); r.code != 0 {
		t.Fatalf("generate: %s", r)
	}
	oursURL := newDB(t)
	ours := pgtest.Connect(t, oursURL)
	if app.Setup != "" {
		pgtest.MustExec(t, ours, app.Setup)
	}
	if r := run(t, work, "up", "--database-url", oursURL, "--dir", filepath.Join(work, "migrations")); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	// The same rows in both, with triggers and foreign-key checks off, and identity
	// sequences past them.
	for _, conn := range []*pgx.Conn{orig, ours} {
		loadFixture(t, app, conn)
	}
	if rep, r := diffReport(t, schemaPath, oursURL); len(rep.Findings) != 0 || r.code != 0 {
		t.Errorf("diff after up:\n%s", r)
	}
	wider, narrower, probes := probeApp(t, app, orig, ours)
	t.Logf("%d attempts on each database; %d allowed only by the original", probes, len(narrower))
	if len(wider) > 0 {
		t.Errorf("rlsmigrate's database allows what the original denies:\n  %s", strings.Join(wider, "\n  "))
	}
	// verify last: the rows it inserts are rolled back, but not the identity
	// sequences it draws from.
	verifyApp(t, app, work, schemaPath, oursURL)

	golden.Compare(t, filepath.Join(dir, "differences.txt"), strings.Join(narrower, "\n")+"\n")
	used := make([]bool, len(app.Explained))
	for _, line := range narrower {
		found := false
		for i, e := range app.Explained {
			if strings.Contains(line, e.Match) {
				found, used[i] = true, true
			}
		}
		if !found {
			t.Errorf("difference not explained in app.yaml: %s", line)
		}
	}
	for i, ok := range used {
		if !ok {
			t.Errorf("app.yaml explains %q, which no difference shows", app.Explained[i].Match)
		}
	}
}

// probeApp has every caller of app try select, each update and delete on every row of
// every table, and each insert, on the original database and on ours; wider lists what
// only ours allowed, narrower what only the original did.
func probeApp(t *testing.T, app realApp, orig, ours *pgx.Conn) (wider, narrower []string, probes int) {
	for _, table := range slices.Sorted(maps.Keys(app.Tables)) {
		spec := app.Tables[table]
		key := spec.KeyExpr
		if key == "" {
			key = sqlident.Quote(spec.Key)
		}
		schemaName, tableName, qualified := strings.Cut(table, ".")
		if !qualified {
			schemaName, tableName = "public", table
		}
		name := sqlident.Qualified(schemaName, tableName)
		keys := columnValues(t, orig, fmt.Sprintf("SELECT (%s)::text FROM %s ORDER BY 1", key, name))
		for _, c := range app.Callers {
			uid := "NULL"
			if sub, ok := c.Claims["sub"].(string); ok {
				uid = sqlident.Literal(sub)
			}
			claims, _ := json.Marshal(c.Claims)
			var stmts [][2]string // what, SQL
			for _, k := range keys {
				where := fmt.Sprintf(" WHERE (%s)::text = %s", key, sqlident.Literal(k))
				stmts = append(stmts, [2]string{"select " + k, "SELECT FROM " + name + where})
				for _, set := range spec.Updates {
					stmts = append(stmts, [2]string{fmt.Sprintf("update %s set %s", k, set), "UPDATE " + name + " SET " + strings.ReplaceAll(set, "{uid}", uid) + where})
				}
				stmts = append(stmts, [2]string{"delete " + k, "DELETE FROM " + name + where})
			}
			for _, ins := range spec.Inserts {
				stmts = append(stmts, [2]string{"insert " + ins, "INSERT INTO " + name + " " + strings.ReplaceAll(ins, "{uid}", uid)})
			}
			for _, st := range stmts {
				probes++
				was := attempt(t, orig, c.Role, string(claims), st[1])
				got := attempt(t, ours, c.Role, string(claims), st[1])
				line := fmt.Sprintf("%s: %s as %s: original %s, rlsmigrate %s", table, st[0], c.Name, was, got)
				switch {
				case got == "allowed" && was != "allowed":
					wider = append(wider, line)
				case was == "allowed" && got != "allowed":
					narrower = append(narrower, line)
				}
			}
		}
	}
	return wider, narrower, probes
}

// verifyApp runs verify with schemaPath on the database at dbURL: it must find no
// mismatch, and leave out exactly the tables app.yaml says it cannot exercise.
func verifyApp(t *testing.T, app realApp, work, schemaPath, dbURL string) {
	r := run(t, work, "verify", "--schema", schemaPath, "--database-url", dbURL, "--format", "json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Errorf("verify: %v\n%s", err, r)
	}
	notDerived, checks := 0, 0
	for _, tr := range rep.Tables {
		skipped := strings.HasPrefix(tr.Skipped, "not exercised") || len(tr.NotRun) > 0
		if _, listed := app.NotExercised[tr.Table]; skipped != listed {
			t.Errorf("verify: %s: skipped %q, not run %q; app.yaml lists it as not exercised: %v", tr.Table, tr.Skipped, tr.NotRun, listed)
		}
		for _, c := range tr.Checks {
			checks++
			if c.Expected == verify.NotDerived {
				notDerived++
			}
		}
	}
	t.Logf("verify: %d checks, %d not derived, mismatches: %v", checks, notDerived, rep.Mismatches())

}

// attempt runs stmt as role with claims in a savepoint it rolls back, and says what
// happened: allowed (it read or changed one row), denied (none, or a privilege error),
// or the SQLSTATE of another error.
func attempt(t *testing.T, conn *pgx.Conn, role, claims, stmt string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", claims); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+sqlident.Quote(role)); err != nil {
		t.Fatal(err)
	}
	tag, err := tx.Exec(ctx, stmt)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42501":
		return "denied"
	case errors.As(err, &pe):
		return "error " + pe.Code
	case err != nil:
		t.Fatalf("%s: %v", stmt, err)
	case tag.RowsAffected() == 1:
		return "allowed"
	}
	return "denied"
}

// pastIdentities moves each identity sequence of schema public past its column's
// largest value, as a fixture inserting explicit ids leaves them behind.
const pastIdentities = `DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS tbl, a.attname, pg_get_serial_sequence(c.oid::regclass::text, a.attname) AS seq
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND a.attidentity <> '' AND c.relkind = 'r'
  LOOP
    EXECUTE format('SELECT setval(%L, coalesce((SELECT max(%I) FROM %s), 0) + 1, false)', r.seq, r.attname, r.tbl);
  END LOOP;
END $$`

// columnValues returns the first column of query's rows.
func columnValues(t *testing.T, conn *pgx.Conn, query string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPullRealApps adopts each real app with pull: a database built from its original
// SQL (not from schema.yaml) is pulled, the report is golden (pull-report.txt), the
// changes it announces are applied, and diff of the pulled schema.yaml is then empty;
// the behaviour comparison against the original finds nothing the adopted database
// allows that the original denied, and verify finds no mismatch.
func TestPullRealApps(t *testing.T) {
	eachRealApp(t, func(t *testing.T, dir string) {
		app, _, buildOriginal := loadRealApp(t, dir)
		_, orig := buildOriginal()
		adoptedURL, adopted := buildOriginal()
		schemas := app.PullSchemas
		if len(schemas) == 0 {
			schemas = []string{"public"}
		}
		// Two copies adopted as a user adopts a database: pull --baseline, then up
		// (the announced changes), after which diff is empty and generate has
		// nothing to write. One is for verify (whose rows draw from the identity
		// sequences), one for the behaviour comparison.
		verifyURL, _ := buildOriginal()
		var work, pulled string
		var first []byte
		for i, url := range []string{adoptedURL, verifyURL} {
			work = t.TempDir()
			pulled = filepath.Join(work, "schema.yaml")
			mdir := filepath.Join(work, "migrations")
			r := run(t, work, "pull", "--database-url", url, "--schemas", strings.Join(schemas, ","), "--out", pulled, "--dir", mdir, "--baseline")
			if r.code != 0 {
				t.Fatalf("pull: %s", r)
			}
			src, _ := os.ReadFile(pulled)
			if i == 0 {
				first = src
				golden.Compare(t, filepath.Join(dir, "pull-report.txt"), r.stdout)
			} else if string(src) != string(first) {
				t.Errorf("two pulls of one database wrote different files")
			}
			if u := run(t, work, "up", "--database-url", url, "--dir", mdir); u.code != 0 {
				t.Fatalf("up after pull --baseline: %s\nschema.yaml:\n%s", u, src)
			}
			if d := run(t, work, "diff", "--database-url", url, "--schema", pulled, "--dir", mdir); d.code != 0 {
				t.Fatalf("after up, diff exited %d:\n%s%s\nschema.yaml:\n%s", d.code, d.stdout, d.stderr, src)
			}
			if g := run(t, work, "generate", "--schema", pulled, "--dir", mdir, "--check"); g.code != 0 {
				t.Errorf("generate --check after pull: %s", g)
			}
		}
		v := run(t, work, "verify", "--schema", pulled, "--database-url", verifyURL, "--format", "json")
		var rep verify.Report
		if err := json.Unmarshal([]byte(v.stdout), &rep); err != nil || v.code != 0 {
			t.Errorf("verify: %v\n%s", err, v)
		}
		t.Logf("verify: mismatches %v", rep.Mismatches())
		for _, conn := range []*pgx.Conn{orig, adopted} {
			loadFixture(t, app, conn)
		}
		wider, narrower, probes := probeApp(t, app, orig, adopted)
		t.Logf("%d attempts on each database; %d allowed only by the original", probes, len(narrower))
		// What only the original allowed is golden, each line explained in app.yaml.
		golden.Compare(t, filepath.Join(dir, "pull-differences.txt"), strings.Join(narrower, "\n")+"\n")
		for _, line := range narrower {
			if !slices.ContainsFunc(app.PullExplained, func(e struct {
				Match string `yaml:"match"`
				Why   string `yaml:"why"`
			}) bool {
				return strings.Contains(line, e.Match)
			}) {
				t.Errorf("difference not explained in app.yaml's pull_explained: %s", line)
			}
		}
		if len(wider) > 0 {
			t.Errorf("the adopted database allows what the original denies:\n  %s", strings.Join(wider, "\n  "))
		}
	})
}
