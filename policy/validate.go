package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// validate checks what spans several parts of the file: names that must exist, names that
// must not repeat, and rules that contradict the table they sit on.
func (d *decoder) validate(f *File) {
	add := d.at
	roleOK := func(p Pos, role, what string) {
		if role != "public" && !slices.Contains(f.Auth.Roles, role) {
			add(p, "%s names role %q, which is not in auth.roles (%s)", what, role, strings.Join(f.Auth.Roles, ", "))
		}
	}
	seen := map[string]*Table{}
	for _, t := range f.Tables {
		q := t.QualifiedName()
		if prev, dup := seen[q]; dup && t.Name != "" {
			add(t.Pos, "table %s is declared twice (first at line %d)", q, prev.Pos.Line)
			continue
		}
		seen[q] = t
		if len(t.Columns) == 0 {
			add(t.Pos, "table %s has no columns", q)
		}
		d.validateColumns(t)
		d.validateRows(f, t)
		d.validateCalls(f, t)
		if t.Owner != "" && t.Column(t.Owner) == nil {
			add(t.Pos, "owner column %q is not a column of table %s", t.Owner, q)
		}
		if !t.RLS && t.ForceRLS {
			add(t.Pos, "table %s says rls: false and force_rls: true; remove one", q)
		}
		if !t.RLS && len(t.Policies) > 0 {
			add(t.Policies[0].Pos, "table %s says rls: false, so its policies would never apply; remove them or enable rls", q)
		}
		names := map[string]bool{}
		for _, r := range t.Policies {
			if r.Kind == RuleOwner && t.Owner == "" {
				add(r.Pos, "rule \"owner\" for %s on %s needs the table's \"owner\" column", r.Operation, q)
			}
			if len(r.To) == 0 {
				r.To = []string{DefaultRole}
			}
			for _, role := range r.To {
				roleOK(r.Pos, role, "rule for "+r.Operation+" on "+q)
			}
			if len(r.To) > 1 && slices.Contains(r.To, "public") {
				add(r.Pos, "rule for %s on %s is for public and other roles; public already means every role (PostgreSQL keeps only PUBLIC): write to: public alone", r.Operation, q)
			}
			if r.Name != "" {
				if names[r.Name] {
					add(r.Pos, "policy name %q is used twice on table %s", r.Name, q)
				}
				names[r.Name] = true
			}
		}
		lists := map[string]*Index{}
		for _, ix := range t.Indexes {
			for _, c := range ix.Columns {
				if t.Column(c) == nil {
					add(ix.Pos, "index column %q is not a column of table %s", c, q)
				}
			}
			key := strings.Join(ix.Columns, "\x00")
			if prev, dup := lists[key]; dup && len(ix.Columns) > 0 && ix.Unique == prev.Unique {
				add(ix.Pos, "an index on (%s) of table %s is declared twice (first at line %d)", strings.Join(ix.Columns, ", "), q, prev.Pos.Line)
			}
			lists[key] = ix
		}
		for _, g := range t.Grants {
			roleOK(g.Pos, g.Role, "grant on "+q)
		}
		for _, tc := range t.Tests {
			if tc.Role != "" {
				roleOK(tc.Pos, tc.Role, "test on "+q)
			}
		}
	}
	for _, t := range f.Tables {
		for _, c := range t.Columns {
			if r := c.References; r != nil {
				if r.Schema == "" {
					r.Schema = t.Schema
				}
				target := f.Referable(r.Schema, r.Table)
				switch {
				case target == nil:
					add(r.Pos, "column %s.%s references table %s.%s, which is not declared (declare one rlsmigrate does not manage, such as auth.users, under external:)", t.QualifiedName(), c.Name, r.Schema, r.Table)
				case r.Column == "":
					pk := primaryKey(target)
					if len(pk) != 1 {
						add(r.Pos, "column %s.%s references %s, which has no single-column primary key; name the column", t.QualifiedName(), c.Name, target.QualifiedName())
					} else {
						r.Column = pk[0]
					}
				case target.Column(r.Column) == nil:
					add(r.Pos, "column %s.%s references %s.%s, which is not a column", t.QualifiedName(), c.Name, target.QualifiedName(), r.Column)
				}
				if target == nil {
					continue
				}
				if tc := target.Column(r.Column); tc != nil && c.Type != "" && tc.Type != "" && !sqlparse.Comparable(c.Type, tc.Type) {
					add(r.Pos, "column %s.%s is %s and references %s.%s, which is %s: PostgreSQL cannot compare them, so the key cannot be built; declare the column %s",
						t.QualifiedName(), c.Name, c.Type, target.QualifiedName(), tc.Name, tc.Type, tc.Type)
				}
			}
		}
	}
	d.validateCopies(f)
	for _, t := range slices.Concat(f.Tables, f.External) {
		for _, tr := range t.Triggers {
			for _, r := range f.Functions {
				if r.Schema+"."+r.Name == tr.Function && len(r.Args) == 0 && r.Returns != "trigger" {
					add(tr.Pos, "trigger %q runs function %s, which returns %s: a trigger function returns trigger", tr.Name, r.Signature(), r.Returns)
				}
			}
		}
	}
	for _, r := range f.Functions {
		if r.Schema == FunctionSchema || r.Schema == "auth" {
			add(r.Pos, "function %s: schema %s holds the functions rlsmigrate writes; declare it in another schema", r.Signature(), r.Schema)
		}
		for _, g := range r.Grants {
			roleOK(r.Pos, g, "function "+r.Signature())
		}
	}
	published := map[string]bool{}
	for _, p := range f.Publications {
		if published[p.Name] {
			add(p.Pos, "publication %q is declared twice", p.Name)
		}
		published[p.Name] = true
		for _, q := range p.Tables {
			schemaName, name, _ := strings.Cut(q, ".")
			if f.Table(schemaName, name) == nil {
				add(p.Pos, "publication %q publishes table %s, which is not declared under tables", p.Name, q)
			}
		}
	}
	for _, vw := range f.Views {
		for _, g := range vw.Grants {
			roleOK(vw.Pos, g, "view "+vw.Schema+"."+vw.Name)
		}
		if vw.Invoker {
			continue
		}
		for _, r := range vw.reads {
			schemaName := r.Schema
			if schemaName == "" {
				schemaName = vw.Schema
			}
			t := f.Table(schemaName, r.Name)
			if t == nil && r.Schema == "" {
				t = f.Table("public", r.Name)
			}
			if t != nil && t.RLS && vw.Reason == "" {
				add(vw.Pos, "view %s.%s runs as its owner (security_invoker: false) and reads %s, which has row-level security: its callers would read past the policies. Keep security_invoker, or say why with reason:", vw.Schema, vw.Name, t.QualifiedName())
				break
			}
		}
	}
	for _, x := range f.External {
		q := x.QualifiedName()
		if prev, dup := seen[q]; dup && x.Name != "" {
			add(x.Pos, "table %s is declared twice (first at line %d); an external table is one rlsmigrate does not manage", q, prev.Pos.Line)
			continue
		}
		seen[q] = x
		names := map[string]bool{}
		for _, c := range x.Columns {
			if names[c.Name] && c.Name != "" {
				add(c.Pos, "column %q is declared twice in external table %s", c.Name, q)
			}
			names[c.Name] = true
		}
	}
	d.validateAccess(f)
}

