package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// builtManyDir writes schemagen.Todos(n) into a directory and generates its migration; it
// returns the schema path and the migrations directory.
func builtManyDir(tb testing.TB, n int) (string, string) {
	tb.Helper()
	work := tb.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	if err := os.WriteFile(schemaPath, []byte(schemagen.Todos(n)), 0o644); err != nil {
		tb.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := Run(context.Background(), []string{"generate", "--schema", schemaPath, "--dir", dir}, &out, &errOut); code != 0 {
		tb.Fatalf("generate: %s", errOut.String())
	}
	return schemaPath, dir
}

// builtMany builds schemagen.Todos(n) with builtManyDir and, when dbURL is not empty, applies
// it there. It returns the schema path and the compiled schema.
func builtMany(tb testing.TB, n int, dbURL string) (string, *schema.Schema) {
	tb.Helper()
	schemaPath, dir := builtManyDir(tb, n)
	var out, errOut strings.Builder
	if dbURL != "" {
		if code := Run(context.Background(), []string{"up", "--database-url", dbURL, "--dir", dir}, &out, &errOut); code != 0 {
			tb.Fatalf("up: %s", errOut.String())
		}
	}
	f, err := policy.Load(schemaPath)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := compile.Compile(f)
	if err != nil {
		tb.Fatal(err)
	}
	return schemaPath, s
}

// diffRoundTrips diffs a database of n tables against its schema and returns the round
// trips it took, the number of changes found, and the stand-in tables it created.
func diffRoundTrips(t testing.TB, n int) (int64, int, int) {
	dbURL := pgtest.NewDB(t)
	_, desired := builtMany(t, n, dbURL)
	var c pgtest.Counter
	conn := pgtest.ConnectCounting(t, dbURL, &c)
	changes, err := diffDatabase(context.Background(), conn, nil, desired, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	standIns := 0
	for _, sql := range c.SQL() {
		standIns += strings.Count(sql, "CREATE TEMP TABLE")
	}
	return c.Count(), len(changes), standIns
}

// TestDiffRoundTripsConstant checks that diff's round trips to the server do not grow
// with the number of tables, nor its stand-in tables with the number of tables of one
// shape (one per table made diff of 1,000 tables take 26 s instead of 0.12 s).
func TestDiffRoundTripsConstant(t *testing.T) {
	t.Parallel()
	small, changes, _ := diffRoundTrips(t, 2)
	if changes != 0 {
		t.Fatalf("diff found %d changes on a database built from its schema", changes)
	}
	large, changes, standIns := diffRoundTrips(t, 60)
	if changes != 0 {
		t.Fatalf("diff found %d changes on a database built from its schema", changes)
	}
	if small != large {
		t.Errorf("diff took %d round trips for 2 tables and %d for 60", small, large)
	}
	if standIns != 1 {
		t.Errorf("diff created %d stand-in tables for 60 tables of one shape, want 1", standIns)
	}
	t.Logf("diff round trips: %d", large)
}

// BenchmarkDiff measures diff against databases of 100 and 1,000 tables of the README's
// shape, matching and with one policy changed.
func BenchmarkDiff(b *testing.B) {
	for _, n := range []int{100, 1000} {
		dbURL := pgtest.NewDB(b)
		_, desired := builtMany(b, n, dbURL)
		for _, mutated := range []bool{false, true} {
			name := fmt.Sprintf("tables=%d/matching", n)
			if mutated {
				pgtest.MustExec(b, pgtest.Connect(b, dbURL), `ALTER POLICY todos_0_select_owner ON todos_0 USING (true)`)
				name = fmt.Sprintf("tables=%d/one-change", n)
			}
			b.Run(name, func(b *testing.B) {
				var c pgtest.Counter
				conn := pgtest.ConnectCounting(b, dbURL, &c)
				var changes int
				for b.Loop() {
					ch, err := diffDatabase(context.Background(), conn, nil, desired, nil, true)
					if err != nil {
						b.Fatal(err)
					}
					changes = len(ch)
				}
				if want := map[bool]int{false: 0, true: 1}[mutated]; changes != want {
					b.Fatalf("diff found %d changes, want %d", changes, want)
				}
				b.ReportMetric(float64(c.Count())/float64(b.N), "roundtrips/op")
			})
		}
	}
}

// pullRoundTrips pulls a database of n tables that rlsmigrate built and returns the
// round trips it took and the changes its report announces.
func pullRoundTrips(t testing.TB, n int) (int64, int) {
	dbURL := pgtest.NewDB(t)
	builtMany(t, n, dbURL)
	var c pgtest.Counter
	conn := pgtest.ConnectCounting(t, dbURL, &c)
	_, changes, err := pullDatabase(context.Background(), conn, []string{"public"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Count(), len(changes)
}

// TestPullRoundTripsConstant checks that pull (with the diff its report runs) takes
// the same number of round trips whatever the number of tables.
func TestPullRoundTripsConstant(t *testing.T) {
	t.Parallel()
	small, changes := pullRoundTrips(t, 2)
	if changes != 0 {
		t.Fatalf("pull announced %d changes on a database rlsmigrate built", changes)
	}
	large, changes := pullRoundTrips(t, 60)
	if changes != 0 {
		t.Fatalf("pull announced %d changes on a database rlsmigrate built", changes)
	}
	if small != large {
		t.Errorf("pull took %d round trips for 2 tables and %d for 60", small, large)
	}
	t.Logf("pull round trips: %d", large)
}

// BenchmarkPull measures pull (inspect, the file, and the diff of its report) on
// databases of 100 and 1,000 tables of the README's shape; run it beside
// BenchmarkDiff/tables=N/matching, the same database diffed, for the ratio.
func BenchmarkPull(b *testing.B) {
	for _, n := range []int{100, 1000} {
		dbURL := pgtest.NewDB(b)
		builtMany(b, n, dbURL)
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			var c pgtest.Counter
			conn := pgtest.ConnectCounting(b, dbURL, &c)
			for b.Loop() {
				if _, changes, err := pullDatabase(context.Background(), conn, []string{"public"}); err != nil || len(changes) != 0 {
					b.Fatalf("pull: %v, %d changes announced", err, len(changes))
				}
			}
			b.ReportMetric(float64(c.Count())/float64(b.N), "roundtrips/op")
		})
	}
}

// BenchmarkVerify measures verify, the whole command, on databases of 100 and 1,000
// tables of the README's shape that up built: rows for the synthetic users, every
// operation as each caller, all rolled back.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			dbURL := pgtest.NewDB(b)
			schemaPath, _ := builtMany(b, n, dbURL)
			var out, errOut strings.Builder
			for b.Loop() {
				out.Reset()
				if code := Run(context.Background(), []string{"verify", "--schema", schemaPath, "--database-url", dbURL}, &out, &errOut); code != 0 {
					b.Fatalf("verify exit %d: %s%s", code, out.String(), errOut.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/table")
		})
	}
}

// BenchmarkGenerate measures generate, from reading schema.yaml to writing the migration,
// for schemas of 10 to 10,000 tables of the README's shape.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("tables=%d", n), func(b *testing.B) {
			work := b.TempDir()
			schemaPath := filepath.Join(work, "schema.yaml")
			if err := os.WriteFile(schemaPath, []byte(schemagen.Todos(n)), 0o644); err != nil {
				b.Fatal(err)
			}
			var out, errOut strings.Builder
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				dir := filepath.Join(work, fmt.Sprintf("m%d", i))
				if code := Run(context.Background(), []string{"generate", "--schema", schemaPath, "--dir", dir}, &out, &errOut); code != 0 {
					b.Fatalf("generate: %s", errOut.String())
				}
				os.RemoveAll(dir)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/table")
		})
		// The pull-request check: read the state the migrations build and find nothing
		// new. Then the same with schema.yaml byte for byte the one the state was
		// recorded from, by a build that names itself (a release, or a build from a clean
		// checkout): generate trusts the state and compiles nothing.
		for _, trusted := range []bool{false, true} {
			name := map[bool]string{false: "no-changes", true: "unchanged"}[trusted]
			b.Run(fmt.Sprintf("tables=%d/%s", n, name), func(b *testing.B) {
				if trusted {
					saved := buildIdentity
					defer func() { buildIdentity = saved }()
					buildIdentity = func() string { return "bench" }
				}
				schemaPath, dir := builtManyDir(b, n)
				var out, errOut strings.Builder
				b.ReportAllocs()
				for b.Loop() {
					if code := Run(context.Background(), []string{"generate", "--check", "--schema", schemaPath, "--dir", dir}, &out, &errOut); code != 0 {
						b.Fatalf("generate --check: %s%s", out.String(), errOut.String())
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/table")
			})
		}
	}
}

