package verify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestClaimsJSON: a synthetic user's claims carry sub and every extra claim at its path,
// nested claims as objects, values as the JSON they are; no user, no claims.
func TestClaimsJSON(t *testing.T) {
	extra := map[string]string{
		policy.Claim{Path: []string{"role"}}.Key():                `"admin"`,
		policy.Claim{Path: []string{"app", "tier"}}.Key():         `3`,
		policy.Claim{Path: []string{"app", "flags", "x.y"}}.Key(): `true`,
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(claimsJSON("alice", extra)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sub": "alice", "role": "admin", "app": map[string]any{"tier": 3.0, "flags": map[string]any{"x.y": true}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if got := claimsJSON("", extra); got != "{}" {
		t.Errorf("a caller with no identity got claims %s", got)
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
