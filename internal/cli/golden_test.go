package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rlsmigrate/rlsmigrate/internal/golden"
	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

var update = golden.Update

func TestMain(m *testing.M) {
	// diff reads the policies on a helper connection for a schema.yaml from 4 KiB on
	// here, not 128 KiB: the tests' files fall on both sides, so both ways are run.
	helperMinSize = 4 << 10
	pgtest.Main(m)
}

// longRun skips, under -short, a test that kills, cancels or waits on purpose (faults,
// locks, races): the full suite, which CI runs, keeps it.
func longRun(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a fault, lock or race test of several seconds: run without -short")
	}
}

// result is what one command run printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command line in-process with work as the directory that relative paths
// in the output are shown from.
func run(t *testing.T, work string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, &out, &errOut)
	clean := func(s string) string {
		if work == "" {
			return s
		}
		return strings.ReplaceAll(s, work+string(filepath.Separator), "")
	}
	return result{stdout: clean(out.String()), stderr: clean(errOut.String()), code: code}
}

func (r result) String() string {
	var sb strings.Builder
	if r.stdout != "" {
		sb.WriteString("[stdout]\n" + r.stdout)
	}
	if r.stderr != "" {
		sb.WriteString("[stderr]\n" + r.stderr)
	}
	fmt.Fprintf(&sb, "[exit %d]\n", r.code)
	return sb.String()
}

// goldenCase is a directory under testdata/generate: steps/NN.yaml are successive versions
// of schema.yaml (a first line "# args: ..." adds flags to that step's generate), want.txt
// is the transcript of every step, and want/ holds the migrations written.
type goldenCase struct {
	name, dir string
	steps     []string
}

func goldenCases(t *testing.T) []goldenCase {
	dirs, err := filepath.Glob("testdata/generate/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases under testdata/generate: %v", err)
	}
	var cases []goldenCase
	for _, d := range dirs {
		steps, _ := filepath.Glob(filepath.Join(d, "steps", "*.yaml"))
		sort.Strings(steps)
		if len(steps) == 0 {
			t.Fatalf("%s has no steps/*.yaml", d)
		}
		cases = append(cases, goldenCase{name: filepath.Base(d), dir: d, steps: steps})
	}
	return cases
}

// generateSteps runs generate for every step of c in work and returns the transcript and
// the last step that generate accepted (exit 0), or "".
func generateSteps(t *testing.T, c goldenCase, work string) (string, string) {
	t.Helper()
	var transcript strings.Builder
	lastGood := ""
	for _, step := range c.steps {
		data, err := os.ReadFile(step)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "schema.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"generate", "--schema", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations")}
		if first, _, _ := strings.Cut(string(data), "\n"); strings.HasPrefix(first, "# args:") {
			args = append(args, strings.Fields(strings.TrimPrefix(first, "# args:"))...)
		}
		r := run(t, work, args...)
		if r.code == 0 {
			lastGood = step
		}
		fmt.Fprintf(&transcript, "$ rlsmigrate %s # %s\n%s", strings.Join(append([]string{"generate"}, args[5:]...), " "), filepath.Base(step), r)
	}
	return transcript.String(), lastGood
}

func TestGenerateGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			got, _ := generateSteps(t, c, work)
			compareGolden(t, filepath.Join(c.dir, "want.txt"), got)
			compareDir(t, filepath.Join(c.dir, "want"), filepath.Join(work, "migrations"))

			// Deterministic: the same steps in another directory write the same bytes.
			again := t.TempDir()
			if got2, _ := generateSteps(t, c, again); got2 != got {
				t.Errorf("second run printed differently:\n%s", cmp.Diff(got, got2))
			}
			if diff := dirDiff(filepath.Join(work, "migrations"), filepath.Join(again, "migrations"), true); diff != "" {
				t.Errorf("second run wrote different files:\n%s", diff)
			}
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	golden.Compare(t, path, got)
}

