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
