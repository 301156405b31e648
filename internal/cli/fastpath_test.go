package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// TestGenerateTrustsTheStateOfAnUnchangedSchema: where schema.yaml is byte for byte the
// one the state was recorded from, by the same rlsmigrate build, and no migration
// changed, generate answers "no changes" without compiling. The test shows the path
// taken by emptying the state's schema behind the fingerprint's back: the fast path
// still says no changes, and a different build, a schema.yaml edited even in
// whitespace, or a migration edited by hand each take the full path.
// Not parallel: it sets the build identity, which every generate reads.
func TestGenerateTrustsTheStateOfAnUnchangedSchema(t *testing.T) {
	saved := buildIdentity
	defer func() { buildIdentity = saved }()
	buildIdentity = func() string { return "build-a" }
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(3)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatalf("generate: %s", r)
	}
	// Empty the recorded schema, keeping the fingerprint and the checksums.
	statePath := filepath.Join(dir, migdir.StateFile)
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatal(err)
	}
	if state["source"] == "" || state["source"] == nil {
		t.Fatalf("generate recorded no source in the state:\n%s", data)
	}
	state["schema"].(map[string]any)["tables"] = []any{}
	emptied, _ := json.Marshal(state)
	if err := os.WriteFile(statePath, emptied, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(want int, what string) {
		t.Helper()
		r := run(t, work, "generate", "--check", "--schema", schemaPath, "--dir", dir)
		if r.code != want {
			t.Errorf("%s: generate --check exited %d, want %d:\n%s", what, r.code, want, r)
		}
	}
	check(ExitOK, "same schema.yaml, same build: the state is trusted")
	buildIdentity = func() string { return "build-b" }
	check(ExitFound, "another build compiles anew")
	buildIdentity = func() string { return "build-a" }
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(3) + "\n"})
	check(ExitFound, "schema.yaml changed in whitespace compiles anew")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(3)})
	check(ExitOK, "schema.yaml as it was: trusted again")
	names, _ := migdir.Dir{Path: dir}.Migrations()
	if err := os.WriteFile(filepath.Join(dir, names[0]), []byte("-- +goose Up\nSELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, work, "generate", "--check", "--schema", schemaPath, "--dir", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "was edited after it was generated") {
		t.Errorf("a migration edited by hand: want the error, got:\n%s", r)
	}
}