// compareDir compares the .sql files of dir with the golden directory want.
func compareDir(t *testing.T, want, dir string) {
	t.Helper()
	if *update {
		os.RemoveAll(want)
		files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
		if len(files) == 0 {
			return
		}
		if err := os.MkdirAll(want, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join(want, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if d := dirDiff(want, dir, false); d != "" {
		t.Errorf("migrations differ from %s (-want +got; run with -update to accept):\n%s", want, d)
	}
}

// dirDiff compares the .sql files (and, with state, the state file) of two directories.
func dirDiff(a, b string, state bool) string {
	read := func(dir string) map[string]string {
		m := map[string]string{}
		pattern := []string{"*.sql"}
		if state {
			pattern = append(pattern, "*.json")
		}
		for _, p := range pattern {
			files, _ := filepath.Glob(filepath.Join(dir, p))
			for _, f := range files {
				data, _ := os.ReadFile(f)
				m[filepath.Base(f)] = string(data)
			}
		}
		return m
	}
	return cmp.Diff(read(a), read(b))
}

func TestGenerateGoldenOnDatabase(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			_, lastGood := generateSteps(t, c, work)
			dir := filepath.Join(work, "migrations")
			if files, _ := filepath.Glob(filepath.Join(dir, "*.sql")); len(files) == 0 {
				t.Skip("the case writes no migration")
			}
			dbURL := pgtest.NewDB(t)
			for _, args := range [][]string{
				{"up"}, {"down", "--to", "0"}, {"up"},
			} {
				args = append(args, "--database-url", dbURL, "--dir", dir)
				if r := run(t, work, args...); r.code != 0 {
					t.Fatalf("rlsmigrate %s:\n%s", strings.Join(args[:len(args)-4], " "), r)
				}
			}
			st, err := migdir.Dir{Path: dir}.Load()
			if err != nil {
				t.Fatal(err)
			}
			checkIsolation(t, dbURL, st.Schema)
			// Converges: the database the migrations built matches the schema they came
			// from, and diff says so.
			if rep, r := diffReport(t, lastGood, dbURL); len(rep.Findings) != 0 || r.code != 0 {
				t.Errorf("diff against %s after up:\n%s", lastGood, r)
			}
			if r := run(t, work, "verify", "--schema", lastGood, "--database-url", dbURL); r.code != 0 {
				t.Errorf("verify against %s after up:\n%s", lastGood, r)
			}
		})
	}
}

// TestBundledSchema checks that the committed migrations hold the bundled schema.yaml and
// that they build a database where users are isolated.
func TestBundledSchema(t *testing.T) {
	t.Parallel()
	schemaPath, dir := filepath.Join("..", "..", "schema.yaml"), filepath.Join("..", "..", "migrations")
	r := run(t, "", "generate", "--check", "--schema", schemaPath, "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Fatalf("the committed migrations do not hold schema.yaml; run rlsmigrate generate:\n%s", r)
	}
	dbURL := pgtest.NewDB(t)
	if r := run(t, "", "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if r := run(t, "", "status", "--database-url", dbURL, "--dir", dir); r.code != 0 ||
		!strings.Contains(r.stdout, "00002_team_access.sql") || !strings.Contains(r.stdout, fmt.Sprintf("%d migration(s), 0 pending", len(files))) {
		t.Errorf("status after up:\n%s", r)
	}
	st, err := migdir.Dir{Path: dir}.Load()
	if err != nil {
		t.Fatal(err)
	}
	checkIsolation(t, dbURL, st.Schema)
	if r := run(t, "", "diff", "--schema", schemaPath, "--database-url", dbURL); r.code != 0 {
		t.Errorf("diff after up:\n%s", r)
	}
	if r := run(t, "", "verify", "--schema", schemaPath, "--database-url", dbURL); r.code != 0 ||
		!strings.Contains(r.stdout, "0 mismatch(es), 0 decided by custom rules") {
		t.Errorf("verify of the bundled schema:\n%s", r)
	}
}
