package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// lockedSecondMigration builds a database at the first of two migrations (a table, then
// a column added to it, with lock_timeout 200ms) and opens a session that holds a lock on
// the table, as a long transaction of the app would. It returns the work directory, the
// database and the locking connection.
func lockedSecondMigration(t *testing.T) (work, dbURL string, release func()) {
	work = t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	v1 := "version: 1\nlock_timeout: 200ms\n" + strings.TrimPrefix(table("name: t", idCol, "policies: anyone"), "version: 1\n")
	v2 := "version: 1\nlock_timeout: 200ms\n" + strings.TrimPrefix(table("name: t", idCol+"\n{name: note, type: text}", "policies: anyone"), "version: 1\n")
	dbURL = pgtest.NewDB(t)
	for i, src := range []string{v1, v2} {
		writeFiles(t, work, map[string]string{"schema.yaml": src})
		if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
			t.Fatal(r)
		}
		if i == 0 {
			if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
				t.Fatal(r)
			}
		}
	}
	locker := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, locker, "BEGIN; LOCK TABLE t IN ACCESS SHARE MODE")
	return work, dbURL, func() { locker.Exec(context.Background(), "ROLLBACK") }
}

// TestUpRetriesOnLockTimeout: a migration waited unbounded behind another session's
// lock, and every query on the table queued behind it. Now each attempt waits at most
// lock_timeout; up reports the wait, names the session, and retries until it gets in.
func TestUpRetriesOnLockTimeout(t *testing.T) {
	longRun(t)
	t.Parallel()
	work, dbURL, release := lockedSecondMigration(t)
	time.AfterFunc(1500*time.Millisecond, release)
	start := time.Now()
	r := run(t, work, "up", "--database-url", dbURL, "--dir", filepath.Join(work, "migrations"), "--lock-retries", "10", "--lock-backoff", "100ms")
	if r.code != 0 || !strings.Contains(r.stderr, "waiting: 00002_alter_t.sql could not take a lock within its lock_timeout") ||
		!strings.Contains(r.stderr, "LOCK TABLE t IN ACCESS SHARE MODE") || !strings.Contains(r.stdout, "applied     00002_alter_t.sql") {
		t.Fatalf("up behind a lock released after 1.5 s:\n%s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("up took %s", d)
	}
}

// TestUpGivesUpOnLock: with the lock never released, up stops after its retries with
// exit 2, the statement, and the session to end.
func TestUpGivesUpOnLock(t *testing.T) {
	longRun(t)
	t.Parallel()
	work, dbURL, release := lockedSecondMigration(t)
	defer release()
	r := run(t, work, "up", "--database-url", dbURL, "--dir", filepath.Join(work, "migrations"), "--lock-retries", "2", "--lock-backoff", "50ms")
	if r.code != ExitError || strings.Count(r.stderr, "waiting: ") != 2 || !strings.Contains(r.stderr, "lock timeout (SQLSTATE 55P03)") ||
		!strings.Contains(r.stderr, "gave up after 3 attempt(s)") || !strings.Contains(r.stderr, "idle in transaction") {
		t.Fatalf("up behind a lock never released:\n%s", r)
	}
	if n := queryInt(t, dbURL, "SELECT max(version_id) FROM goose_db_version"); n != 1 {
		t.Errorf("the database is at version %d, want 1", n)
	}
}