func (d *decoder) validateColumns(t *Table) {
	if pk := primaryKey(t); len(pk) == 1 {
		if c := t.Column(pk[0]); c.Unique {
			d.at(c.Pos, "column %q is the primary key, which is unique already; remove unique: true", c.Name)
		}
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if seen[c.Name] && c.Name != "" {
			d.at(c.Pos, "column %q is declared twice in table %s", c.Name, t.QualifiedName())
		}
		seen[c.Name] = true
		if c.Identity != "" && c.Default != "" {
			d.at(c.Pos, "column %q has both identity and default; keep one", c.Name)
		}
		if c.Generated != "" {
			d.validateGenerated(t, c)
		}
	}
}

// validateGenerated checks generated column c of t: one expression over t's other
// columns that are not generated themselves, with no default, identity or row of its
// own, as PostgreSQL requires.
func (d *decoder) validateGenerated(t *Table, c *Column) {
	switch {
	case c.Default != "" || c.Identity != "":
		d.at(c.Pos, "column %q is generated: it takes no default or identity", c.Name)
		return
	case c.Immutable && c.ImmutableSet:
		d.at(c.Pos, "column %q is generated: no statement writes it, so immutable says nothing; remove it", c.Name)
	}
	e, err := d.sql.Expr(c.Generated)
	if err != nil {
		return // reported where it was read
	}
	if e.HasSubquery() || len(e.Tables()) > 0 {
		d.at(c.Pos, "generated column %q reads a table: it computes from its own row's columns only", c.Name)
		return
	}
	for _, ref := range e.ColumnRefs() {
		switch rc := t.Column(ref.Column); {
		case ref.Table != "" || rc == nil:
			d.at(c.Pos, "generated column %q names %q, which is not a column of table %s", c.Name, ref.Column, t.QualifiedName())
		case rc.Generated != "":
			d.at(c.Pos, "generated column %q reads generated column %q, which PostgreSQL refuses", c.Name, rc.Name)
		}
	}
	for _, r := range t.Rows {
		if _, ok := r.Value(c.Name); ok {
			d.at(r.Pos, "row gives generated column %q, which PostgreSQL computes", c.Name)
		}
	}
}

