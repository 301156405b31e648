package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestCopyColumnKeepsStep adds a copy column to a table that holds rows, through a
// migration, and checks what the triggers promise on a real database: the rows held
// are filled; a task follows its project into another organisation and out of its
// members' sight; a task moved to another project, or whose project is deleted, takes
// the new value; a caller cannot write the copy, nor get a task into another
// organisation's project by giving it one; a change of a project's organisation made
// while a task is being added to it reaches that task (the fill locks the project row);
// down and up again fill the column anew; diff stays empty.
func TestCopyColumnKeepsStep(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	work := t.TempDir()
	steps := filepath.Join("testdata", "generate", "copy_columns", "steps")
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	apply := func(step string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(steps, step))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
		if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
			t.Fatalf("generate %s: %s", step, r)
		}
		if r := run(t, work, "up", "--database-url", dbURL, "--dir", dir); r.code != 0 {
			t.Fatalf("up %s: %s", step, r)
		}
	}
	apply("01.yaml")
	ctx := context.Background()
	conn := pgtest.Connect(t, dbURL)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO memberships VALUES (1, 'alice'), (2, 'bob');
		INSERT INTO projects (id, org_id) OVERRIDING SYSTEM VALUE VALUES (10, 1), (20, 2), (30, 2);
		INSERT INTO tasks (id, project_id, title) OVERRIDING SYSTEM VALUE VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c'), (4, 30, 'd');
		SELECT setval(pg_get_serial_sequence('tasks', 'id'), 100)`)
	apply("02.yaml")

	copies := func() string {
		t.Helper()
		var s string
		if err := conn.QueryRow(ctx, `SELECT string_agg(id || ':' || coalesce(org_id::text, '-'), ' ' ORDER BY id) FROM tasks`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := func(what, wantCopies string) {
		t.Helper()
		if got := copies(); got != wantCopies {
			t.Errorf("%s: tasks' org_id are %s, want %s", what, got, wantCopies)
		}
	}
	sees := func(user string) string {
		t.Helper()
		var s string
		asUser(t, conn, user, false, func(ctx context.Context, tx pgx.Tx) {
			if err := tx.QueryRow(ctx, `SELECT coalesce(string_agg(id::text, ' ' ORDER BY id), '') FROM tasks`).Scan(&s); err != nil {
				t.Fatal(err)
			}
		})
		return s
	}
	want("the migration fills the rows held", "1:1 2:2 3:- 4:2")
	if a, b := sees("alice"), sees("bob"); a != "1" || b != "2 4" {
		t.Errorf("alice sees tasks %q, bob %q; want 1, and 2 4", a, b)
	}

	asUser(t, conn, "alice", false, func(ctx context.Context, tx pgx.Tx) {
		for _, sql := range []string{
			"UPDATE tasks SET org_id = 2 WHERE id = 1",                          // no UPDATE on the copy
			"INSERT INTO tasks (project_id, title) VALUES (20, 'x')",            // bob's project
			"INSERT INTO tasks (project_id, title, org_id) VALUES (20, 'x', 1)", // the copy given is not taken
		} {
			if ok, err := refused(ctx, tx, sql); !ok {
				t.Errorf("alice: %s was not refused (%v)", sql, err)
			}
		}
		var org int
		if err := tx.QueryRow(ctx, "INSERT INTO tasks (project_id, title) VALUES (10, 'mine') RETURNING org_id").Scan(&org); err != nil || org != 1 {
			t.Errorf("alice's task in her project: org_id %d, %v; want 1", org, err)
		}
	})

	exec("UPDATE projects SET org_id = 2 WHERE id = 10")
	want("a project moved to another organisation", "1:2 2:2 3:- 4:2")
	if a, b := sees("alice"), sees("bob"); a != "" || b != "1 2 4" {
		t.Errorf("after the move alice sees %q, bob %q; want nothing, and 1 2 4", a, b)
	}
	exec("UPDATE projects SET org_id = 1 WHERE id = 10; UPDATE tasks SET project_id = 10 WHERE id = 3; DELETE FROM projects WHERE id = 30")
	want("moved back; a task given a project; a project deleted", "1:1 2:2 3:1 4:-")

	// A change of a project's organisation while a task is being added to it.
	adder := pgtest.Connect(t, dbURL)
	tx, err := adder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) // once committed, a no-op
	if _, err := tx.Exec(ctx, "INSERT INTO tasks (id, project_id, title) OVERRIDING SYSTEM VALUE VALUES (5, 10, 'racing')"); err != nil {
		t.Fatal(err)
	}
	mover := pgtest.Connect(t, dbURL)
	moved := make(chan error, 1)
	go func() {
		_, err := mover.Exec(ctx, "UPDATE projects SET org_id = 2 WHERE id = 10")
		moved <- err
	}()
	var moveErr error
	select {
	case moveErr = <-moved:
		t.Fatalf("the project moved (%v) while a task being added to it held it: the task would keep the old organisation", moveErr)
	case <-time.After(300 * time.Millisecond):
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		moveErr = <-moved
	}
	if moveErr != nil {
		t.Fatal(moveErr)
	}
	want("a task added while its project moved", "1:2 2:2 3:2 4:- 5:2")

	for _, args := range [][]string{{"down", "--to", "1"}, {"up"}} {
		if r := run(t, work, append(args, "--database-url", dbURL, "--dir", dir)...); r.code != 0 {
			t.Fatalf("%s: %s", strings.Join(args, " "), r)
		}
	}
	want("down and up again", "1:2 2:2 3:2 4:- 5:2")
	if rep, r := diffReport(t, schemaPath, dbURL); len(rep.Findings) != 0 || r.code != 0 {
		t.Errorf("diff after up:\n%s", r)
	}
}
