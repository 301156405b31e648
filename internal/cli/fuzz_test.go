package cli

import (
	"context"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// FuzzIdentifiers puts arbitrary table and column names through schema.yaml: any pair
// that validates must render SQL that PostgreSQL runs, creating exactly the names given
// (so no name can run SQL of its own). Each run is rolled back.
func FuzzIdentifiers(f *testing.F) {
	for _, seed := range [][2]string{
		{"todos", "user_id"}, {"user", "order"}, {`a"b`, `semi;colon`}, {"Order Items", "Ünïcödé"},
		{"x); DROP TABLE y; --", "-- +goose Down"}, {"$rls$", "$$"}, {"a\\b", "' OR 1=1"},
		{"abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefgh", "c"},
	} {
		f.Add(seed[0], seed[1])
	}
	dbURL := pgtest.NewDB(f)
	conn := pgtest.Connect(f, dbURL)
	f.Fuzz(func(t *testing.T, table, column string) {
		doc := map[string]any{
			"version": 1,
			"tables": []any{map[string]any{
				"name": table,
				"columns": []any{
					map[string]any{"name": "id", "type": "bigint", "identity": "by default", "primary_key": true},
					map[string]any{"name": column, "type": "text", "not_null": true, "default": "auth.user_id()"},
				},
				"owner":    column,
				"policies": "owner",
			}},
		}
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Skip()
		}
		file, err := policy.Parse("schema.yaml", data)
		if err != nil {
			return // names PostgreSQL cannot keep are refused before any SQL is written
		}
		desired, err := compile.Compile(file)
		if err != nil {
			return // names that collide are refused before any SQL is written
		}
		changes := diff.Diff(&schema.Schema{}, desired)
		ctx := context.Background()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, render.Script(changes)); err != nil {
			t.Fatalf("table %q, column %q: PostgreSQL refused the SQL: %v\n%s", table, column, err, render.Script(changes))
		}
		var tables, columns int
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'goose_db_version'),
			(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) AND attname = $2)`,
			table, column).Scan(&tables, &columns); err != nil {
			t.Fatal(err)
		}
		if tables != 1 || columns != 1 {
			t.Fatalf("table %q, column %q: %d tables and %d matching columns, want 1 and 1", table, column, tables, columns)
		}
	})
}
