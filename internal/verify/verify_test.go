package verify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestClaimsJSON: a synthetic user's claims carry sub, the declared claims, and every
// extra claim at its path (nested claims as objects, values as the JSON they are),
// without writing into the declared ones; a caller with no identity carries no sub.
func TestClaimsJSON(t *testing.T) {
	extra := map[string]string{
		policy.Claim{Path: []string{"role"}}.Key():                `"admin"`,
		policy.Claim{Path: []string{"app", "tier"}}.Key():         `3`,
		policy.Claim{Path: []string{"app", "flags", "x.y"}}.Key(): `true`,
	}
	declared := map[string]any{"org": "7", "app": map[string]any{"plan": "pro"}}
	for _, tc := range []struct {
		user     string
		declared map[string]any
		extra    map[string]string
		want     map[string]any
	}{
		{"alice", nil, extra, map[string]any{"sub": "alice", "role": "admin", "app": map[string]any{"tier": 3.0, "flags": map[string]any{"x.y": true}}}},
		{"alice", declared, extra, map[string]any{"sub": "alice", "org": "7", "role": "admin",
			"app": map[string]any{"plan": "pro", "tier": 3.0, "flags": map[string]any{"x.y": true}}}},
		{"", nil, nil, map[string]any{}},
		{"", map[string]any{"role": "anon"}, nil, map[string]any{"role": "anon"}},
	} {
		var got map[string]any
		if err := json.Unmarshal([]byte(claimsJSON(tc.user, tc.declared, tc.extra)), &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("claims of %q with %v and %v (-want +got):\n%s", tc.user, tc.declared, tc.extra, d)
		}
	}
	if d := cmp.Diff(map[string]any{"org": "7", "app": map[string]any{"plan": "pro"}}, declared); d != "" {
		t.Errorf("claimsJSON wrote into the declared claims (-want +got):\n%s", d)
	}
}

// TestSamplesAreSQL: every sample value is one expression PostgreSQL's parser reads,
// and otherValue gives a different value where the type has one.
func TestSamplesAreSQL(t *testing.T) {
	for _, tc := range []struct{ category, typ string }{
		{"N", "bigint"}, {"B", "boolean"}, {"D", "timestamptz"}, {"T", "interval"}, {"G", "point"}, {"A", "text[]"},
		{"E", `public."my enum"`}, {"I", "inet"}, {"V", "bit(1)"}, {"U", "uuid"}, {"U", "jsonb"}, {"S", "text"},
	} {
		v := SampleOf(tc.category, tc.typ, 70000)
		if _, err := sqlparse.ParseExpr(v); err != nil {
			t.Errorf("%s %s: %q: %v", tc.category, tc.typ, v, err)
		}
	}
	for _, tc := range []struct{ category, v, want string }{{"B", "true", "false"}, {"B", "false", "true"}, {"N", "41", "42"}, {"S", "a", "a-other"}} {
		if got, ok := otherValue(tc.category, tc.v); !ok || got != tc.want {
			t.Errorf("otherValue(%s, %s) = %q, %v", tc.category, tc.v, got, ok)
		}
	}
	if _, ok := otherValue("N", "1.5"); ok {
		t.Error("otherValue of a non-integer number")
	}
}

// TestMismatchNamesItsRule: a mismatch line ends with where schema.yaml says what the
// operation may do.
func TestMismatchNamesItsRule(t *testing.T) {
	r := &Report{Tables: []TableReport{{Table: "public.notes", Checks: []Check{
		{Operation: "select", Case: "other", Expected: Denied, Observed: Allowed, Source: "schema.yaml:12:15"},
		{Operation: "delete", Case: "own", Expected: Allowed, Observed: Allowed, Source: "schema.yaml:14:15"},
	}}}}
	m := r.Mismatches()
	if len(m) != 1 || !strings.HasSuffix(m[0], " at schema.yaml:12:15") || !strings.HasPrefix(m[0], "public.notes: ") {
		t.Errorf("mismatches: %q", m)
	}
}
