package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// onlineAt builds a database at step 01 of testdata/generate/online_changes, gives it
// rows (seed), and generates step 02, whose second migration runs outside a
// transaction. It returns the work directory and the database.
func onlineAt(t *testing.T, seed string) (work, dbURL string) {
	t.Helper()
	work = t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	dbURL = pgtest.NewDB(t)
	for i, step := range []string{"01.yaml", "02.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "generate", "online_changes", "steps", step))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
		if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir, "--allow-destructive"); r.code != 0 {
			t.Fatal(r)
		}
		if i == 0 {
			if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
				t.Fatal(r)
			}
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), seed)
		}
	}
	return work, dbURL
}

const onlineSeed = `INSERT INTO projects (name) SELECT 'p' || i FROM generate_series(1, 100) i;
	INSERT INTO todos (user_id, project_id, task) SELECT 'u' || (i % 10), i % 100 + 1, 't' || i FROM generate_series(1, 5000) i`

// TestOnlineMigrationOnRows applies, to tables holding rows, the migration that puts
// them under ownership: the indexes are built CONCURRENTLY and valid, the reference and
// the NOT NULL checks validated, the temporary checks gone; diff finds nothing; down
// removes what up added (the indexes CONCURRENTLY) and up applies again.
func TestOnlineMigrationOnRows(t *testing.T) {
	t.Parallel()
	work, dbURL := onlineAt(t, onlineSeed)
	dir := filepath.Join(work, "migrations")
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "applied     00003_update_online.sql") {
		t.Fatalf("up:\n%s", r)
	}
	for sql, want := range map[string]int{
		`SELECT count(*) FROM pg_index WHERE indrelid IN ('todos'::regclass, 'projects'::regclass) AND NOT indisvalid`:                          0,
		`SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('todos_user_id_idx', 'projects_name_idx')`: 2,
		`SELECT count(*) FROM pg_constraint WHERE conname = 'todos_project_id_fkey' AND convalidated`:                                           1,
		`SELECT count(*) FROM pg_constraint WHERE conname LIKE '%_not_null'`:                                                                    0,
		`SELECT count(*) FROM pg_attribute WHERE attrelid = 'todos'::regclass AND attname = 'user_id' AND attnotnull`:                           1,
	} {
		if got := queryInt(t, dbURL, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
	if d := run(t, work, "diff", "--schema", filepath.Join(work, "schema.yaml"), "--database-url", dbURL); d.code != 0 {
		t.Errorf("diff after up:\n%s", d)
	}
	if r := run(t, work, "down", "--to", "1", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("down:\n%s", r)
	}
	if n := queryInt(t, dbURL, `SELECT count(*) FROM pg_class WHERE relname IN ('todos_user_id_idx', 'projects_name_idx')`); n != 0 {
		t.Errorf("down left %d index(es)", n)
	}
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up after down:\n%s", r)
	}
}

// TestOnlineRetryDropsInvalidIndex: a unique index whose CONCURRENTLY build failed (two
// rows share a name) stays behind, invalid; once the rows are fixed, up runs the
// migration again, drops the invalid index first and builds it.
func TestOnlineRetryDropsInvalidIndex(t *testing.T) {
	t.Parallel()
	work, dbURL := onlineAt(t, onlineSeed+`; INSERT INTO projects (name) VALUES ('p1')`)
	dir := filepath.Join(work, "migrations")
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "00003_update_online.sql") || !strings.Contains(r.stderr, "23505") {
		t.Fatalf("up over duplicate names:\n%s", r)
	}
	// trust II: up said the NO TRANSACTION file "was rolled back"; it names what stays.
	if strings.Contains(r.stderr, "00003_update_online.sql failed and was rolled back") ||
		!strings.Contains(r.stderr, "runs outside a transaction") ||
		!strings.Contains(r.stderr, "statement(s) it ran before the failing one stay applied") ||
		!strings.Contains(r.stderr, "\n  ALTER TABLE public.todos VALIDATE CONSTRAINT todos_project_id_fkey;\n") {
		t.Errorf("up does not say what the file outside a transaction applied:\n%s", r)
	}
	rep, d := diffReport(t, filepath.Join(work, "schema.yaml"), dbURL)
	if !slices.ContainsFunc(rep.Findings, func(f render.Finding) bool {
		return f.Kind == "index.create" && f.Severity == "security" && f.Object == "public.projects.projects_name_idx"
	}) {
		t.Errorf("diff does not report the invalid unique index as missing, a security finding:\n%s", d)
	}
	if n := queryInt(t, dbURL, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'projects_name_idx' AND NOT i.indisvalid`); n != 1 {
		t.Fatalf("the failed build left %d invalid index(es), want 1", n)
	}
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `DELETE FROM projects WHERE id = (SELECT max(id) FROM projects)`)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up again:\n%s", r)
	}
	if n := queryInt(t, dbURL, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'projects_name_idx' AND i.indisvalid`); n != 1 {
		t.Errorf("projects_name_idx is not valid after the retry")
	}
	if d := run(t, work, "diff", "--schema", filepath.Join(work, "schema.yaml"), "--database-url", dbURL); d.code != 0 {
		t.Errorf("diff after the retry:\n%s", d)
	}
}

