package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// TestUpRefusesMigrationsWithoutState: up used to apply migrations unchecked when the
// state file was missing, hand edits included.
func TestUpRefusesMigrationsWithoutState(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(1)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	os.Remove(filepath.Join(dir, migdir.StateFile))
	dbURL := pgtest.NewDB(t)
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "no rlsmigrate.state.json") || !strings.Contains(r.stderr, "hash --schema") {
		t.Fatalf("up without a state file:\n%s", r)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); n != 0 {
		t.Errorf("up created %d tables though it refused", n)
	}
	// hash cannot keep a schema it does not have: it needs --schema.
	if r := run(t, work, "hash", "--dir", dir); r.code != ExitError || !strings.Contains(r.stderr, "hash --schema") {
		t.Fatalf("hash without a state file:\n%s", r)
	}
	if r := run(t, work, "hash", "--dir", dir, "--schema", schemaPath); r.code != 0 {
		t.Fatalf("hash --schema: %s", r)
	}
	// The next generate must not write the same tables again.
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "no changes") {
		t.Fatalf("generate after hash --schema:\n%s", r)
	}
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up after hash --schema: %s", r)
	}
}

// TestConcurrentGenerateWritesOnce: four concurrent generate runs wrote 00002 to 00005
// and the state kept only the last; the directory lock makes one write and the others
// find nothing left to do.
func TestConcurrentGenerateWritesOnce(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(200)})
	var wg sync.WaitGroup
	results := make([]result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, work, "generate", "--schema", schemaPath, "--dir", dir)
		}()
	}
	wg.Wait()
	wrote := 0
	for _, r := range results {
		if r.code != 0 {
			t.Errorf("a concurrent generate failed:\n%s", r)
		}
		if strings.HasPrefix(r.stdout, "wrote ") {
			wrote++
		}
	}
	names, _ := migdir.Dir{Path: dir}.Migrations()
	if wrote != 1 || len(names) != 1 {
		t.Fatalf("%d runs wrote, %d migration files; want 1 and 1", wrote, len(names))
	}
	if _, err := (migdir.Dir{Path: dir}).Load(); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateKilledLeavesConsistentDirectory kills generate at moments spread over its
// run; afterwards the directory is either as before or holds the whole migration, once
// the next generate has finished what was recorded, and no temporary file is left.
func TestGenerateKilledLeavesConsistentDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(1500)})
	start := time.Now()
	if out, err := exec.Command(bin, "generate", "--schema", schemaPath, "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	full := time.Since(start)
	const kills = 30
	for i := 0; i < kills; i++ {
		os.RemoveAll(dir)
		cmd := exec.Command(bin, "generate", "--schema", schemaPath, "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Most of the run compiles; the writes come in its last part.
		time.Sleep(full*6/10 + full*4/10*time.Duration(i)/kills)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// The next generate finishes or starts over; either way it leaves one migration.
		r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir)
		if r.code != 0 {
			t.Fatalf("kill %d: the next generate failed:\n%s", i, r)
		}
		names, _ := migdir.Dir{Path: dir}.Migrations()
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
		if len(names) != 1 || len(leftovers) != 0 {
			t.Fatalf("kill %d: %d migrations and leftovers %v; want 1 and none", i, len(names), leftovers)
		}
		if r := run(t, work, "generate", "--check", "--schema", schemaPath, "--dir", dir); r.code != 0 {
			t.Fatalf("kill %d: generate --check:\n%s", i, r)
		}
	}
}

// TestHashAfterHandWrittenFirstMigration: adopting a directory whose first migration
// was written by hand with hash --schema recorded the identity setup as built, so the
// next generated migration's policies called auth.user_id() on a database without it
// (schema "auth" does not exist). The setup is now left to the next generate.
func TestHashAfterHandWrittenFirstMigration(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, work, map[string]string{
		"migrations/00001_notes.sql": "-- +goose Up\nCREATE TABLE notes (id bigint PRIMARY KEY, body text);\n-- +goose Down\nDROP TABLE notes;\n",
		"schema.yaml": `version: 1
tables:
  - name: notes
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: body, type: text}
    rls: false
`})
	r := run(t, work, "hash", "--dir", dir, "--schema", schemaPath)
	if r.code != 0 || !strings.Contains(r.stdout, "00001_notes.sql was not written by rlsmigrate") {
		t.Fatalf("hash --schema:\n%s", r)
	}
	writeFiles(t, work, map[string]string{"schema.yaml": `version: 1
tables:
  - name: notes
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: body, type: text}
    rls: false
  - name: todos
    columns:
      - {name: id, type: bigint, identity: always, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
    owner: user_id
    policies: owner
`})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "auth.setup") {
		t.Fatalf("generate after hash --schema:\n%s", r)
	}
	dbURL := pgtest.NewDB(t)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up:\n%s", r)
	}
	if r := run(t, work, "diff", "--schema", schemaPath, "--database-url", dbURL); r.code != 0 {
		t.Fatalf("diff after up:\n%s", r)
	}
}
