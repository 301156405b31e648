package policy

import (
	"strings"
	"testing"
)

// TestRuleKindsFile: testdata/rule_kinds.yaml, which TestEveryRuleKind builds and
// verifies on a database, holds a rule of every kind; and each kind's table says what
// its rules need: a kind whose policies call the claims function says ReadsClaims (else
// compile would not create the function and diff would not miss it), and a kind that
// compares the row with a function's result denies a caller with no identity.
func TestRuleKindsFile(t *testing.T) {
	f, err := Load("testdata/rule_kinds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[RuleKind]bool{}
	for _, tb := range f.Tables {
		for _, r := range tb.Policies {
			seen[r.Kind] = true
			using, check := r.Conditions(f, tb)
			calls := strings.Contains(using+check, f.Auth.Claims)
			if calls != r.ReadsClaims() {
				t.Errorf("%s rule on %s: condition %q calls %s: %v, ReadsClaims: %v", r.Kind, tb.Name, using+check, f.Auth.Claims, calls, r.ReadsClaims())
			}
			k := ruleKinds[r.Kind]
			if v := r.Verdict(f, Case{}); k.callsFunction && v != Denies {
				t.Errorf("%s rule lets a caller with no identity through: %v", r.Kind, v)
			}
			if k.callsFunction == r.AllowsEveryRow() && r.Kind != RuleCustom {
				t.Errorf("%s rule: callsFunction %v, AllowsEveryRow %v", r.Kind, k.callsFunction, r.AllowsEveryRow())
			}
		}
	}
	for _, k := range RuleKinds() {
		if !seen[k] {
			t.Errorf("testdata/rule_kinds.yaml has no %s rule", k)
		}
		if kind, ok := kindOf(ruleKinds[k].key); ruleKinds[k].key != "" && (!ok || kind != k) {
			t.Errorf("key %q does not select kind %s", ruleKinds[k].key, k)
		}
	}
}

// TestNearestKey: an unknown key names the key it most likely misspells, and only one.
func TestNearestKey(t *testing.T) {
	table := Format["a table"]
	for key, want := range map[string]string{
		"colums": "columns", "ower": "owner", "polices": "policies", "index": "indexes", "renamed": "renamed_from",
		"nullable": "", "x": "",
		"owner_idx": "owner_index", "owner_": "", // owner_ is near owner and begins owner_index
	} {
		if got := nearest(key, table); got != want {
			t.Errorf("nearest(%q) = %q, want %q", key, got, want)
		}
	}
}
