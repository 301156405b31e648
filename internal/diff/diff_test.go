package diff

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// tbl builds a table public.name with an id key, the given extra columns, and edit
// applied.
func tbl(name string, edit func(t *schema.Table), cols ...*schema.Column) *schema.Table {
	t := &schema.Table{Schema: "public", Name: name, RLS: true, PrimaryKey: []string{"id"}, PKName: name + "_pkey",
		Columns: append([]*schema.Column{{Name: "id", Type: "bigint", NotNull: true}}, cols...)}
	if edit != nil {
		edit(t)
	}
	return t
}

func sch(roles []string, tables ...*schema.Table) *schema.Schema {
	s := &schema.Schema{Roles: roles, Schemas: []string{"public"}, SchemaUsage: map[string][]string{}, Tables: tables}
	for _, t := range tables {
		if !slices.Contains(s.Schemas, t.Schema) {
			s.Schemas = append(s.Schemas, t.Schema)
		}
		for _, g := range t.Grants {
			if !slices.Contains(s.SchemaUsage[t.Schema], g.Role) {
				s.SchemaUsage[t.Schema] = append(s.SchemaUsage[t.Schema], g.Role)
			}
		}
	}
	s.Normalize()
	return s
}

var authn = []string{"authenticated"}

func owned(col string) func(*schema.Table) {
	return func(t *schema.Table) {
		t.Indexes = []*schema.Index{{Name: t.Name + "_" + col + "_idx", Columns: []string{col}}}
		t.Policies = []*schema.Policy{{Name: t.Name + "_select_owner", Command: "select", Roles: authn, Using: "(select auth.user_id()) = " + col}}
		t.Grants = []*schema.Grant{{Role: "authenticated", Privileges: []string{"select"}}}
	}
}

