package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// TestStateFileSize: the state file of a schema.yaml whose tables repeat themselves (the
// README's todos, 300 times) is at most twice schema.yaml, and state show prints it
// whole: every table, every policy's condition in place.
func TestStateFileSize(t *testing.T) {
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	writeFiles(t, work, map[string]string{"schema.yaml": schemagen.Todos(300)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatalf("generate: %s", r)
	}
	src, _ := os.Stat(schemaPath)
	state, _ := os.Stat(filepath.Join(dir, "rlsmigrate.state.json"))
	if ratio := float64(state.Size()) / float64(src.Size()); ratio > 2 {
		t.Errorf("the state file is %d bytes, %.2f× schema.yaml's %d", state.Size(), ratio, src.Size())
	}
	r := run(t, work, "state", "show", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("state show: %s", r)
	}
	var shown struct {
		Schema struct {
			Tables []struct {
				Policies []struct{ Using, Check string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
		t.Fatalf("state show printed no JSON: %v\n%.300s", err, r.stdout)
	}
	if n := len(shown.Schema.Tables); n != 300 || len(shown.Schema.Tables[299].Policies) != 4 ||
		shown.Schema.Tables[299].Policies[0].Using != "(select auth.user_id()) = user_id" {
		t.Errorf("state show: %d tables, the last %+v", n, shown.Schema.Tables[len(shown.Schema.Tables)-1])
	}
	if r := run(t, work, "state", "--dir", dir); r.code != ExitError {
		t.Errorf("state without show: %s", r)
	}
}
