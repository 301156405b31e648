package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// manyTables returns a schema.yaml of n tables of the README's shape: the todos table,
// with the four ownership policies.
func manyTables(n int) string {
	var sb strings.Builder
	sb.WriteString("version: 1\nauth:\n  provider: pg_session_jwt\n  roles: [authenticated, anonymous]\ntables:\n")
	for i := range n {
		fmt.Fprintf(&sb, `  - name: todos_%d
    columns:
      - {name: id, type: bigint, identity: by default, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
      - {name: task, type: text, not_null: true}
      - {name: is_complete, type: boolean, not_null: true, default: "false"}
      - {name: inserted_at, type: timestamptz, not_null: true, default: now()}
    owner: user_id
    policies: owner
`, i)
	}
	return sb.String()
}

// builtMany writes manyTables(n) into a directory, generates its migration and, when
// dbURL is not empty, applies it there. It returns the schema path and the compiled schema.
func builtMany(tb testing.TB, n int, dbURL string) (string, *schema.Schema) {
	tb.Helper()
	work := tb.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	if err := os.WriteFile(schemaPath, []byte(manyTables(n)), 0o644); err != nil {
		tb.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := Run(context.Background(), []string{"generate", "--schema", schemaPath, "--dir", dir}, &out, &errOut); code != 0 {
		tb.Fatalf("generate: %s", errOut.String())
	}
	if dbURL != "" {
		if code := Run(context.Background(), []string{"up", "--database-url", dbURL, "--dir", dir}, &out, &errOut); code != 0 {
			tb.Fatalf("up: %s", errOut.String())
		}
	}
	f, err := policy.Load(schemaPath)
	if err != nil {
		tb.Fatal(err)
	}
	return schemaPath, compile.Compile(f)
}

// diffRoundTrips diffs a database of n tables against its schema and returns the round
// trips it took and the number of changes found.
func diffRoundTrips(t testing.TB, n int) (int64, int) {
	dbURL := pgtest.NewDB(t)
	_, desired := builtMany(t, n, dbURL)
	var c pgtest.Counter
	conn := pgtest.ConnectCounting(t, dbURL, &c)
	changes, err := diffDatabase(context.Background(), conn, desired, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Count(), len(changes)
}

// TestDiffRoundTripsConstant checks that diff's round trips to the server do not grow
// with the number of tables.
func TestDiffRoundTripsConstant(t *testing.T) {
	t.Parallel()
	small, changes := diffRoundTrips(t, 2)
	if changes != 0 {
		t.Fatalf("diff found %d changes on a database built from its schema", changes)
	}
	large, changes := diffRoundTrips(t, 60)
	if changes != 0 {
		t.Fatalf("diff found %d changes on a database built from its schema", changes)
	}
	if small != large {
		t.Errorf("diff took %d round trips for 2 tables and %d for 60", small, large)
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
					ch, err := diffDatabase(context.Background(), conn, desired, nil)
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
