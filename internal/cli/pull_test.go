package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// pulledMatches pulls the database c built from src and checks that the pulled file
// describes it: diff of the pulled schema.yaml against the database is empty. It
// returns what went wrong, or "".
func pulledMatches(t *testing.T, c *converger, src string) string {
	f, err := policy.Parse("schema.yaml", []byte(src))
	if err != nil {
		return err.Error()
	}
	s, err := compile.Compile(f)
	if err != nil {
		return err.Error()
	}
	schemas := slices.DeleteFunc(slices.Clone(s.Schemas), func(n string) bool { return n == policy.FunctionSchema })
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	pulled := filepath.Join(c.work, "pulled.yaml")
	dir := filepath.Join(c.work, "pulled-migrations")
	os.Remove(pulled)
	os.RemoveAll(dir)
	show := func(format string, args ...any) string {
		data, _ := os.ReadFile(pulled)
		return fmt.Sprintf(format, args...) + "\npulled.yaml:\n" + string(data)
	}
	r := run(t, c.work, "pull", "--database-url", c.dbURL, "--schemas", strings.Join(schemas, ","), "--out", pulled, "--dir", dir)
	if r.code != 0 {
		return fmt.Sprintf("pull exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "The next migration changes nothing") || strings.Contains(r.stdout, "_adopt") {
		return show("pull's report announces changes on a database rlsmigrate built:\n%s", r.stdout)
	}
	// diff finds nothing, and generate on the pulled file over the baseline pull wrote
	// has nothing to write.
	if rep, d := diffReport(t, pulled, c.dbURL); len(rep.Findings) > 0 {
		return show("diff of the pulled schema.yaml:\n%s", d.stdout)
	}
	if g := run(t, c.work, "generate", "--schema", pulled, "--dir", dir, "--check"); g.code != 0 {
		return show("generate --check on the pulled schema.yaml: %s", g)
	}
	return ""
}

// TestPullRoundTrip is pull's property: on a database rlsmigrate built from a random
// schema.yaml (and random edits of it), pull writes a schema.yaml that describes the
// database exactly: its report announces no change and diff against it is empty.
// RLSMIGRATE_PULL_SEEDS, _STEPS and _FIRST_SEED set the run (default 8 seeds of 6
// edits from seed 1).
func TestPullRoundTrip(t *testing.T) {
	seeds := envInt("RLSMIGRATE_PULL_SEEDS", 8)
	steps := envInt("RLSMIGRATE_PULL_STEPS", 6)
	if testing.Short() {
		seeds, steps = 2, 2
	}
	for _, file := range []string{"../../schema.yaml", "testdata/pull/through_other_schema.yaml", "testdata/pull/member_unindexed.yaml",
		"testdata/generate/copy_columns/steps/02.yaml", "testdata/generate/copy_columns/steps/03.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c := newConverger(t, "")
			if msg := c.step(string(src)); msg != "" {
				t.Fatal(msg)
			}
			if msg := pulledMatches(t, c, string(src)); msg != "" {
				t.Fatal(msg)
			}
		})
	}
	first := envInt("RLSMIGRATE_PULL_FIRST_SEED", 1)
	for seed := first; seed < first+seeds; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			// Every third seed draws for a Supabase database, on its stand-in.
			g, dbURL := schemagen.New(uint64(1000+seed)), ""
			if seed%3 == 0 {
				g, dbURL = g.Supabase(), pgtest.NewSupabaseDB(t)
			}
			cur := g.Schema()
			c := newConverger(t, dbURL)
			if msg := c.step(cur.YAML()); msg != "" {
				t.Fatalf("building the database: %s", msg)
			}
			for i := 0; i < steps; i++ {
				next, what := g.Step(cur)
				if what == "" {
					continue
				}
				if msg := c.step(next.YAML()); msg == "" {
					cur = next
				}
			}
			if msg := pulledMatches(t, c, cur.YAML()); msg != "" {
				t.Fatalf("seed %d:\n%s\nschema.yaml it was built from:\n%s", seed, msg, cur.YAML())
			}
		})
	}
}

// form is one entry of testdata/pull/forms.yaml.
type form struct {
	Name, Source, Provider string
	Tables, Policy         string
	Rules                  []string
}

