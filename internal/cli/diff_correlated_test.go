package cli

import (
	"context"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
	"strings"
	"testing"
)

// TestDiffCorrelatedPolicies: policies whose subquery names their own table, or
// correlates with the policy's table, used to differ from their stand-ins (a false
// policy.alter on every run, and --format sql naming the temporary table); a policy that
// failed on its stand-in left the table's columns unnormalised (a false column.type).
func TestDiffCorrelatedPolicies(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/correlated.yaml")
	dbURL := b.database(t)
	rep, r := diffReport(t, b.schema, dbURL)
	if r.code != 0 || len(rep.Findings) != 0 {
		t.Fatalf("diff on a database up built:\n%s", r)
	}
	// Break one correlated policy: the finding and its fix name real tables only.
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `DROP POLICY notes_select_rule ON notes; CREATE POLICY notes_select_rule ON notes FOR SELECT TO authenticated USING (true)`)
	sql := run(t, b.work, "diff", "--schema", b.schema, "--database-url", dbURL, "--format", "sql")
	if sql.code != 1 || strings.Contains(sql.stdout, "rlsmigrate_n") || !strings.Contains(sql.stdout, "notes.team_id") {
		t.Fatalf("diff --format sql after a change:\n%s", sql)
	}
	pgtest.RunScript(t, pgtest.Connect(t, dbURL), sql.stdout)
	if rep, r := diffReport(t, b.schema, dbURL); r.code != 0 || len(rep.Findings) != 0 {
		t.Fatalf("diff after applying its own fix:\n%s", r)
	}
}

// TestNormalizeCancelledMidway: a context that ends while the stand-ins are being
// created is an error, never a reason to retry statement by statement (which then
// panicked on a nil transaction). The stand-in policies read teams, which another session
// holds locked, so creating them waits until the deadline.
func TestNormalizeCancelledMidway(t *testing.T) {
	longRun(t)
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/correlated.yaml")
	dbURL := b.database(t)
	f, err := policy.Load(b.schema)
	if err != nil {
		t.Fatal(err)
	}
	locker := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, locker, "BEGIN; LOCK TABLE teams IN ACCESS EXCLUSIVE MODE")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	desired, err := compile.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = inspect.Normalize(ctx, pgtest.Connect(t, dbURL), desired)
	if err == nil || !strings.Contains(err.Error(), "normalising") {
		t.Fatalf("Normalize cancelled midway: %v, want an error", err)
	}
	// Again, with a first statement that fails at once (a default calling a function the
	// database lacks): the statement-by-statement retry then waits on the lock, and its
	// failure must not leave a nil transaction to roll back.
	bad := &schema.Table{Schema: "public", Name: "bad", Columns: []*schema.Column{{Name: "x", Type: "integer", Default: "no_such_function()"}}}
	desired.Tables = append([]*schema.Table{bad}, desired.Tables...)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err = inspect.Normalize(ctx, pgtest.Connect(t, dbURL), desired); err == nil {
		t.Fatal("Normalize cancelled in its retry: no error")
	}
	pgtest.MustExec(t, locker, "ROLLBACK")
}