// PrimaryKey returns the columns of t's primary key, in declaration order.
func (t *Table) PrimaryKey() []string { return primaryKey(t) }

func primaryKey(t *Table) []string {
	var pk []string
	for _, c := range t.Columns {
		if c.PrimaryKey {
			pk = append(pk, c.Name)
		}
	}
	return pk
}

// validateCalls refuses a column default, generated column or check of t that calls a
// function schema.yaml declares: a migration makes the functions after the tables (their
// bodies and results may name them), so the table could not be made.
func (d *decoder) validateCalls(f *File, t *Table) {
	declared := func(expr string) string {
		e, err := d.sql.Expr(expr)
		if err != nil {
			return ""
		}
		for _, call := range e.Functions() {
			schemaName, name, qualified := strings.Cut(call, ".")
			if !qualified {
				schemaName, name = "public", call
			}
			for _, r := range f.Functions {
				if r.Schema == schemaName && r.Name == name {
					return r.Schema + "." + r.Name
				}
			}
		}
		return ""
	}
	refuse := func(p Pos, what, fn string) {
		d.at(p, "%s calls %s(), which schema.yaml declares: a migration makes functions after the tables, so the table could not be made; write the expression itself here", what, fn)
	}
	for _, c := range t.Columns {
		for _, expr := range []string{c.Default, c.Generated} {
			if fn := declared(expr); expr != "" && fn != "" {
				refuse(c.Pos, fmt.Sprintf("column %q's default or generated expression", c.Name), fn)
			}
		}
	}
	for _, ck := range t.Checks {
		if fn := declared(ck.Expr); fn != "" {
			refuse(ck.Pos, fmt.Sprintf("check %q", ck.Name), fn)
		}
	}
}

// validateRows checks that each value a row gives a column of a declared enum type is
// one of its labels: PostgreSQL would refuse the migration.
func (d *decoder) validateRows(f *File, t *Table) {
	for _, r := range t.Rows {
		for i, col := range r.Columns {
			c, v := t.Column(col), r.Values[i]
			if c == nil || v == nil {
				continue
			}
			for _, e := range f.Enums {
				if (c.Type == e.Schema+"."+e.Name || e.Schema == t.Schema && c.Type == e.Name) && !slices.Contains(e.Values, *v) {
					d.at(r.Pos, "row gives column %q the value %q, which is not a value of enum %s.%s (%s)", col, *v, e.Schema, e.Name, strings.Join(e.Values, ", "))
				}
			}
		}
	}
}
