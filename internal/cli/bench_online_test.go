package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// The existing app's table, before and after it is put under rlsmigrate.
const (
	onlineBefore = `version: 1
tables:
  - name: todos
    rls: false
    columns:
      - {name: id, type: bigint, identity: by default, primary_key: true}
      - {name: user_id, type: text, not_null: true}
      - {name: task, type: text, not_null: true}
      - {name: is_complete, type: boolean, not_null: true, default: "false"}
      - {name: inserted_at, type: timestamptz, not_null: true, default: now()}
`
	onlineAfter = `version: 1
lock_timeout: 1s
tables:
  - name: todos
    columns:
      - {name: id, type: bigint, identity: by default, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
      - {name: task, type: text, not_null: true}
      - {name: is_complete, type: boolean, not_null: true, default: "false"}
      - {name: inserted_at, type: timestamptz, not_null: true, default: now()}
    owner: user_id
    policies: owner
`
	// onlineNaive is the same change as the seed guide's SQL runs it: one transaction,
	// a plain CREATE INDEX.
	onlineNaive = `BEGIN;
CREATE INDEX todos_user_id_idx ON todos (user_id);
ALTER TABLE todos ALTER COLUMN user_id SET DEFAULT auth.user_id();
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY todos_select_owner ON todos FOR SELECT TO authenticated USING ((select auth.user_id()) = user_id);
CREATE POLICY todos_insert_owner ON todos FOR INSERT TO authenticated WITH CHECK ((select auth.user_id()) = user_id);
CREATE POLICY todos_update_owner ON todos FOR UPDATE TO authenticated USING ((select auth.user_id()) = user_id) WITH CHECK ((select auth.user_id()) = user_id);
CREATE POLICY todos_delete_owner ON todos FOR DELETE TO authenticated USING ((select auth.user_id()) = user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON todos TO authenticated;
COMMIT;`
)

// onlineSetup builds an app database at onlineBefore with rows, and the migrations to
// onlineAfter (the first in a transaction, the second, the owner index,
// CONCURRENTLY). It returns the work directory and the database.
func onlineSetup(b *testing.B, rows int) (string, string) {
	b.Helper()
	work := b.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	dbURL := pgtest.NewDB(b)
	var out, errOut strings.Builder
	for i, src := range []string{onlineBefore, onlineAfter} {
		if err := os.WriteFile(schemaPath, []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
		args := [][]string{{"generate", "--schema", schemaPath, "--dir", dir, "--allow-destructive"}}
		if i == 0 {
			args = append(args, []string{"up", "--database-url", dbURL, "--dir", dir})
		}
		for _, a := range args {
			if code := Run(context.Background(), a, &out, &errOut); code != 0 {
				b.Fatalf("%s: %s", a[0], errOut.String())
			}
		}
	}
	conn := pgtest.Connect(b, dbURL)
	pgtest.MustExec(b, conn, fmt.Sprintf(`INSERT INTO todos (user_id, task)
		SELECT 'user_' || (i %% 10000), 'task ' || i FROM generate_series(1, %d) i`, rows))
	pgtest.MustExec(b, conn, "VACUUM ANALYZE todos")
	return work, dbURL
}

// writers is a steady write load: clients each doing, at a fixed rate, one single-row
// insert or update in its own transaction, recording its latency.
type writers struct {
	mu        sync.Mutex
	latencies []time.Duration
	failed    int
	stop      chan struct{}
	done      sync.WaitGroup
}

// startWriters starts n clients on dbURL, each writing every interval, ids below maxID.
func startWriters(b *testing.B, dbURL string, n int, interval time.Duration, maxID int) *writers {
	w := &writers{stop: make(chan struct{})}
	for i := range n {
		conn := pgtest.Connect(b, dbURL)
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-w.stop:
					return
				case <-tick.C:
				}
				start := time.Now()
				var err error
				if rng.IntN(2) == 0 {
					_, err = conn.Exec(context.Background(), "INSERT INTO todos (user_id, task) VALUES ($1, 'new')", fmt.Sprintf("user_%d", rng.IntN(10000)))
				} else {
					_, err = conn.Exec(context.Background(), "UPDATE todos SET is_complete = NOT is_complete WHERE id = $1", 1+rng.IntN(maxID))
				}
				w.mu.Lock()
				w.latencies = append(w.latencies, time.Since(start))
				if err != nil {
					w.failed++
				}
				w.mu.Unlock()
			}
		}()
	}
	return w
}

