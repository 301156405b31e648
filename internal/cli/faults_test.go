package cli

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// slowMigrations writes three migrations; the second holds its transaction open in
// pg_sleep so a fault can hit it halfway.
func slowMigrations(t *testing.T) (work, dir string) {
	work = t.TempDir()
	dir = filepath.Join(work, "migrations")
	writeMigrations(t, dir, map[string]string{
		"00001_a.sql":    "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
		"00002_slow.sql": "-- +goose Up\nCREATE TABLE slow (id int);\nINSERT INTO slow VALUES (1);\nSELECT pg_sleep(3);\n-- +goose Down\nDROP TABLE slow;\n",
		"00003_c.sql":    "-- +goose Up\nCREATE TABLE c (id int);\nINSERT INTO c VALUES (1);\n-- +goose Down\nDROP TABLE c;\n",
	})
	return work, dir
}

// waitForSleep returns the pid of the backend running the slow migration's pg_sleep.
func waitForSleep(t *testing.T, dbURL string) int {
	t.Helper()
	conn := pgtest.Connect(t, dbURL)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var pid int
		err := conn.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(3)%' AND state = 'active'`).Scan(&pid)
		if err == nil {
			return pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the slow migration never started")
	return 0
}

// checkAppliedOnce checks that the database is at version 3 with every migration applied
// exactly once.
func checkAppliedOnce(t *testing.T, dbURL string) {
	t.Helper()
	if n := queryInt(t, dbURL, "SELECT count(*) FROM (SELECT version_id FROM goose_db_version WHERE version_id > 0 GROUP BY version_id HAVING count(*) = 1) v"); n != 3 {
		t.Errorf("%d versions recorded exactly once, want 3", n)
	}
	if n := queryInt(t, dbURL, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n != 3 {
		t.Errorf("goose recorded %d applications, want 3", n)
	}
	if n := queryInt(t, dbURL, "SELECT (SELECT count(*) FROM slow) + (SELECT count(*) FROM c)"); n != 2 {
		t.Errorf("the migrations' rows: %d, want 2 (one each)", n)
	}
}

func TestUpKilledMidMigrationThenRerun(t *testing.T) {
	longRun(t)
	t.Parallel()
	bin := buildBinary(t)
	work, dir := slowMigrations(t)
	dbURL := pgtest.NewDB(t)
	cmd := exec.Command(bin, "up", "--database-url", dbURL, "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForSleep(t, dbURL)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The killed run's backend still holds the lock until its transaction ends; the rerun
	// waits for it, then applies what is left.
	r := run(t, work, "up", "--database-url", dbURL, "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "the database is at version 3") {
		t.Fatalf("rerun after SIGKILL:\n%s", r)
	}
	checkAppliedOnce(t, dbURL)
}

func TestUpConnectionTerminatedThenRerun(t *testing.T) {
	longRun(t)
	t.Parallel()
	work, dir := slowMigrations(t)
	dbURL := pgtest.NewDB(t)
	done := make(chan result)
	go func() { done <- run(t, work, "up", "--database-url", dbURL, "--dir", dir) }()
	pid := waitForSleep(t, dbURL)
	if n := queryInt(t, dbURL, fmt.Sprintf("SELECT count(*) FROM (SELECT pg_terminate_backend(%d)) x", pid)); n != 1 {
		t.Fatal("pg_terminate_backend")
	}
	r := <-done
	if r.code != ExitError || !strings.Contains(r.stderr, "migrations/00002_slow.sql failed") ||
		!strings.Contains(r.stderr, "terminating connection due to administrator command") {
		t.Errorf("up whose connection was cut: want exit 2 naming the migration and the cause:\n%s", r)
	}
	if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
		t.Fatalf("rerun after the cut:\n%s", r)
	}
	checkAppliedOnce(t, dbURL)
}