// BenchmarkUp compares, in one run, applying the initial migration of 1,000 tables with
// rlsmigrate up and feeding the same statements (the file's Up section) to psql in one
// transaction. With -count, the two alternate.
func BenchmarkUp(b *testing.B) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Skip("psql not found")
	}
	work := b.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	if err := os.WriteFile(schemaPath, []byte(schemagen.Todos(1000)), 0o644); err != nil {
		b.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := Run(context.Background(), []string{"generate", "--schema", schemaPath, "--dir", dir}, &out, &errOut); code != 0 {
		b.Fatal(errOut.String())
	}
	file := filepath.Join(work, "up.sql")
	if err := os.WriteFile(file, []byte(upSection(b, filepath.Join(dir, "00001_init.sql"))), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, tool := range []string{"rlsmigrate", "psql"} {
		b.Run("tables=1000/"+tool, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dbURL := pgtest.NewDB(b)
				b.StartTimer()
				if tool == "psql" {
					cmd := exec.Command(psql, "-q", "-X", "-v", "ON_ERROR_STOP=1", "-1", "-f", file, dbURL)
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("psql: %v\n%s", err, out)
					}
					continue
				}
				if code := Run(context.Background(), []string{"up", "--database-url", dbURL, "--dir", dir}, &out, &errOut); code != 0 {
					b.Fatal(errOut.String())
				}
			}
		})
	}
}

