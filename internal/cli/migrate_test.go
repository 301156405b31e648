package cli

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// writeMigrations writes hand-made migrations (name → content) into dir and records
// them, as "rlsmigrate hash" would, with an empty schema.
func writeMigrations(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	writeFiles(t, dir, files)
	if err := (migdir.Dir{Path: dir}).Rehash(&schema.Schema{}); err != nil {
		t.Fatal(err)
	}
}

// writeFiles writes name → content into dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func queryInt(t *testing.T, dbURL, sql string) int {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestUpFailingMigrationRollsBackAndNamesStatement(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	dir := filepath.Join(work, "migrations")
	writeMigrations(t, dir, map[string]string{
		"00001_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
		"00002_b.sql": "-- +goose Up\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nALTER TABLE b ADD COLUMN x int REFERENCES missing (id);\n-- +goose Down\nDROP TABLE b;\n",
	})
	dbURL := pgtest.NewDB(t)
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != ExitError {
		t.Fatalf("up with a failing migration: exit %d, want 2\n%s", r.code, r)
	}
	for _, want := range []string{
		"applied     00001_a.sql",
		"migration migrations/00002_b.sql failed and was rolled back; the 1 migration(s) before it stay applied",
		"ALTER TABLE b ADD COLUMN x int REFERENCES missing (id);",
		`relation "missing" does not exist (SQLSTATE 42P01)`,
	} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b')"); n != 1 {
		t.Errorf("after the failure %d of tables a, b exist; want only a", n)
	}
	// The fix is a hand edit, accepted with hash.
	writeFiles(t, dir, map[string]string{
		"00002_b.sql": "-- +goose Up\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n-- +goose Down\nDROP TABLE b;\n",
	})
	if r := run(t, work, "hash", "--dir", dir); r.code != 0 {
		t.Fatalf("hash after the fix: %s", r)
	}
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("rerun after the fix: %s", r)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM b"); n != 1 {
		t.Errorf("table b has %d rows after the rerun, want 1", n)
	}
}

func TestGenerateRefusesEditedMigrations(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath := filepath.Join(work, "schema.yaml")
	dir := filepath.Join(work, "migrations")
	data, err := os.ReadFile("testdata/generate/add_column/steps/01.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	first := filepath.Join(dir, "00001_init.sql")
	original, _ := os.ReadFile(first)
	for _, tc := range []struct {
		name  string
		apply func()
		want  string
	}{
		{"edited", func() { os.WriteFile(first, append(original, []byte("-- tweak\n")...), 0o644) }, "00001_init.sql was edited after it was generated"},
		{"added", func() { os.WriteFile(filepath.Join(dir, "00002_manual.sql"), []byte("-- +goose Up\n"), 0o644) }, "00002_manual.sql was added by hand"},
		{"deleted", func() { os.Remove(first) }, "00001_init.sql was deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.apply()
			defer func() {
				os.WriteFile(first, original, 0o644)
				os.Remove(filepath.Join(dir, "00002_manual.sql"))
			}()
			for _, cmd := range []string{"generate", "up"} {
				args := []string{cmd, "--dir", dir}
				if cmd == "generate" {
					args = append(args, "--schema", schemaPath)
				} else {
					args = append(args, "--database-url", "postgres://nobody@127.0.0.1:1/none")
				}
				r := run(t, work, args...)
				if r.code != ExitError || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "rlsmigrate hash") {
					t.Errorf("%s: exit %d, want 2 with %q and the fix:\n%s", cmd, r.code, tc.want, r)
				}
			}
		})
	}
	// An intended edit is accepted with hash.
	os.WriteFile(first, append(original, []byte("-- reviewed by hand\n")...), 0o644)
	if r := run(t, work, "hash", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "recorded 1 migration(s)") {
		t.Fatalf("hash: %s", r)
	}
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Fatalf("generate after hash: %s", r)
	}
}

// buildBinary builds rlsmigrate into a temporary directory for tests that need processes.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rlsmigrate")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/rlsmigrate")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building rlsmigrate: %v\n%s", err, out)
	}
	return bin
}

