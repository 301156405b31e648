package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

const (
	runtimeRows  = 1_000_000
	runtimeUsers = 10_000
)

// runtimeSetup builds the runtime workload: the todos table made by up from schema.yaml,
// 1,000,000 rows across 10,000 users, and beside it two copies with the policy forms
// teams write by hand: the bare call of the Neon guide's SQL (no index on the owner
// column, as the guide shows) and the form of its Drizzle tab (with the index).
func runtimeSetup(b *testing.B) string {
	b.Helper()
	dbURL := upFrom(b, "testdata/generate/seed_todos/steps/01.yaml")
	conn := pgtest.Connect(b, dbURL)
	pgtest.MustExec(b, conn, fmt.Sprintf(`
		INSERT INTO todos (user_id, task, is_complete, inserted_at)
		SELECT 'user_' || (i %% %d), 'task ' || i, false, now() FROM generate_series(1, %d) i`, runtimeUsers, runtimeRows))
	for _, form := range []struct{ table, cond string }{
		{"todos_seed", "auth.user_id() = user_id"},
		{"todos_drizzle", "(select auth.user_id() = user_id)"},
	} {
		pgtest.MustExec(b, conn, fmt.Sprintf(`
			CREATE TABLE %[1]s (LIKE todos INCLUDING ALL);
			INSERT INTO %[1]s SELECT * FROM todos;
			SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), (SELECT max(id) FROM %[1]s));
			ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY;
			CREATE POLICY %[1]s_select ON %[1]s FOR SELECT TO authenticated USING (%[2]s);
			CREATE POLICY %[1]s_insert ON %[1]s FOR INSERT TO authenticated WITH CHECK (%[2]s);
			CREATE POLICY %[1]s_update ON %[1]s FOR UPDATE TO authenticated USING (%[2]s);
			CREATE POLICY %[1]s_delete ON %[1]s FOR DELETE TO authenticated USING (%[2]s);
			GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s TO authenticated`, form.table, form.cond))
	}
	var seedIndex string
	if err := conn.QueryRow(context.Background(), `SELECT indexrelid::regclass::text FROM pg_index
		WHERE indrelid = 'todos_seed'::regclass AND NOT indisprimary`).Scan(&seedIndex); err != nil {
		b.Fatal(err)
	}
	pgtest.MustExec(b, conn, "DROP INDEX "+seedIndex)
	pgtest.MustExec(b, conn, "VACUUM ANALYZE todos, todos_seed, todos_drizzle")
	return dbURL
}

// upFrom generates the migrations of the schema.yaml at src and applies them with up to
// a fresh database, whose URL it returns.
func upFrom(b *testing.B, src string) string {
	b.Helper()
	work := b.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(schemaPath, data, 0o644); err != nil {
		b.Fatal(err)
	}
	dbURL := pgtest.NewDB(b)
	var out, errOut strings.Builder
	for _, args := range [][]string{
		{"generate", "--schema", schemaPath, "--dir", dir},
		{"up", "--database-url", dbURL, "--dir", dir},
	} {
		if code := Run(context.Background(), args, &out, &errOut); code != 0 {
			b.Fatalf("%s: %s", args[0], errOut.String())
		}
	}
	return dbURL
}