func TestDiff(t *testing.T) {
	text := func(name string) *schema.Column { return &schema.Column{Name: name, Type: "text"} }
	renamedText := func(name, from string) *schema.Column {
		return &schema.Column{Name: name, Type: "text", RenamedFrom: from}
	}
	ref := func(name, table string) *schema.Column {
		return &schema.Column{Name: name, Type: "bigint", References: &schema.ForeignKey{Name: "kids_" + name + "_fkey", Schema: "public", Table: table, Column: "id"}}
	}
	for _, c := range []struct {
		name     string
		from, to *schema.Schema
		want     []string // Change.String() of each change, in order
	}{
		{"nothing", sch(authn, tbl("t", owned("user_id"), text("user_id"))), sch(authn, tbl("t", owned("user_id"), text("user_id"))), nil},
		{"a condition respelt is no change",
			sch(authn, tbl("t", owned("user_id"), text("user_id"))),
			sch(authn, tbl("t", func(t *schema.Table) {
				owned("user_id")(t)
				t.Policies[0].Using = `"user_id" = ( SELECT auth.user_id() )`
			}, text("user_id"))),
			nil},
		{"owner column renamed: index renamed, policy kept",
			sch(authn, tbl("t", owned("user_id"), text("user_id"))),
			sch(authn, tbl("t", func(t *schema.Table) {
				owned("owner_id")(t)
				t.Indexes[0].RenamedFrom = "t_user_id_idx"
			}, renamedText("owner_id", "user_id"))),
			[]string{"column.rename public.t.owner_id (was user_id)", "index.rename public.t.t_owner_id_idx (was t_user_id_idx)"}},
		{"table renamed: its key's constraint follows",
			sch(authn, tbl("todos", nil)),
			sch(authn, tbl("tasks", func(t *schema.Table) { t.RenamedFrom = "todos" })),
			[]string{"table.rename public.tasks (was todos)", "constraint.rename public.tasks.tasks_pkey (was todos_pkey)"}},
		{"referenced table renamed: the reference stays",
			sch(authn, tbl("parents", nil), tbl("kids", nil, ref("parent_id", "parents"))),
			sch(authn, tbl("folks", func(t *schema.Table) { t.RenamedFrom = "parents" }), tbl("kids", nil, ref("parent_id", "folks"))),
			[]string{"table.rename public.folks (was parents)", "constraint.rename public.folks.folks_pkey (was parents_pkey)"}},
		{"a condition that is always true widens access",
			sch(authn, tbl("t", owned("user_id"), text("user_id"))),
			sch(authn, tbl("t", func(t *schema.Table) {
				owned("user_id")(t)
				t.Policies[0].Using = "user_id = (select auth.user_id()) or 1 = 1"
			}, text("user_id"))),
			[]string{"policy.alter public.t.t_select_owner [widens-access]"}},
		{"a role leaves: its grants and usage go",
			sch([]string{"authenticated", "auditor"}, tbl("t", func(t *schema.Table) {
				t.Grants = []*schema.Grant{{Role: "auditor", Privileges: []string{"select"}}}
			})),
			sch(authn, tbl("t", nil)),
			[]string{"grant.revoke public.t.auditor", "schema.usage.revoke public.auditor"}},
		{"a dropped column is a hazard",
			sch(authn, tbl("t", nil, text("note"))),
			sch(authn, tbl("t", nil)),
			[]string{"column.drop public.t.note [deletes-data]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, ch := range Diff(c.from, c.to) {
				got = append(got, ch.String())
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

// TestInvertDroppedColumn: Down of a dropped column restores its key and reference.
func TestInvertDroppedColumn(t *testing.T) {
	col := &schema.Column{Name: "parent_id", Type: "bigint", Unique: true, UniqueName: "kids_parent_id_key",
		References: &schema.ForeignKey{Name: "kids_parent_id_fkey", Schema: "public", Table: "parents", Column: "id"}}
	from := sch(authn, tbl("parents", nil), tbl("kids", nil, col))
	to := sch(authn, tbl("parents", nil), tbl("kids", nil))
	var kinds []string
	for _, c := range Invert(Diff(from, to)) {
		kinds = append(kinds, string(c.Kind))
	}
	if want := "column.add column.unique.add column.references.add"; strings.Join(kinds, " ") != want {
		t.Errorf("Invert = %v, want %s", kinds, want)
	}
}

// TestEveryKindHasADescriptor: phases, inverses and effects come from one table.
func TestEveryKindHasADescriptor(t *testing.T) {
	for _, k := range Kinds() {
		d, _ := describeKind(k)
		if d.effect == "" {
			t.Errorf("%s has no effect", k)
		}
		if d.inverse != "" {
			if _, i := describeKind(d.inverse); i < 0 {
				t.Errorf("%s: inverse %s unknown", k, d.inverse)
			}
		}
	}
}

// TestRollbackRestoresObjectsUnderOldNames: an object dropped (or changed) in the
// migration that renames a column it names was restored, by the rollback, with the new
// name, after the rollback had renamed the column back: the rollback failed. A check and
// a declared row, each dropped, are restored with the old names.
func TestRollbackRestoresObjectsUnderOldNames(t *testing.T) {
	check := &schema.Object{Kind: "check", Schema: "public", Table: "notes", Name: "short", Attrs: map[string]string{"expr": "length(note) < 100"}}
	row := &schema.Object{Kind: "row", Schema: "public", Table: "notes", Name: `("note") = ('a')`,
		Attrs: map[string]string{"note": "a"}, Items: []string{"note", ""}}
	from := sch(authn, tbl("notes", func(t *schema.Table) { t.Objects = []*schema.Object{check, row} }, &schema.Column{Name: "note", Type: "text"}))
	to := sch(authn, tbl("notes", nil, &schema.Column{Name: "body", Type: "text", RenamedFrom: "note"}))
	var up, down []string
	for _, c := range Diff(from, to) {
		if c.Old.Object != nil {
			up = append(up, c.Old.Object.Kind+" "+strings.Join(slices.Sorted(maps.Keys(c.Old.Object.Attrs)), ",")+" "+c.Old.Object.Attrs["expr"])
		}
	}
	for _, c := range Invert(Diff(from, to)) {
		if c.New.Object != nil {
			down = append(down, c.New.Object.Kind+" "+strings.Join(slices.Sorted(maps.Keys(c.New.Object.Attrs)), ",")+" "+c.New.Object.Attrs["expr"])
		}
	}
	slices.Sort(up)
	slices.Sort(down)
	if want := []string{"check expr length(body) < 100", "row body "}; !slices.Equal(up, want) {
		t.Errorf("dropped after the rename: %q, want %q", up, want)
	}
	if want := []string{"check expr length(note) < 100", "row note "}; !slices.Equal(down, want) {
		t.Errorf("restored after the rename is undone: %q, want %q", down, want)
	}
}

// TestRollbackRegrantsUnderOldNames: column privileges revoked in the migration that
// renames their column were granted back, by the rollback, on the new name after the
// rollback had renamed the column back (a convergence run found it).
func TestRollbackRegrantsUnderOldNames(t *testing.T) {
	grant := func(col string) func(*schema.Table) {
		return func(t *schema.Table) {
			t.Grants = []*schema.Grant{{Role: "authenticated", Privileges: []string{"select"}, Columns: map[string][]string{"update": {col}}}}
		}
	}
	from := sch(authn, tbl("notes", grant("note"), &schema.Column{Name: "note", Type: "text"}))
	to := sch(authn, tbl("notes", nil, &schema.Column{Name: "body", Type: "text", RenamedFrom: "note"}))
	var regranted []string
	for _, c := range Invert(Diff(from, to)) {
		if c.Kind == GrantAdd {
			regranted = append(regranted, c.New.Privileges...)
		}
	}
	if want := []string{"select", "update(note)"}; !slices.Equal(regranted, want) {
		t.Errorf("the rollback grants %q, want %q", regranted, want)
	}
}

// TestRollbackTakesAwayUnderOldNames: what a migration adds while it renames the table
// or column it names (a publication of the renamed table, a row keyed by the renamed
// column, UPDATE on the renamed column) was taken away, by the rollback, under the new
// name after the rollback had restored the old one (a convergence run found the
// publication).
func TestRollbackTakesAwayUnderOldNames(t *testing.T) {
	row := &schema.Object{Kind: "row", Schema: "public", Table: "notes", Name: `("body") = ('a')`,
		Attrs: map[string]string{"body": "a"}, Items: []string{"body", ""}}
	from := sch(authn, tbl("notes", nil, &schema.Column{Name: "note", Type: "text"}))
	to := sch(authn, tbl("texts", func(t *schema.Table) {
		t.RenamedFrom, t.Objects = "notes", []*schema.Object{row}
		t.Grants = []*schema.Grant{{Role: "authenticated", Columns: map[string][]string{"update": {"body"}}}}
	}, &schema.Column{Name: "body", Type: "text", RenamedFrom: "note"}))
	to.Objects = []*schema.Object{{Kind: "publication", Name: "realtime", Items: []string{"public.texts"}}}
	var got []string
	for _, c := range Invert(Diff(from, to)) {
		switch o := c.Old.Object; {
		case o != nil:
			got = append(got, fmt.Sprintf("%s %v %v", c.Kind, o.Items, slices.Sorted(maps.Keys(o.Attrs))))
		case c.Kind == GrantRevoke:
			got = append(got, fmt.Sprintf("%s %v", c.Kind, c.Old.Privileges))
		}
	}
	slices.Sort(got)
	want := []string{"grant.revoke [update(note)]", "publication.drop [public.notes] []", "row.drop [note ] [note]"}
	if !slices.Equal(got, want) {
		t.Errorf("the rollback takes away %q, want %q", got, want)
	}
}

// TestIndexRenamedAndMadeUnique: an index whose generated name follows a column rename
// and which turns unique in the same edit was renamed, and then made under its new
// name beside itself (a concurrent build of that name found the renamed one and kept
// it: a convergence run found the index left not unique). It is dropped under its old
// name and made anew.
func TestIndexRenamedAndMadeUnique(t *testing.T) {
	from := sch(authn, tbl("notes", func(t *schema.Table) {
		t.Indexes = []*schema.Index{{Name: "notes_user_id_idx", Columns: []string{"user_id"}}}
	}, &schema.Column{Name: "user_id", Type: "text"}))
	to := sch(authn, tbl("notes", func(t *schema.Table) {
		t.Indexes = []*schema.Index{{Name: "notes_member_id_idx", Columns: []string{"member_id"}, Unique: true, RenamedFrom: "notes_user_id_idx"}}
	}, &schema.Column{Name: "member_id", Type: "text", RenamedFrom: "user_id"}))
	var got []string
	for _, c := range Diff(from, to) {
		if strings.HasPrefix(string(c.Kind), "index.") {
			got = append(got, string(c.Kind)+" "+c.Name)
		}
	}
	if want := []string{"index.drop notes_user_id_idx", "index.create notes_member_id_idx"}; !slices.Equal(got, want) {
		t.Errorf("index changes %q, want %q", got, want)
	}
}