func TestConcurrentUpAppliesEachMigrationOnce(t *testing.T) {
	longRun(t)
	t.Parallel()
	bin := buildBinary(t)
	work := t.TempDir()
	dir := filepath.Join(work, "migrations")
	for _, step := range []string{"01", "02"} {
		data, _ := os.ReadFile("testdata/generate/add_table/steps/" + step + ".yaml")
		writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
		if r := run(t, work, "generate", "--schema", filepath.Join(work, "schema.yaml"), "--dir", dir); r.code != 0 {
			t.Fatal(r)
		}
	}
	// A slow migration keeps the lock held while the others wait.
	writeFiles(t, dir, map[string]string{"00003_slow.sql": "-- +goose Up\nSELECT pg_sleep(1);\nCREATE TABLE applied_once (id int PRIMARY KEY);\nINSERT INTO applied_once VALUES (1);\n-- +goose Down\nDROP TABLE applied_once;\n"})
	if r := run(t, work, "hash", "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	dbURL := pgtest.NewDB(t)
	const n = 8
	var wg sync.WaitGroup
	outputs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(bin, "up", "--database-url", dbURL, "--dir", dir).CombinedOutput()
			outputs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	applied := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], outputs[i])
		}
		applied += strings.Count(outputs[i], "applied ")
	}
	if applied != 3 {
		t.Errorf("%d processes reported %d applied migrations in all, want 3:\n%s", n, applied, strings.Join(outputs, "\n"))
	}
	if v := queryInt(t, dbURL, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); v != 3 {
		t.Errorf("goose recorded %d migrations, want 3", v)
	}
	if v := queryInt(t, dbURL, "SELECT count(*) FROM applied_once"); v != 1 {
		t.Errorf("the slow migration ran %d times", v)
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Pa55"
	work := t.TempDir()
	dir := filepath.Join(work, "migrations")
	writeMigrations(t, dir, map[string]string{"00001_a.sql": "-- +goose Up\nSELECT 1/0;\n-- +goose Down\nSELECT 1;\n"})
	base, _ := url.Parse(pgtest.NewDB(t))
	withPassword := func(host, db string) string {
		u := *base
		u.User = url.UserPassword("postgres", secret)
		if host != "" {
			u.Host = host
		}
		if db != "" {
			u.Path = "/" + db
		}
		return u.String()
	}
	urls := []string{
		withPassword("127.0.0.1:1", ""),                                        // nothing listens
		withPassword("", "no_such_database"),                                   // server refuses
		withPassword("", ""),                                                   // connects; the migration fails
		"postgres://postgres:" + secret + "@127.0.0.1:1/x?sslmode=bogus",       // bad URL
		"host=127.0.0.1 port=1 user=postgres password=" + secret + " dbname=x", // key=value form
		// An unescaped "@": part of the password was read as the host, and printed.
		"postgres://postgres:s3cr3t@Pa55@127.0.0.1:1/x",
	}
	for _, u := range urls {
		for _, cmd := range []string{"up", "down", "status", "diff", "verify", "lint"} {
			args := []string{cmd, "--database-url", u}
			switch cmd {
			case "diff", "verify", "lint":
				args = append(args, "--schema", filepath.Join("..", "..", "schema.yaml"))
			default:
				args = append(args, "--dir", dir)
			}
			r := run(t, work, args...)
			if r.code != ExitError && r.code != ExitOK && r.code != ExitFound {
				t.Errorf("%s: exit %d", cmd, r.code)
			}
			if r.code == ExitError && !strings.Contains(r.stderr, "error: ") {
				t.Errorf("%s failed without an error message:\n%s", cmd, r)
			}
			if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stdout+r.stderr, "Pa55") {
				t.Errorf("%s printed the password or part of it:\n%s", cmd, r)
			}
		}
	}
}

// TestUpOutOfLocksSaysWhatToDo: a migration is one transaction, holding a lock on every
// table, index and sequence it makes until it commits, so a first migration of many
// tables can fill the server's lock table. up rolls it back and says which setting
// bounds it and how to stay under it.
func TestUpOutOfLocksSaysWhatToDo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server of its own")
	}
	t.Parallel()
	srv := pgtest.Private(t, "max_locks_per_transaction=10", "max_connections=5")
	work := t.TempDir()
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(300)})
	dir := filepath.Join(work, "migrations")
	if r := run(t, work, "generate", "--schema", filepath.Join(work, "schema.yaml"), "--dir", dir); r.code != ExitOK {
		t.Fatalf("generate: %s", r)
	}
	r := run(t, work, "up", "--database-url", srv.URL, "--dir", dir)
	if r.code != ExitError {
		t.Fatalf("up of 300 tables into a lock table of about 300 slots: exit %d, want 2\n%s", r.code, r)
	}
	for _, want := range []string{
		"out of shared memory (SQLSTATE 53200)",
		"max_locks_per_transaction",
		"one transaction",
		"several migrations",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if n := queryInt(t, srv.URL, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'todos%'"); n != 0 {
		t.Errorf("after the failure %d tables exist, want none", n)
	}
}