// neonSQL makes a database look like one with pg_session_jwt: its roles and
// functions (rlsmigrate's stand-ins of them).
func neonSQL() string {
	var b strings.Builder
	b.WriteString(`DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anonymous') THEN CREATE ROLE anonymous NOLOGIN; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA auth;
`)
	for _, f := range schema.IdentityFunctions {
		fmt.Fprintf(&b, "CREATE FUNCTION %s RETURNS %s LANGUAGE sql STABLE AS $f$%s$f$;\n", f.Signature, f.Returns, f.Body)
	}
	return b.String()
}

// TestPullRecognisesForms: each policy form of testdata/pull/forms.yaml, made on a
// database, is read back as the rule it means; the changes the report announces apply,
// after which the pulled schema.yaml diffs empty.
func TestPullRecognisesForms(t *testing.T) {
	data, err := os.ReadFile("testdata/pull/forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var forms []form
	if err := yaml.Unmarshal(data, &forms); err != nil {
		t.Fatal(err)
	}
	if len(forms) < 15 {
		t.Errorf("%d forms; want at least 15", len(forms))
	}
	for _, fm := range forms {
		t.Run(fm.Name, func(t *testing.T) {
			t.Parallel()
			var dbURL string
			if fm.Provider == "supabase" {
				dbURL = pgtest.NewSupabaseDB(t)
			} else {
				dbURL = pgtest.NewDB(t)
				pgtest.MustExec(t, pgtest.Connect(t, dbURL), neonSQL())
			}
			conn := pgtest.Connect(t, dbURL)
			pgtest.RunScript(t, conn, fm.Tables+";\n"+fm.Policy)
			// As in the apps the forms come from, the policy's table has row-level security.
			pgtest.MustExec(t, conn, `DO $$ DECLARE r record; BEGIN
				FOR r IN SELECT DISTINCT schemaname, tablename FROM pg_policies LOOP
					EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', r.schemaname, r.tablename);
				END LOOP; END $$`)
			work := t.TempDir()
			pulled := filepath.Join(work, "schema.yaml")
			r := run(t, work, "pull", "--database-url", dbURL, "--out", pulled, "--dir", filepath.Join(work, "migrations"))
			if r.code != 0 {
				t.Fatalf("pull exited %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range fm.Rules {
				if line := "policy p: " + want; !strings.Contains(r.stdout, line) {
					t.Errorf("the report lacks %q:\n%s", line, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "policy p: custom") {
				t.Errorf("the report keeps p as a custom rule:\n%s", r.stdout)
			}
			fix := run(t, work, "diff", "--database-url", dbURL, "--schema", pulled, "--format", "sql", "--dir", filepath.Join(work, "migrations"))
			pgtest.RunScript(t, conn, fix.stdout)
			d := run(t, work, "diff", "--database-url", dbURL, "--schema", pulled, "--dir", filepath.Join(work, "migrations"))
			if d.code != 0 {
				src, _ := os.ReadFile(pulled)
				t.Errorf("after the announced changes, diff exited %d:\n%s%s\nreport:\n%s\nschema.yaml:\n%s", d.code, d.stdout, d.stderr, r.stdout, src)
			}
		})
	}
}

// TestPullRefusesAndChangesNothing: each refusal of pull names the problem and what to
// do, exits 2, and leaves the files and the database as they were.
func TestPullRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, neonSQL()+"CREATE TABLE notes (id bigint PRIMARY KEY)")
	cases := []struct {
		name   string
		before map[string]string // files in the work directory
		setup  string            // SQL run first
		args   []string
		want   string
	}{
		{"schema.yaml exists", map[string]string{"schema.yaml": "version: 1\n"}, "", nil, "schema.yaml exists: pull writes a whole new file; give --out another path, or --force to replace it"},
		{"--baseline over migrations", map[string]string{"migrations/00001_init.sql": "-- +goose Up\n"}, "", []string{"--baseline"}, "migrations already holds migrations: --baseline records a new project's first one"},
		{"--baseline over goose's records", nil, "CREATE TABLE goose_db_version (id serial, version_id bigint, is_applied boolean, tstamp timestamp DEFAULT now()); INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (7, true)",
			[]string{"--baseline"}, "checking goose_db_version for --baseline: it already records migration 7"},
		{"unknown schema", nil, "", []string{"--schemas", "public,nope"}, "--schemas names nope, which the database lacks (it has public); nothing was written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			for name := range c.before {
				os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755)
			}
			writeFiles(t, work, c.before)
			if c.setup != "" {
				pgtest.MustExec(t, conn, c.setup)
				defer pgtest.MustExec(t, conn, "DROP TABLE goose_db_version")
			}
			args := append([]string{"pull", "--database-url", dbURL, "--out", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations")}, c.args...)
			r := run(t, work, args...)
			if r.code != ExitError || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("pull: %s\nwant exit 2 and %q", r, c.want)
			}
			var after []string
			filepath.WalkDir(work, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(work, path)
					after = append(after, rel)
				}
				return nil
			})
			var before []string
			for name := range c.before {
				before = append(before, filepath.FromSlash(name))
			}
			slices.Sort(before)
			if !slices.Equal(after, before) {
				t.Errorf("files after the refusal: %v, want %v", after, before)
			}
		})
	}
	// A password in the URL never shows.
	tmp := t.TempDir()
	r := run(t, "", "pull", "--database-url", "postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=1", "--out", filepath.Join(tmp, "s.yaml"), "--dir", filepath.Join(tmp, "migrations"))
	if r.code != ExitError || strings.Contains(r.stdout+r.stderr, "s3cret-pw") {
		t.Errorf("pull with an unreachable database: %s", r)
	}
}