// BenchmarkPolicies measures, for one random user per transaction, select *, select
// count(*), an update of one own row and an insert: on the hand-written floor (the table
// owner's indexed WHERE user_id = ...), through the policies rlsmigrate generates, and
// through the two hand-written forms. Only the statement is timed.
func BenchmarkPolicies(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 3 million rows")
	}
	dbURL := runtimeSetup(b)
	conn := pgtest.Connect(b, dbURL)
	forms := []struct{ name, table string }{
		{"floor", "todos"}, {"rlsmigrate", "todos"}, {"seed", "todos_seed"}, {"drizzle", "todos_drizzle"},
	}
	type args func(user string, ownRow int64) []any
	byUser := func(user string, _ int64) []any { return []any{user} }
	none := func(string, int64) []any { return nil }
	ops := []struct {
		name      string
		floor, as string // as the owner with the filter written out, and as the caller
		floorArgs args
		asArgs    args
	}{
		{"select", "SELECT * FROM %s WHERE user_id = $1", "SELECT * FROM %s", byUser, none},
		{"count", "SELECT count(*) FROM %s WHERE user_id = $1", "SELECT count(*) FROM %s", byUser, none},
		{"update", "UPDATE %s SET is_complete = NOT is_complete WHERE id = $1 AND user_id = $2",
			"UPDATE %s SET is_complete = NOT is_complete WHERE id = $1",
			func(u string, row int64) []any { return []any{row, u} },
			func(_ string, row int64) []any { return []any{row} }},
		{"insert", "INSERT INTO %s (user_id, task) VALUES ($1, 'new task')", "INSERT INTO %s (task) VALUES ('new task')", byUser, none},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, op := range ops {
		for _, form := range forms {
			b.Run(op.name+"/"+form.name, func(b *testing.B) {
				timeStatements(b, conn, func(_ int, tx pgx.Tx) (string, []any, func(int64) error) {
					k := rng.IntN(runtimeUsers)
					user, ownRow := fmt.Sprintf("user_%d", k), int64(k+runtimeUsers)
					sql, args := fmt.Sprintf(op.floor, form.table), op.floorArgs(user, ownRow)
					if form.name != "floor" {
						sql, args = fmt.Sprintf(op.as, form.table), op.asArgs(user, ownRow)
						actAs(b, tx, user)
					}
					return sql, args, func(n int64) error {
						if n == 0 {
							return fmt.Errorf("as %s: no rows", user)
						}
						return nil
					}
				})
			})
		}
	}
}

// actAs makes the rest of tx run as role authenticated with user's claims.
func actAs(b *testing.B, tx pgx.Tx, user string) {
	b.Helper()
	if _, err := tx.Exec(context.Background(), "SELECT set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)",
		fmt.Sprintf(`{"sub":%q}`, user)); err != nil {
		b.Fatal(err)
	}
}

// timeStatements times b.N statements, each in a transaction of its own rolled back
// after it: prepare sets the transaction up, outside the timer, and returns the
// statement, its arguments and the check of the rows it returned or changed. The
// client time of the statement alone, and the server's execution time of the same
// statement again under EXPLAIN ANALYZE (without the protocol around it), are reported
// as medians: they resist the odd slow statement (a checkpoint, a page read from disk)
// that would swing a mean over a few hundred fast ones.
func timeStatements(b *testing.B, conn *pgx.Conn, prepare func(i int, tx pgx.Tx) (string, []any, func(n int64) error)) {
	ctx := context.Background()
	var client, server []float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tx, err := conn.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		sql, args, check := prepare(i, tx)
		b.StartTimer()
		start := time.Now()
		n, err := execCount(ctx, tx, sql, args)
		client = append(client, float64(time.Since(start).Nanoseconds())/1e6)
		b.StopTimer()
		if err == nil {
			err = check(n)
		}
		if err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
		ms, err := executionMs(ctx, tx, sql, args)
		if err != nil {
			b.Fatal(err)
		}
		server = append(server, ms)
		tx.Rollback(ctx)
		b.StartTimer()
	}
	b.ReportMetric(median(client), "p50-ms")
	b.ReportMetric(median(server), "server-p50-ms")
}

// median returns the middle value of vs.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

// executionMs runs sql under EXPLAIN ANALYZE, without per-node timing (which would
// charge the policies' extra plan nodes for the clock reads), and returns the execution
// time the server reports, in milliseconds.
func executionMs(ctx context.Context, tx pgx.Tx, sql string, args []any) (float64, error) {
	var out []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
		return 0, err
	}
	var plans []struct {
		Execution float64 `json:"Execution Time"`
	}
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		return 0, fmt.Errorf("reading EXPLAIN output %q: %v", out, err)
	}
	return plans[0].Execution, nil
}

// execCount runs sql, reading every row it returns, and returns the rows read or affected.
func execCount(ctx context.Context, tx pgx.Tx, sql string, args []any) (int64, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	if tag := rows.CommandTag(); !tag.Select() {
		n = tag.RowsAffected()
	}
	return n, rows.Err()
}
