package cli

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestHelperReadsInItsSnapshot: with a helper, inspect.Inspect reads the policies on the
// helper's connection and everything else on its own, both in the snapshot the helper
// exported: a table and a policy created after the export are not seen, by either
// connection. A helper whose snapshot can no longer be read in (its transaction ended)
// makes Inspect read everything on its own connection, with no error.
func TestHelperReadsInItsSnapshot(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDB(t)
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, `CREATE TABLE a (id int, user_id text);
		ALTER TABLE a ENABLE ROW LEVEL SECURITY;
		CREATE POLICY p1 ON a USING (user_id = current_user)`)
	exported := func() (*inspect.Helper, *pgx.Conn) {
		hconn := pgtest.Connect(t, dbURL)
		h, err := inspect.Export(ctx, hconn)
		if err != nil {
			t.Fatal(err)
		}
		return h, hconn
	}
	helper, _ := exported()
	stale, staleConn := exported()
	if _, err := staleConn.Exec(ctx, "COMMIT"); err != nil { // the snapshot goes with it
		t.Fatal(err)
	}
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `CREATE TABLE b (id int);
		ALTER TABLE b ENABLE ROW LEVEL SECURITY;
		CREATE POLICY pb ON b USING (true);
		CREATE POLICY p2 ON a USING (false)`)
	seen := func(h *inspect.Helper) map[string][]string {
		t.Helper()
		s, _, err := inspect.Inspect(ctx, conn, inspect.Options{Schemas: []string{"public"}, Helper: h})
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		out := map[string][]string{}
		for _, tb := range s.Tables {
			out[tb.Name] = []string{}
			for _, p := range tb.Policies {
				out[tb.Name] = append(out[tb.Name], p.Name)
			}
		}
		return out
	}
	now := map[string][]string{"a": {"p1", "p2"}, "b": {"pb"}}
	for _, tc := range []struct {
		name   string
		helper *inspect.Helper
		want   map[string][]string
	}{
		{"one connection", nil, now},
		{"helper", helper, map[string][]string{"a": {"p1"}}},
		{"helper whose snapshot is gone", stale, now},
	} {
		got := seen(tc.helper)
		if len(got) != len(tc.want) {
			t.Errorf("%s: read %v, want %v", tc.name, got, tc.want)
			continue
		}
		for name, policies := range tc.want {
			if !slices.Equal(got[name], policies) {
				t.Errorf("%s: read %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}
