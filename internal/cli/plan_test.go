package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanGolden pins what plan shows for the online_changes case, in text and JSON,
// and checks that it writes nothing and that generate then writes what it showed.
func TestPlanGolden(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	schemaPath, dir := filepath.Join(work, "schema.yaml"), filepath.Join(work, "migrations")
	steps := filepath.Join("testdata", "generate", "online_changes", "steps")
	data, _ := os.ReadFile(filepath.Join(steps, "01.yaml"))
	writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	data, _ = os.ReadFile(filepath.Join(steps, "02.yaml"))
	writeFiles(t, work, map[string]string{"schema.yaml": string(data)})
	text := run(t, work, "plan", "--schema", schemaPath, "--dir", dir)
	js := run(t, work, "plan", "--schema", schemaPath, "--dir", dir, "--format", "json")
	compareGolden(t, "testdata/plan/online.txt", "$ rlsmigrate plan\n"+text.String()+"$ rlsmigrate plan --format json\n"+js.String())
	var p plan
	if err := json.Unmarshal([]byte(js.stdout), &p); err != nil || len(p.Migrations) != 2 || p.Migrations[1].Transaction {
		t.Fatalf("plan --format json: %v\n%s", err, js)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.sql")); len(files) != 1 {
		t.Fatalf("plan wrote files: %v", files)
	}
	// generate refuses what plan said it would, names the types, and writes the plan.
	r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "--allow-hazards drops-policy,widens-access") {
		t.Fatalf("generate without --allow-hazards:\n%s", r)
	}
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir, "--allow-hazards", "drops-policy"); r.code != ExitError {
		t.Fatalf("generate allowing one of two hazards:\n%s", r)
	}
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir, "--allow-hazards", "rewrites-table"); r.code != ExitError ||
		!strings.Contains(r.stderr, "not a hazard generate refuses") {
		t.Fatalf("generate --allow-hazards rewrites-table:\n%s", r)
	}
	if r := run(t, work, "generate", "--schema", schemaPath, "--dir", dir, "--allow-hazards", "drops-policy,widens-access"); r.code != 0 {
		t.Fatalf("generate --allow-hazards drops-policy,widens-access:\n%s", r)
	}
	for _, m := range p.Migrations {
		written, err := os.ReadFile(filepath.Join(dir, m.File))
		if err != nil {
			t.Fatalf("plan named %s, which generate did not write: %v", m.File, err)
		}
		for _, st := range m.Statements {
			if !strings.Contains(string(written), st.SQL) {
				t.Errorf("%s lacks the planned statement %q", m.File, st.SQL)
			}
		}
	}
	if again := run(t, work, "plan", "--schema", schemaPath, "--dir", dir); again.code != 0 || !strings.Contains(again.stdout, "no changes") {
		t.Errorf("plan after generate:\n%s", again)
	}
}
