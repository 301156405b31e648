package schema

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNormalizeOrdersWhatHasNoOrder: two schemas that mean the same compare equal after
// Normalize, and grants that grant nothing are gone.
func TestNormalizeOrdersWhatHasNoOrder(t *testing.T) {
	s := &Schema{Roles: []string{"b", "a", "b"}, Schemas: []string{"x", "public"}, Functions: []string{"f()", "a()"},
		SchemaUsage: map[string][]string{"public": {"z", "a", "z"}},
		Tables: []*Table{{Policies: []*Policy{{Roles: []string{"web", "api"}}},
			Grants: []*Grant{{Role: "web", Privileges: []string{"delete", "select", "select"}, Columns: map[string][]string{"update": {"b", "a"}}},
				{Role: "api", Privileges: []string{"insert"}}, {Role: "empty"}}}},
		Routines: []*Function{{Execute: []string{"web", "api"}}}}
	s.Normalize()
	want := &Schema{Roles: []string{"a", "b"}, Schemas: []string{"public", "x"}, Functions: []string{"a()", "f()"},
		SchemaUsage: map[string][]string{"public": {"a", "z"}},
		Tables: []*Table{{Policies: []*Policy{{Roles: []string{"api", "web"}}},
			Grants: []*Grant{{Role: "api", Privileges: []string{"insert"}},
				{Role: "web", Privileges: []string{"select", "delete"}, Columns: map[string][]string{"update": {"a", "b"}}}}}},
		Routines: []*Function{{Execute: []string{"api", "web"}}}}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Normalize (-want +got):\n%s", d)
	}
}

// TestColumnPrivileges: a column privilege is spelled priv(column) and split back, also
// for a column whose name holds parentheses.
func TestColumnPrivileges(t *testing.T) {
	for _, col := range []string{"task", "a(b)", ""} {
		priv, c := SplitPrivilege(ColumnPrivilege("update", col))
		if priv != "update" || c != col {
			t.Errorf("%q: split into %q, %q", col, priv, c)
		}
	}
	if p, c := SplitPrivilege("select"); p != "select" || c != "" {
		t.Errorf("a table privilege split into %q, %q", p, c)
	}
	tb := &Table{Grants: []*Grant{{Role: "web", Columns: map[string][]string{"update": {"b", "a"}, "insert": {"c"}}}}}
	if got := tb.ColumnPrivileges("web"); !slices.Equal(got, []string{"insert(c)", "update(a)", "update(b)"}) {
		t.Errorf("ColumnPrivileges: %v", got)
	}
	if got := tb.ColumnPrivileges("nobody"); got != nil {
		t.Errorf("ColumnPrivileges of a role without a grant: %v", got)
	}
	if got := Without([]string{"a", "b", "c"}, []string{"b"}); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("Without: %v", got)
	}
}

// TestTableIndexFindsWhatTableFinds: the index that loops over every table use answers
// as Table does, the first of two tables with one name included.
func TestTableIndexFindsWhatTableFinds(t *testing.T) {
	first, second := &Table{Schema: "public", Name: "a"}, &Table{Schema: "public", Name: "a"}
	s := &Schema{Tables: []*Table{first, {Schema: "app", Name: "a"}, {Schema: "public", Name: "b"}, second}}
	idx := s.TableIndex()
	for _, tb := range s.Tables {
		if got, want := idx[[2]string{tb.Schema, tb.Name}], s.Table(tb.Schema, tb.Name); got != want {
			t.Errorf("%s.%s: index has %p, Table finds %p", tb.Schema, tb.Name, got, want)
		}
	}
	if len(idx) != 3 || idx[[2]string{"public", "a"}] != first {
		t.Errorf("index of %d tables, public.a = %p; want 3 and the first (%p)", len(idx), idx[[2]string{"public", "a"}], first)
	}
}
