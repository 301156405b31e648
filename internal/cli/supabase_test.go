package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestSupabaseProvider builds a Supabase app on a stand-in of a Supabase database
// (pgtest.SupabaseSQL: its roles, schema auth with auth.users and auth.uid(), default
// privileges giving anon, authenticated and service_role ALL on new tables). Declared
// with provider claims and auth.uid(), right after up diff showed 21 security
// findings: the 9 default privileges, and the grants they gave on both tables and
// their identity sequences (anon held TRUNCATE, which row-level security does not
// stop). Now the migrations make every grant explicit, goose's version table is closed
// to the API's roles, and diff and verify find nothing.
func TestSupabaseProvider(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	data, err := os.ReadFile("testdata/supabase/notes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schemaPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewSupabaseDB(t)
	for _, args := range [][]string{
		{"generate", "--schema", schemaPath, "--dir", dir},
		{"up", "--database-url", dbURL, "--dir", dir},
		{"diff", "--schema", schemaPath, "--dir", dir, "--database-url", dbURL},
		{"verify", "--schema", schemaPath, "--database-url", dbURL},
		{"down", "--to", "0", "--database-url", dbURL, "--dir", dir},
		{"up", "--database-url", dbURL, "--dir", dir},
		{"diff", "--schema", schemaPath, "--dir", dir, "--database-url", dbURL},
	} {
		if r := run(t, work, args...); r.code != 0 || strings.Contains(r.stdout, "not exercised") {
			t.Fatalf("rlsmigrate %s:\n%s", args[0], r)
		}
	}
	// The grants are exactly schema.yaml's: anon selects notes (its rule), nothing else.
	var grants string
	if err := pgtest.Connect(t, dbURL).QueryRow(context.Background(), `SELECT string_agg(grantee || ' ' || table_name || ' ' || privilege_type, ', ' ORDER BY grantee, table_name, privilege_type)
		FROM information_schema.role_table_grants WHERE table_schema = 'public' AND grantee IN ('anon', 'authenticated', 'PUBLIC')`).Scan(&grants); err != nil {
		t.Fatal(err)
	}
	// goose's version table, which the platform's default privileges opened to the API's
	// roles, among them: it holds none.
	want := "anon notes SELECT, authenticated notes DELETE, authenticated notes INSERT, authenticated notes SELECT, authenticated notes UPDATE, " +
		"authenticated tags DELETE, authenticated tags INSERT, authenticated tags SELECT, authenticated tags UPDATE"
	if grants != want {
		t.Errorf("grants after up:\n%s\nwant\n%s", grants, want)
	}
}

// TestSupabaseProviderOnAnotherDatabase: auth.provider: supabase on a database that is
// not Supabase's fails at up with what is wrong, before any policy calls auth.uid(),
// and leaves nothing behind.
func TestSupabaseProviderOnAnotherDatabase(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	data, _ := os.ReadFile("testdata/supabase/notes.yaml")
	// Without the external table, whose absence would fail first.
	src := strings.ReplaceAll(string(data), ", references: {schema: auth, table: users, on_delete: cascade}", "")
	if err := os.WriteFile(schemaPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDB(t)
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "auth.uid() does not exist: schema.yaml says auth.provider: supabase, and this database is not a Supabase database") {
		t.Fatalf("up on a plain database:\n%s", r)
	}
	var tables int
	if err := pgtest.Connect(t, dbURL).QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("tables left behind: %d (%v)", tables, err)
	}
}

// TestSupabaseGuideIsTested: the example of docs/supabase.md is the schema
// TestSupabaseProvider builds.
func TestSupabaseGuideIsTested(t *testing.T) {
	doc, err := os.ReadFile("../../docs/supabase.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	tested, _ := os.ReadFile("testdata/supabase/notes.yaml")
	if !ok || !strings.Contains(string(tested), block) {
		t.Errorf("docs/supabase.md's example is not in testdata/supabase/notes.yaml:\n%s", block)
	}
}

// TestNeonGuideIsTested runs the example of docs/neon.md: generate, up, verify and diff
// on a fresh database.
func TestNeonGuideIsTested(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/neon.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok {
		t.Fatal("docs/neon.md has no yaml example")
	}
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	if err := os.WriteFile(schemaPath, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDB(t)
	for _, args := range [][]string{
		{"generate", "--schema", schemaPath, "--dir", dir},
		{"up", "--database-url", dbURL, "--dir", dir},
		{"verify", "--schema", schemaPath, "--database-url", dbURL},
		{"diff", "--schema", schemaPath, "--dir", dir, "--database-url", dbURL},
	} {
		if r := run(t, work, args...); r.code != 0 {
			t.Fatalf("rlsmigrate %s:\n%s", args[0], r)
		}
	}
}
