package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestReadmeQuickstart runs the README's Quickstart as a new user would: the schema.yaml
// of step 1, the generate of step 2 (whose output must be the one shown), and the up of
// step 3 (whose lines must have the form shown).
func TestReadmeQuickstart(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	_, quick, _ := strings.Cut(readme, "## Quickstart")
	block := func(step, lang string) string {
		_, rest, ok := strings.Cut(quick, step)
		if !ok {
			t.Fatalf("README Quickstart has no step %q", step)
		}
		_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
		body, _, _ := strings.Cut(rest, "```")
		if !ok {
			t.Fatalf("step %q has no %s block", step, lang)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(body, " \n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, "   "))
		}
		return strings.Join(lines, "\n") + "\n"
	}
	work := t.TempDir()
	writeFiles(t, work, map[string]string{"schema.yaml": block("1. ", "yaml")})
	shown := block("2. ", "sh")
	r := run(t, work, "generate", "--schema", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"))
	if got := "$ rlsmigrate generate\n" + r.stdout; r.code != 0 || got != shown {
		t.Errorf("README step 2 shows:\n%s\nrlsmigrate prints:\n%s", shown, got)
	}
	shownUp := block("3. ", "sh")
	r = run(t, work, "up", "--database-url", pgtest.NewDB(t), "--dir", filepath.Join(work, "migrations"))
	got := "$ export DATABASE_URL='postgres://owner:secret@localhost:5432/app'\n$ rlsmigrate up\n" + r.stderr + r.stdout
	duration := regexp.MustCompile(`\(\d+(\.\d+)?(ms|µs|s)\)`)
	if r.code != 0 || duration.ReplaceAllString(got, "(D)") != duration.ReplaceAllString(shownUp, "(D)") {
		t.Errorf("README step 3 shows:\n%s\nrlsmigrate prints:\n%s", shownUp, got)
	}
}

// TestTeamAccessShowsGeneratedSQL: every statement docs/team-access.md shows as what a
// rule compiles to is in the migration generate writes for the bundled schema.yaml into an
// empty directory, word for word (whitespace aside), so the page cannot drift from it.
func TestTeamAccessShowsGeneratedSQL(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "team-access.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "What each rule compiles to (as generate writes it for the bundled schema.yaml):\n\n```sql\n")
	block, _, _ := strings.Cut(rest, "```")
	if !ok || block == "" {
		t.Fatal("docs/team-access.md has no SQL block of what each rule compiles to")
	}
	dir := filepath.Join(t.TempDir(), "migrations")
	if r := run(t, "", "generate", "--schema", filepath.Join("..", "..", "schema.yaml"), "--dir", dir); r.code != 0 {
		t.Fatalf("generate: %s", r)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	var bundled strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bundled.Write(data)
	}
	space := regexp.MustCompile(`\s+`)
	all := space.ReplaceAllString(bundled.String(), " ")
	var stmt strings.Builder
	n := 0
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "--") || strings.TrimSpace(line) == "" {
			continue
		}
		stmt.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			n++
			if s := space.ReplaceAllString(strings.TrimSpace(stmt.String()), " "); !strings.Contains(all, s) {
				t.Errorf("docs/team-access.md shows a statement generate does not write:\n%s", s)
			}
			stmt.Reset()
		}
	}
	if n < 5 {
		t.Errorf("read only %d statements from docs/team-access.md", n)
	}
}

// TestAdoptingGuide runs docs/adopting.md's worked example: its SQL on the Supabase
// stand-in, then pull --baseline, up and diff, each of which must print what the page
// shows; the schema.yaml pull writes must be the one shown.
func TestAdoptingGuide(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "adopting.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(data)
	block := func(after, lang string) string {
		_, rest, ok := strings.Cut(page, after)
		if ok {
			_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
		}
		body, _, _ := strings.Cut(rest, "```")
		if !ok || body == "" {
			t.Fatalf("docs/adopting.md has no %s block after %q", lang, after)
		}
		return body
	}
	dbURL := pgtest.NewSupabaseDB(t)
	pgtest.RunScript(t, pgtest.Connect(t, dbURL), block("## A worked example", "sql"))
	work := t.TempDir()
	r := run(t, work, "pull", "--baseline", "--database-url", dbURL, "--out", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"))
	if shown, got := block("Pull it,", "sh"), "$ rlsmigrate pull --baseline\n"+r.stdout; r.code != 0 || got != shown {
		t.Errorf("docs/adopting.md shows:\n%s\nrlsmigrate pull prints:\n%s%s", shown, got, r.stderr)
	}
	written, _ := os.ReadFile(filepath.Join(work, "schema.yaml"))
	if shown := block("The schema.yaml it wrote:", "yaml"); string(written) != shown {
		t.Errorf("docs/adopting.md shows the schema.yaml:\n%s\npull wrote:\n%s", shown, written)
	}
	up := run(t, work, "up", "--database-url", dbURL, "--dir", filepath.Join(work, "migrations"))
	d := run(t, work, "diff", "--database-url", dbURL, "--schema", filepath.Join(work, "schema.yaml"), "--dir", filepath.Join(work, "migrations"))
	got := "$ rlsmigrate up\n" + up.stderr + up.stdout + "$ rlsmigrate diff\n" + d.stdout
	duration := regexp.MustCompile(`\(\d+(\.\d+)?(ms|µs|s)\)`)
	if shown := block("apply the announced changes:", "sh"); up.code != 0 || d.code != 0 || duration.ReplaceAllString(got, "(D)") != shown {
		t.Errorf("docs/adopting.md shows:\n%s\nrlsmigrate prints:\n%s%s", shown, got, d.stderr)
	}
}
