package lint

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// check lints schema.yaml text offline and returns the rule ids found, in order.
func check(t *testing.T, yaml string) []string {
	t.Helper()
	f, err := policy.Parse("schema.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	s, err := compile.Compile(f)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var ids []string
	for _, fd := range Check(f, s, nil) {
		if fd.Pos.Line == 0 || fd.File != "schema.yaml" {
			t.Errorf("%s has no position: %+v", fd.Rule.ID, fd)
		}
		ids = append(ids, fd.Rule.ID)
	}
	return ids
}

const todos = `version: 1
auth: {provider: claims, roles: [authenticated, anonymous]}
tables:
  - name: todos
    columns:
      - {name: id, type: bigint, identity: always, primary_key: true}
      - {name: user_id, type: text, not_null: true, default: auth.user_id()}
    owner: user_id
`

// TestRulesFire: each schema holds one mistake, and lint names its rule.
func TestRulesFire(t *testing.T) {
	for _, tc := range []struct{ rule, yaml string }{
		{"RLS002", todos},
		{"RLS003", todos + "    policies: {select: owner, insert: anyone}\n"},
		{"RLS004", todos + "    policies: {select: owner, insert: [owner, {anyone: [anonymous]}]}\n"},
		{"RLS008", todos + "    owner_index: false\n    policies: {all: owner}\n"},
		{"RLS009", strings.Replace(todos, "type: text, not_null: true,", "type: text,", 1) + "    policies: {all: owner}\n"},
		{"RLS010", strings.Replace(todos, ", default: auth.user_id()", "", 1) + "    policies: {all: owner}\n"},
	} {
		if ids := check(t, tc.yaml); !slices.Contains(ids, tc.rule) {
			t.Errorf("%s not found in %v for:\n%s", tc.rule, ids, tc.yaml)
		}
	}
	if ids := check(t, todos+"    policies: {all: owner}\n"); len(ids) != 0 {
		t.Errorf("a plain owner table: %v", ids)
	}
}

// TestBundledSchemaIsClean: the schema.yaml the project ships has no finding.
func TestBundledSchemaIsClean(t *testing.T) {
	f, err := policy.Load(filepath.Join("..", "..", "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := compile.Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range Check(f, s, nil) {
		t.Errorf("%s:%d:%d: %s %s", fd.File, fd.Pos.Line, fd.Pos.Col, fd.Rule.ID, fd.Message)
	}
}

// TestRuleTable: ids are unique, every rule says how to fix it, and RuleByID finds it.
func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] || r.Fix == "" || r.Name == "" || RuleByID(r.ID) != r {
			t.Errorf("rule %+v: repeated, incomplete, or not found by id", r)
		}
		seen[r.ID] = true
	}
	for _, s := range []string{"error", "warn", "info"} {
		if _, err := ParseSeverity(s); err != nil {
			t.Errorf("ParseSeverity(%q): %v", s, err)
		}
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity accepts fatal")
	}
}

// TestCases: every case of testdata/lint (RLSnnn.yaml, or RLSnnn_more.yaml), which
// internal/cli's TestLintGolden also renders, trips its rule at a position in the file,
// and every rule that needs no database has a case.
func TestCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/lint/RLS*.yaml")
	covered := map[string]bool{}
	for _, file := range files {
		id, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(file), ".yaml"), "_")
		covered[id] = true
		f, err := policy.Load(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		s, err := compile.Compile(f)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		found := false
		for _, fd := range Check(f, s, nil) {
			found = found || (fd.Rule.ID == id && fd.Pos.Line > 0 && fd.File == file)
		}
		if !found {
			t.Errorf("%s does not trip %s", file, id)
		}
	}
	// Rules that only a live database can trip (lint --database-url) have no case here.
	live := []string{"RLS013", "RLS014", "RLS015", "RLS016", "RLS020", "RLS021", "RLS022", "RLS023", "RLS024", "RLS025", "RLS027"}
	for _, r := range Rules {
		if !covered[r.ID] && !slices.Contains(live, r.ID) {
			t.Errorf("rule %s has no case in testdata/lint", r.ID)
		}
	}
}