// take returns the latencies and failures recorded since the last take.
func (w *writers) take() ([]time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, f := w.latencies, w.failed
	w.latencies, w.failed = nil, 0
	return l, f
}

func (w *writers) close() {
	close(w.stop)
	w.done.Wait()
}

// latencyStats returns p50, p99 and max in milliseconds.
func latencyStats(ls []time.Duration) (p50, p99, maxMs float64) {
	if len(ls) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ls)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(s[len(s)/2]), ms(s[len(s)*99/100]), ms(s[len(s)-1])
}

// BenchmarkOnlineUp puts a table of RLSMIGRATE_BENCH_ROWS rows (default 5,000,000) that
// has no row-level security under rlsmigrate (the owner index, RLS, four owner policies,
// grants) while 4 clients write 50 times a second each, and reports the writers'
// latency (p50, p99, max) and failed writes: with nothing running (baseline), during
// rlsmigrate up, and during the same DDL in one transaction as the seed guide's SQL
// runs it (naive). Then again with an idle-in-transaction session holding a lock on
// the table for 10 s: up waits at most its lock_timeout each try and retries, the naive
// path queues every writer behind it. Each scenario gets a fresh database.
func BenchmarkOnlineUp(b *testing.B) {
	if testing.Short() {
		b.Skip("builds millions of rows")
	}
	rows := envInt("RLSMIGRATE_BENCH_ROWS", 5_000_000)
	ctx := context.Background()
	for _, idle := range []bool{false, true} {
		for _, path := range []string{"rlsmigrate", "naive"} {
			name := path
			if idle {
				name += "/idle-in-transaction"
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					work, dbURL := onlineSetup(b, rows)
					w := startWriters(b, dbURL, 4, 20*time.Millisecond, rows)
					time.Sleep(3 * time.Second)
					base, _ := w.take()
					var release func()
					if idle {
						holder := pgtest.Connect(b, dbURL)
						pgtest.MustExec(b, holder, "BEGIN; SELECT count(*) FROM todos WHERE id = 1")
						timer := time.AfterFunc(10*time.Second, func() { holder.Exec(context.Background(), "ROLLBACK") })
						release = func() { timer.Stop(); holder.Exec(context.Background(), "ROLLBACK") }
					}
					b.StartTimer()
					start := time.Now()
					if path == "rlsmigrate" {
						var out, errOut strings.Builder
						if code := Run(ctx, []string{"up", "--database-url", dbURL, "--dir", filepath.Join(work, "migrations"),
							"--lock-retries", "20", "--lock-backoff", "500ms"}, &out, &errOut); code != 0 {
							b.Fatalf("up: %s", errOut.String())
						}
					} else {
						conn, err := pgx.Connect(ctx, dbURL)
						if err != nil {
							b.Fatal(err)
						}
						pgtest.MustExec(b, conn, onlineNaive)
						conn.Close(ctx)
					}
					took := time.Since(start)
					b.StopTimer()
					time.Sleep(500 * time.Millisecond)
					during, failed := w.take()
					w.close()
					if release != nil {
						release()
					}
					b50, b99, bmax := latencyStats(base)
					p50, p99, pmax := latencyStats(during)
					b.ReportMetric(took.Seconds(), "migration-s")
					b.ReportMetric(b50, "base-p50-ms")
					b.ReportMetric(b99, "base-p99-ms")
					b.ReportMetric(bmax, "base-max-ms")
					b.ReportMetric(p50, "p50-ms")
					b.ReportMetric(p99, "p99-ms")
					b.ReportMetric(pmax, "max-ms")
					b.ReportMetric(float64(failed), "failed-writes")
					b.ReportMetric(float64(len(during)), "writes")
					b.StartTimer()
				}
			})
		}
	}
}
