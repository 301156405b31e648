package compile

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestBundledSchemaCompilesToWhatItsMigrationsBuild is a golden of the compiled model:
// the bundled schema.yaml compiles to exactly the schema its committed migrations record
// (the state file), field by field.
func TestBundledSchemaCompilesToWhatItsMigrationsBuild(t *testing.T) {
	f, err := policy.Load(filepath.Join("..", "..", "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	st, err := migdir.Dir{Path: filepath.Join("..", "..", "migrations")}.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Builtin tells compiled rules from custom ones; the state does not record it.
	if d := cmp.Diff(st.Schema, got, cmpopts.IgnoreFields(schema.Policy{}, "Builtin")); d != "" {
		t.Errorf("compiled schema.yaml differs from the recorded state (-state +compiled):\n%s", d)
	}
	if len(got.Tables) < 5 || len(got.Routines) == 0 {
		t.Errorf("compiled %d tables and %d routines", len(got.Tables), len(got.Routines))
	}
}

// TestSourcesPointAtTheirLines: every compiled object maps back to where schema.yaml
// declares it; what has no line of its own (a generated index, a grant) to its table's.
func TestSourcesPointAtTheirLines(t *testing.T) {
	src := `version: 1
groups:
  team: {table: members, group: team_id, user: user_id}
tables:
  - name: members
    columns:
      - {name: team_id, type: bigint, primary_key: true}
      - {name: user_id, type: text, primary_key: true}
  - name: docs
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: team_id, type: bigint, not_null: true}
      - {name: owner_id, type: text, not_null: true}
    owner: owner_id
    indexes: [{columns: [team_id, id]}]
    policies:
      select: {member: team}
      update: owner
`
	f, err := policy.Parse("schema.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	sources := SourcesOf(f, s)
	for _, tc := range []struct {
		what, schema, table, name string
		line, col                 int
	}{
		{"table", "public", "docs", "", 9, 5},
		{"column", "public", "docs", "owner_id", 13, 9},
		{"index", "public", "docs", "docs_team_id_id_idx", 15, 15},
		{"index", "public", "docs", "docs_owner_id_idx", 9, 5}, // the owner index: its table's line
		{"policy", "public", "docs", "docs_select_member", 17, 15},
		{"policy", "public", "docs", "docs_update_owner", 18, 15},
		{"grant", "public", "docs", "", 9, 5},
		{"column", "public", "docs", "team_id", 12, 9}, // not a policy of that name: kinds do not mix
		{"function", "rls", "", "team()", 3, 3},
		{"role", "", "", "authenticated", 0, 0},
	} {
		p, ok := sources.Of(tc.what, tc.schema, tc.table, tc.name)
		if tc.line == 0 {
			if ok {
				t.Errorf("%s %s: at %v, want no line (auth is not written)", tc.what, tc.name, p)
			}
			continue
		}
		if !ok || p.Line != tc.line || p.Col != tc.col {
			t.Errorf("%s %s.%s %s: at %v (%v), want %d:%d", tc.what, tc.schema, tc.table, tc.name, p, ok, tc.line, tc.col)
		}
	}
	if _, ok := sources.Of("table", "public", "dropped", ""); ok {
		t.Error("a table schema.yaml does not declare has a line")
	}
}