// TestOnlineRetryKeepsValidIndex: a retry of the migration outside a transaction (here:
// the version row removed after a full run, as if its last statement had failed) keeps
// the unique index the first attempt built valid. Before, it dropped it CONCURRENTLY and
// built it again, and duplicates got in meanwhile.
func TestOnlineRetryKeepsValidIndex(t *testing.T) {
	t.Parallel()
	work, dbURL := onlineAt(t, onlineSeed)
	dir := filepath.Join(work, "migrations")
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	const oid = `SELECT 'public.projects_name_idx'::regclass::oid::int`
	before := queryInt(t, dbURL, oid)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `DELETE FROM goose_db_version WHERE version_id = 3`)
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("up again:\n%s", r)
	}
	if after := queryInt(t, dbURL, oid); after != before {
		t.Errorf("the retry built projects_name_idx again (oid %d, was %d) instead of keeping the valid one", after, before)
	}
}

// TestOnlineWaitsBoundedBehindALock: the migration outside a transaction sets
// lock_timeout for its session too: behind a session that holds the table, up retries,
// names the session, and applies once it ends.
func TestOnlineWaitsBoundedBehindALock(t *testing.T) {
	longRun(t)
	t.Parallel()
	work, dbURL := onlineAt(t, onlineSeed)
	dir := filepath.Join(work, "migrations")
	if r := run(t, work, "up", "--to", "2", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	locker := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, locker, "BEGIN; LOCK TABLE projects IN SHARE ROW EXCLUSIVE MODE")
	time.AfterFunc(2500*time.Millisecond, func() { locker.Exec(context.Background(), "ROLLBACK") })
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir, "--lock-retries", "10", "--lock-backoff", "200ms")
	if r.code != 0 || !strings.Contains(r.stderr, "waiting: 00003_update_online.sql could not take a lock") ||
		!strings.Contains(r.stdout, "applied     00003_update_online.sql") {
		t.Fatalf("up behind a lock released after 2.5 s:\n%s", r)
	}
}

// TestOnlineUnvalidatedKeyIsReported: a foreign key added NOT VALID whose VALIDATE failed
// (a row references nothing) holds for new rows only; diff once said "no differences".
// It is now a finding, whose fix, once the row is mended, adds the key again and
// validates it.
func TestOnlineUnvalidatedKeyIsReported(t *testing.T) {
	t.Parallel()
	work, dbURL := onlineAt(t, onlineSeed+`; INSERT INTO todos (user_id, project_id, task) VALUES ('u1', 999, 'orphan')`)
	dir, schemaPath := filepath.Join(work, "migrations"), filepath.Join(work, "schema.yaml")
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != ExitError || !strings.Contains(r.stderr, "VALIDATE CONSTRAINT todos_project_id_fkey") {
		t.Fatalf("up over an orphan row:\n%s", r)
	}
	rep, d := diffReport(t, schemaPath, dbURL)
	if !slices.ContainsFunc(rep.Findings, func(f render.Finding) bool {
		return f.Kind == "column.references.add" && f.Object == "public.todos.project_id"
	}) {
		t.Fatalf("diff does not report the key left unvalidated:\n%s", d)
	}
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, `DELETE FROM todos WHERE project_id = 999`)
	fix := run(t, work, "diff", "--schema", schemaPath, "--database-url", dbURL, "--format", "sql")
	pgtest.RunScript(t, conn, fix.stdout)
	if rep, d := diffReport(t, schemaPath, dbURL); len(rep.Findings) != 0 {
		t.Fatalf("after the fix:\n%s\n%s", fix.stdout, d)
	}
	if n := queryInt(t, dbURL, `SELECT count(*) FROM pg_constraint WHERE conname = 'todos_project_id_fkey' AND convalidated`); n != 1 {
		t.Errorf("todos_project_id_fkey is not validated after the fix")
	}
}
