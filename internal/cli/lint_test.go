package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestLintGolden runs lint on internal/lint/testdata/lint/RLSnnn.yaml, each written to
// trip rule RLSnnn, and compares the text and GitHub outputs with the golden .txt beside
// it (the lint package's own test reads the same cases).
func TestLintGolden(t *testing.T) {
	const home = "../lint" // the cases' paths print from there, as in their goldens
	files, _ := filepath.Glob(home + "/testdata/lint/RLS*.yaml")
	if len(files) < 12 {
		t.Fatalf("want a lint case per schema rule, found %d", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		id, _, _ := strings.Cut(name, "_") // RLS003_tree is another case of RLS003
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text := run(t, home, "lint", "--schema", file, "--fail-on", "info")
			if text.code != ExitFound || !strings.Contains(text.stdout, " "+id+" ") {
				t.Errorf("lint did not report %s with exit 1:\n%s", id, text)
			}
			gh := run(t, home, "lint", "--schema", file, "--format", "github")
			compareGolden(t, strings.TrimSuffix(file, ".yaml")+".txt",
				fmt.Sprintf("$ rlsmigrate lint --fail-on info\n%s$ rlsmigrate lint --format github\n%s", text, gh))
		})
	}
}

// TestLintBundledSchemaClean checks that the bundled schema.yaml has no finding at all.
func TestLintBundledSchemaClean(t *testing.T) {
	t.Parallel()
	r := run(t, "", "lint", "--schema", "../../schema.yaml", "--fail-on", "info")
	if r.code != 0 || !strings.Contains(r.stdout, "0 finding(s)") {
		t.Errorf("the bundled schema.yaml has lint findings:\n%s", r)
	}
}

// TestLintLive checks the rules that need a database: a role that bypasses RLS, a
// table owned by the connecting role without FORCE, policies on a table with RLS off,
// and a missing identity function.
func TestLintLive(t *testing.T) {
	t.Parallel()
	baseSchema.build(t, "testdata/diff/base.yaml")
	dbURL := baseSchema.database(t)
	conn := pgtest.Connect(t, dbURL)
	// The test connects as a superuser that owns the tables: RLS014 and RLS015 (tasks has
	// no FORCE; projects has it).
	r := run(t, "", "lint", "--schema", baseSchema.schema, "--database-url", dbURL, "--format", "json")
	for _, want := range []string{`"rule": "RLS014"`, `"rule": "RLS015"`, "table public.tasks is owned by postgres"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lint on the database lacks %s:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "table public.projects is owned") {
		t.Errorf("lint reported the forced table public.projects:\n%s", r)
	}
	pgtest.MustExec(t, conn, `ALTER TABLE tasks DISABLE ROW LEVEL SECURITY; ALTER FUNCTION auth.user_id() RENAME TO user_id_gone`)
	r = run(t, "", "lint", "--schema", baseSchema.schema, "--database-url", dbURL)
	for _, want := range []string{"RLS013 policies-while-disabled: table public.tasks has 4 policies", "RLS016 identity-function-missing"} {
		if !strings.Contains(r.stdout, want) || r.code != ExitFound {
			t.Errorf("lint lacks %q:\n%s", want, r)
		}
	}
}

// TestLintGithubEscapesProperties: a "," or ":" in the file name ended the file=
// property of a GitHub annotation early.
func TestLintGithubEscapesProperties(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a,b:c.yaml")
	data, err := os.ReadFile("../lint/testdata/lint/RLS002.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"a,b:c.yaml": string(data)})
	r := run(t, "", "lint", "--schema", file, "--format", "github")
	want := "file=" + strings.NewReplacer(",", "%2C", ":", "%3A").Replace(file) + ",line="
	if !strings.Contains(r.stdout, want) {
		t.Errorf("want %q in:\n%s", want, r)
	}
}