// upSection returns the statements of a goose file's Up section, without goose's
// annotations: what psql must run to do the same work as up.
func upSection(tb testing.TB, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	_, up, ok := strings.Cut(string(data), "-- +goose Up\n")
	if !ok {
		tb.Fatalf("%s has no Up section", path)
	}
	up, _, _ = strings.Cut(up, "-- +goose Down\n")
	var lines []string
	for _, l := range strings.Split(up, "\n") {
		if !strings.HasPrefix(l, "-- +goose ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// verifyRoundTrips runs verify on a database of n tables of the README's shape and
// returns the round trips it took.
func verifyRoundTrips(t *testing.T, n int) int64 {
	dbURL := pgtest.NewDB(t)
	path, desired := builtMany(t, n, dbURL)
	f, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var c pgtest.Counter
	conn := pgtest.ConnectCounting(t, dbURL, &c)
	if _, err := verify.Run(context.Background(), conn, f, desired, "authenticated", nil); err != nil {
		t.Fatal(err)
	}
	return c.Count()
}

// TestVerifyRoundTripsPerTable: verify's round trips grow by a fixed number per table
// (its attempts on that table), 72 for the README's shape; each attempt's savepoint
// carries its first statements (97 before).
func TestVerifyRoundTripsPerTable(t *testing.T) {
	t.Parallel()
	small, large := verifyRoundTrips(t, 2), verifyRoundTrips(t, 12)
	if per := (large - small) / 10; per > 72 || (large-small)%10 != 0 {
		t.Errorf("verify took %d round trips for 2 tables and %d for 12: %d per table, want a fixed 72 or fewer", small, large, per)
	}
}