// TestPullMarkdownReport: --format markdown renders the report as tables for a pull
// request, and the changes as diff's Markdown does.
func TestPullMarkdownReport(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), neonSQL()+`CREATE TABLE t (id bigint PRIMARY KEY, user_id text NOT NULL);
		ALTER TABLE t ENABLE ROW LEVEL SECURITY;
		CREATE POLICY "p|q" ON t FOR SELECT TO authenticated USING (auth.user_id() = user_id)`)
	work := t.TempDir()
	r := run(t, work, "pull", "--database-url", dbURL, "--out", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"), "--format", "markdown")
	for _, want := range []string{
		"## rlsmigrate pull: `schema.yaml`\n",
		"### Policies read back as rules (1)\n\n| object | finding |\n|---|---|\n| public.t policy p\\|q | owner (select) |\n",
		"### Policies the next migration writes in a faster form (1)\n",
		"### The next migration changes 1 thing(s)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the Markdown report lacks %q:\n%s", want, r)
		}
	}
}

// TestPullKeepsFunctionBodies: a body as people write it between dollar quotes, on
// lines of its own and indented, is written so that it reads back byte for byte (a
// literal block dropped its first empty line and the indentation after it, and the
// report announced the function rewritten).
func TestPullKeepsFunctionBodies(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), neonSQL()+`CREATE TABLE accounts (id bigint PRIMARY KEY, slug text);
		CREATE FUNCTION account_id(slug text) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT id FROM public.accounts WHERE slug = account_id.slug
$$;
		CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RETURN NEW;  
	END
$$`)
	work := t.TempDir()
	r := run(t, work, "pull", "--database-url", dbURL, "--out", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"))
	if r.code != 0 || !strings.Contains(r.stdout, "The next migration changes nothing") {
		src, _ := os.ReadFile(filepath.Join(work, "schema.yaml"))
		t.Errorf("pull: %s\nschema.yaml:\n%s", r, src)
	}
}

// TestPullCastIdentities: an identity cast to the owner column's type is the owner
// rule with auth.user_id saying the cast; a cast column (uuid compared as text) is a
// custom rule, where it made pull write a file that did not compile.
func TestPullCastIdentities(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, sql, want string }{
		{"text ids", `CREATE TABLE notes (id bigint PRIMARY KEY, user_id text NOT NULL);
			CREATE POLICY p ON notes FOR SELECT TO authenticated USING ((select auth.uid())::text = user_id)`, "policy p: owner (select)"},
		{"cast column", `CREATE TABLE notes (id bigint PRIMARY KEY, user_id uuid NOT NULL);
			CREATE POLICY p ON notes FOR SELECT TO authenticated USING (user_id::text = (auth.uid())::text)`, "policy p: custom rule (select)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbURL := pgtest.NewSupabaseDB(t)
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), c.sql+"; ALTER TABLE notes ENABLE ROW LEVEL SECURITY")
			work := t.TempDir()
			r := run(t, work, "pull", "--database-url", dbURL, "--out", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"))
			if r.code != 0 || !strings.Contains(r.stdout, c.want) {
				t.Fatalf("pull: want %q in the report:\n%s", c.want, r)
			}
			if rep, d := diffReport(t, filepath.Join(work, "schema.yaml"), dbURL); r.code == 0 && strings.Contains(r.stdout, "changes nothing") != (len(rep.Findings) == 0) {
				t.Errorf("the report and diff disagree:\n%s\n%s", r.stdout, d.stdout)
			}
		})
	}
}
