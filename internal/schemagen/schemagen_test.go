package schemagen

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rlsmigrate/rlsmigrate/policy"
	"gopkg.in/yaml.v3"
)

// notDrawn are the keys of policy.Format the convergence generator leaves out, each
// with the reason: what they change is not the database the migrations build.
var notDrawn = map[string]string{
	"a table.tests": "tests run in verify, not in migrations",
	"a test.name":   "tests run in verify", "a test.as": "tests run in verify", "a test.role": "tests run in verify",
	"a test.sql": "tests run in verify", "a test.expect": "tests run in verify",
	"expect.rows": "tests run in verify", "expect.error": "tests run in verify",
	"a test.claims": "tests run in verify", "the file.verify": "tests run in verify",
	"verify.users": "tests run in verify", "a verify user.claims": "tests run in verify",
}

// TestGeneratorDrawsTheFormat runs the generator (no database) and checks
// that over its seeds it writes every key schema.yaml allows (policy.Format), in every
// mapping, but those notDrawn excuses: a key the loader gains is a key the generator
// must learn, or the convergence property says nothing of it.
func TestGeneratorDrawsTheFormat(t *testing.T) {
	seen := map[string]bool{}
	for seed := 1; seed <= 30; seed++ {
		g := New(uint64(seed))
		cur := g.Schema()
		for range 150 {
			next, what := g.Step(cur)
			if what == "" {
				continue
			}
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(next.YAML()), &doc); err != nil {
				t.Fatalf("the generator wrote invalid YAML: %v", err)
			}
			formatKeys(doc, seen)
			cur = next
		}
	}
	var missing []string
	for ctx, keys := range policy.Format {
		for _, k := range keys {
			if key := ctx + "." + k; !seen[key] && notDrawn[key] == "" {
				missing = append(missing, key)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the convergence generator never writes these keys of schema.yaml (draw them, or say in notDrawn why not):\n  %s", strings.Join(missing, "\n  "))
	}
	for key := range seen {
		ctx, k, _ := strings.Cut(key, ".")
		if !slices.Contains(policy.Format[ctx], k) {
			t.Errorf("the generator writes %q, which schema.yaml does not allow", key)
		}
	}
}

// formatKeys marks, in seen, each key of doc (schema.yaml as JSON) as "mapping.key",
// mappings named as policy.Format names them.
func formatKeys(doc map[string]any, seen map[string]bool) {
	mark := func(ctx string, v any) map[string]any {
		m, _ := v.(map[string]any)
		for k := range m {
			seen[ctx+"."+k] = true
		}
		return m
	}
	list := func(v any) []any { l, _ := v.([]any); return l }
	mark("the file", doc)
	mark("auth", doc["auth"])
	for _, ev := range list(doc["enums"]) {
		mark("an enum", ev)
	}
	for _, pv := range list(doc["publications"]) {
		mark("a publication", pv)
	}
	for _, vv := range list(doc["views"]) {
		mark("a view", vv)
	}
	for _, fv := range list(doc["functions"]) {
		for _, av := range list(mark("a function", fv)["args"]) {
			mark("an argument", av)
		}
	}
	for _, xv := range list(doc["external"]) {
		for _, cv := range list(mark("an external table", xv)["columns"]) {
			mark("an external column", cv)
		}
	}
	if gs, ok := doc["groups"].(map[string]any); ok {
		for _, gr := range gs {
			mark("a group", gr)
		}
	}
	for _, tv := range list(doc["tables"]) {
		t := mark("a table", tv)
		for _, cv := range list(t["columns"]) {
			c := mark("a column", cv)
			mark("references", c["references"])
			mark("copy", c["copy"])
		}
		for _, iv := range list(t["indexes"]) {
			mark("an index", iv)
		}
		for _, cv := range list(t["checks"]) {
			mark("a check", cv)
		}
		for _, tv := range list(t["triggers"]) {
			mark("a trigger", tv)
		}
		for _, tc := range list(t["tests"]) {
			mark("expect", mark("a test", tc)["expect"])
		}
		ps := t["policies"]
		if _, ok := ps.(string); ok {
			continue // one rule for every operation
		}
		for _, rv := range mark("policies", ps) {
			rules := list(rv)
			if rules == nil {
				rules = []any{rv}
			}
			for _, r := range rules {
				mark("through", mark("a rule", r)["through"])
			}
		}
	}
}

// TestFormsWriteTheSameFile writes each schema the generator draws in every Form: each
// must read back as the same data, and the YAML forms must hold their tables in a block
// list (which policy.Parse reads in pieces).
func TestFormsWriteTheSameFile(t *testing.T) {
	pieces := 0
	for seed := 1; seed <= 12; seed++ {
		g := New(uint64(seed))
		cur := g.Schema()
		for range 40 {
			if next, what := g.Step(cur); what != "" {
				cur = next
			}
			var want any
			for f := range forms {
				cur.Form = f
				text := cur.YAML()
				var got any
				if err := yaml.Unmarshal([]byte(text), &got); err != nil {
					t.Fatalf("seed %d, form %d: %v\n%s", seed, f, err, text)
				}
				if f == JSON {
					want = got
				} else if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("seed %d, form %d reads differently from JSON (-json +form):\n%s\n%s", seed, f, d, text)
				}
				if f != JSON && strings.Contains(text, "\ntables:\n  - ") {
					pieces++ // a block list of tables: read in pieces
				}
			}
		}
	}
	if pieces != 2*12*40 {
		t.Errorf("%d of %d files in a YAML form hold a block list of tables", pieces, 2*12*40)
	}
}
