package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// FuzzIdentifiers puts arbitrary table and column names, and an arbitrary string as a
// column default and as the table's comment, through schema.yaml: any input that validates must render a migration
// in which goose finds exactly the annotations rlsmigrate wrote, and SQL that PostgreSQL
// runs, creating exactly the names given with exactly that default and comment (so no string can run
// SQL of its own, end a statement or steer goose). Each run is rolled back.
func FuzzIdentifiers(f *testing.F) {
	for _, seed := range [][3]string{
		{"todos", "user_id", ""}, {"user", "order", "x"}, {`a"b`, `semi;colon`, "a;\nb"}, {"Order Items", "Ünïcödé", "é"},
		{"x); DROP TABLE y; --", "-- +goose Down", "\n-- +goose ENVSUB ON\n${HOME}"}, {"$rls$", "$$", "$rls$"}, {"a\\b", "' OR 1=1", "'; DROP TABLE t; --"},
		{"abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefghij_abcdefgh", "c", "\n--+goose NO TRANSACTION\n"},
		{"notes+goose", "+goose Up", "x;\n--\n;"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	dbURL := pgtest.NewDB(f)
	conn := pgtest.Connect(f, dbURL)
	f.Fuzz(func(t *testing.T, table, column, text string) {
		doc := map[string]any{
			"version": 1,
			"tables": []any{map[string]any{
				"name": table,
				"columns": []any{
					map[string]any{"name": "id", "type": "bigint", "identity": "by default", "primary_key": true},
					map[string]any{"name": column, "type": "text", "not_null": true, "default": "auth.user_id()"},
					map[string]any{"name": column + "_note", "type": "text", "default": "'" + strings.ReplaceAll(text, "'", "''") + "'"},
				},
				"owner":    column,
				"policies": "owner",
				"comment":  text,
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
		main, _ := render.Migration(changes, diff.Invert(changes), policy.DefaultLockTimeout)
		if msg := wellAnnotated(render.Annotations(main)); msg != "" {
			t.Fatalf("table %q, column %q, default %q: %s\n%s", table, column, text, msg, main)
		}
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
		var got string
		if err := tx.QueryRow(ctx, "SELECT set_config('request.jwt.claims', '{\"sub\": \"u\"}', true)").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "INSERT INTO "+sqlident.Qualified("public", table)+" (id) VALUES (1) RETURNING "+sqlident.Quote(column+"_note")).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != text {
			t.Fatalf("table %q, column %q: the default reads %q, want %q", table, column, got, text)
		}
		if err := tx.QueryRow(ctx, "SELECT coalesce(obj_description(to_regclass(quote_ident($1)), 'pg_class'), '')", table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		// The comment the loader read (YAML itself writes some strings, "\n" alone, in a
		// form it reads back otherwise) is the one PostgreSQL must keep.
		if want := file.Tables[0].Comment; got != want {
			t.Fatalf("table %q: the comment reads %q, want %q", table, got, want)
		}
	})
}

// wellAnnotated checks the annotations goose finds in a migration rlsmigrate wrote in one
// transaction: one Up, then StatementBegin/End pairs, one Down, more pairs, and no other.
func wellAnnotated(lines []string) string {
	state := "start"
	for _, l := range lines {
		next := map[[2]string]string{
			{"start", "-- +goose Up"}: "up", {"up", "-- +goose StatementBegin"}: "up block", {"up block", "-- +goose StatementEnd"}: "up",
			{"up", "-- +goose Down"}: "down", {"down", "-- +goose StatementBegin"}: "down block", {"down block", "-- +goose StatementEnd"}: "down",
		}[[2]string{state, l}]
		if next == "" {
			return fmt.Sprintf("goose reads %q as an annotation where rlsmigrate wrote none (after %s)", l, state)
		}
		state = next
	}
	if state != "down" {
		return "the annotations end in state " + state
	}
	return ""
}
