package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// validateAccess checks groups and the rules that use them, claim rules, immutable
// columns, and that no policy reads a table whose policies read it back.
func (d *decoder) validateAccess(f *File) {
	if f.Auth.Claims == "" && f.Auth.Provider != "none" {
		f.Auth.Claims = DefaultClaims
	}
	id := f.IdentityType() // parsed once: a file may hold 50,000 owner columns
	if spelled := f.spelledIdentityType(); f.Auth.UserType != "" && spelled != "" && spelled != id {
		d.at(f.Auth.Pos, "auth.user_type is %s, but the identity %s is %s: cast it (auth.user_id: \"(%s)::%s\") or drop user_type",
			f.Auth.UserType, f.Auth.UserID, spelled, f.Auth.UserID, id)
	}
	for _, g := range f.Groups {
		d.validateGroup(f, g, id)
	}
	for _, t := range f.Tables {
		if c := t.Column(t.Owner); c != nil && t.Owner != "" {
			d.identityColumn(f, id, c.Pos, "owner column "+t.QualifiedName()+"."+c.Name, c)
		}
		for _, r := range t.Policies {
			if v := ruleKinds[r.Kind].validate; v != nil {
				v(d, f, t, r)
			}
		}
		immutableOwner(t)
	}
	d.recursion(f)
}

// IdentityType returns the type of the caller's identity, auth.user_id, as
// PostgreSQL's parser spells it: auth.user_type when the file says it, else the type
// the identity casts to, text for pg_session_jwt's auth.user_id(), uuid for
// Supabase's auth.uid(), or "" when the file does not say (another function).
func (f *File) IdentityType() string {
	if t, _ := sqlparse.ParseType(f.Auth.UserType, sqlident.Quote); f.Auth.UserType != "" {
		return t
	}
	return f.spelledIdentityType()
}

// spelledIdentityType is IdentityType from auth.user_id alone.
func (f *File) spelledIdentityType() string {
	switch f.Auth.UserID {
	case DefaultUserID:
		return "text"
	case SupabaseUserID:
		return "uuid"
	}
	if e, err := sqlparse.ParseExpr(f.Auth.UserID); err == nil {
		if typ, ok := e.CastType(); ok {
			return typ
		}
	}
	return ""
}

// identityColumn refuses, at pos, a column compared with the caller's identity (of type
// id, "" when unknown) that cannot hold an id, or whose type PostgreSQL cannot compare
// with it (text = uuid has no operator): what is said about it is what.
func (d *decoder) identityColumn(f *File, id string, pos Pos, what string, c *Column) {
	if c.Type != "" && !sqlparse.GroupIDType(c.Type) && c.Type != id {
		d.at(pos, "%s is %s, which cannot hold the caller's id as it is: declare it text, varchar, uuid or an integer type, like the identity %s", what, c.Type, f.Auth.UserID)
		return
	}
	if id == "" || c.Type == "" || sqlparse.Comparable(c.Type, id) {
		return
	}
	d.at(pos, "%s is %s, but the identity %s is %s, and PostgreSQL has no %s = %s: declare the column %s, or cast the identity with auth.user_id: \"(auth.user_id())::%s\"",
		what, c.Type, f.Auth.UserID, id, c.Type, id, id, c.Type)
}

// DefaultClaims is the SQL expression for the caller's claims, as pg_session_jwt (and
// rlsmigrate's fallback of it) provides them.
const DefaultClaims = "auth.session()"

func (d *decoder) validateGroup(f *File, g *Group, id string) {
	t := f.Table(g.Schema, g.Table)
	if t == nil {
		if g.Table != "" {
			d.at(g.Pos, "group %q reads table %s.%s, which is not declared under tables", g.Name, g.Schema, g.Table)
		}
		return
	}
	for _, c := range []struct{ name, what string }{{g.GroupColumn, "group"}, {g.UserColumn, "user"}} {
		if c.name != "" && t.Column(c.name) == nil {
			d.at(g.Pos, "group %q: %s column %q is not a column of table %s", g.Name, c.what, c.name, t.QualifiedName())
		}
	}
	if c := t.Column(g.GroupColumn); c != nil && g.GroupColumn != "" && !sqlparse.GroupIDType(c.Type) {
		d.at(g.Pos, "group %q holds ids of column %s.%s, which is %s; a group id must be an integer, numeric, text, varchar or uuid column", g.Name, t.Name, c.Name, c.Type)
	}
	if c := t.Column(g.UserColumn); c != nil && g.UserColumn != "" {
		d.identityColumn(f, id, g.Pos, fmt.Sprintf("the user column %s.%s of group %q", t.Name, c.Name, g.Name), c)
	}
	for _, fl := range g.Where {
		c := t.Column(fl.Column)
		if c == nil {
			d.at(fl.Pos, "group %q filters on column %q, which table %s does not have", g.Name, fl.Column, t.QualifiedName())
			continue
		}
		for _, v := range fl.Values {
			if !sqlparse.ValidLiteral(c.Type, v) {
				d.at(fl.Pos, "group %q filters column %s.%s (%s) on %q, which is not a value of that type", g.Name, t.Name, fl.Column, c.Type, v)
			}
		}
	}
	if t.ForceRLS {
		d.at(g.Pos, "group %q reads table %s, which has force_rls: true: its function would run that table's policies inside every policy that uses it, and recurse; drop force_rls or use another table", g.Name, t.QualifiedName())
	}
}

// MemberColumn returns the column of t that a member rule r compares: its column, or
// else the group's column when t has one of that name.
func (r *Rule) MemberColumn(f *File, t *Table) string {
	if r.Column != "" {
		return r.Column
	}
	if g := f.Group(r.Group); g != nil && r.Through == nil && t.Column(g.GroupColumn) != nil {
		return g.GroupColumn
	}
	return ""
}

func (d *decoder) validateMember(f *File, t *Table, r *Rule) {
	g := f.Group(r.Group)
	if g == nil {
		names := "none"
		if len(f.Groups) > 0 {
			var ns []string
			for _, g := range f.Groups {
				ns = append(ns, g.Name)
			}
			names = strings.Join(ns, ", ")
		}
		d.at(r.Pos, "member rule names group %q, which is not declared under groups (declared: %s)", r.Group, names)
		return
	}
	gt := f.Table(g.Schema, g.Table)
	col := r.MemberColumn(f, t)
	if col == "" {
		d.at(r.Pos, "member rule on %s needs \"column\": the table has no column %q like group %q", t.QualifiedName(), g.GroupColumn, g.Name)
		return
	}
	c := t.Column(col)
	if c == nil {
		d.at(r.Pos, "member rule names column %q, which table %s does not have", col, t.QualifiedName())
		return
	}
	if gt == nil || gt.Column(g.GroupColumn) == nil {
		return // reported with the group
	}
	want := gt.Column(g.GroupColumn).Type
	if th := r.Through; th != nil {
		if th.Schema == "" {
			th.Schema = t.Schema
		}
		tt := f.Table(th.Schema, th.Table)
		switch {
		case tt == nil:
			d.at(th.Pos, "through names table %s.%s, which is not declared", th.Schema, th.Table)
			return
		case c.References == nil || c.References.Schema != th.Schema || c.References.Table != th.Table:
			d.at(th.Pos, "through %s needs column %s.%s to reference it (add references: {table: %s})", tt.QualifiedName(), t.Name, col, th.Table)
			return
		case tt.Column(th.Column) == nil:
			d.at(th.Pos, "through.column %q is not a column of table %s", th.Column, tt.QualifiedName())
			return
		case tt.ForceRLS:
			d.at(th.Pos, "through table %s has force_rls: true: the function that reads it would run its policies inside every policy that uses it; drop force_rls", tt.QualifiedName())
		}
		if got := tt.Column(th.Column).Type; got != want {
			d.at(th.Pos, "through.column %s.%s is %s, but group %q holds %s; they must be the same type", th.Table, th.Column, got, g.Name, want)
		}
		return
	}
	if c.Type != want {
		d.at(r.Pos, "member rule compares column %s.%s (%s) with group %q, which holds %s; they must be the same type", t.Name, col, c.Type, g.Name, want)
	}
}

// immutableOwner makes the owner column immutable where an update rule lets someone
// other than the owner change a row, so that an editor cannot take it, unless the file
// says otherwise.
func immutableOwner(t *Table) {
	c := t.Column(t.Owner)
	if c == nil || c.ImmutableSet {
		return
	}
	for _, r := range t.Policies {
		if r.Operation == "update" && r.Kind != RuleOwner && !r.Restrictive {
			c.Immutable = true
			return
		}
	}
}

// recursion reports every way a policy makes PostgreSQL expand a table's row-level
// security inside its own expansion, which fails every such query with 42P17. As
// PostgreSQL does it: a policy with a subquery expands the SELECT policies of each table
// it reads; a table whose SELECT policies hold no subquery ends the chain; reaching a
// table already being expanded is recursion. Rules that read a group do it through a
// SECURITY DEFINER function and read no table; owner, member and claim conditions hold a
// subquery of their own (the identity, read once per statement).
func (d *decoder) recursion(f *File) {
	reported := map[string]bool{}
	var stack []*Table
	var walk func(u *Table, at Pos)
	walk = func(u *Table, at Pos) {
		if !u.RLS || !selectHasSubquery(u) {
			return
		}
		if i := slices.Index(stack, u); i >= 0 {
			var names []string
			for _, t := range stack[i:] {
				names = append(names, t.Name)
			}
			if key := canonicalCycle(names); !reported[key] {
				reported[key] = true
				d.at(at, "policies recurse: %s → %s (PostgreSQL would fail with 42P17); read the table through a group (groups:) or a SECURITY DEFINER function", strings.Join(names, " → "), u.Name)
			}
			return
		}
		stack = append(stack, u)
		for _, r := range u.Policies {
			if r.Operation == "select" {
				for _, read := range r.reads {
					if v := resolve(f, u, read.Schema, read.Name); v != nil {
						walk(v, at)
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
	}
	for _, t := range f.Tables {
		if !t.RLS {
			continue
		}
		for _, r := range t.Policies {
			for _, read := range r.reads {
				if u := resolve(f, t, read.Schema, read.Name); u != nil {
					stack = []*Table{t}
					walk(u, read.Pos)
				}
			}
		}
	}
}

// selectHasSubquery reports whether a SELECT policy of t holds a subquery.
func selectHasSubquery(t *Table) bool {
	for _, r := range t.Policies {
		if r.Operation == "select" && r.hasSubquery() {
			return true
		}
	}
	return false
}

// hasSubquery reports whether r's condition holds a subquery.
func (r *Rule) hasSubquery() bool {
	if ruleKinds[r.Kind].callsFunction {
		return true
	}
	for _, s := range []string{r.Using, r.Check, r.Where} {
		if e, err := sqlparse.ParseExpr(s); s != "" && err == nil && e.HasSubquery() {
			return true
		}
	}
	return false
}

// canonicalCycle names a cycle the same whichever table it is entered from.
func canonicalCycle(names []string) string {
	best := ""
	for i := range names {
		rot := strings.Join(append(slices.Clone(names[i:]), names[:i]...), "\x00")
		if best == "" || rot < best {
			best = rot
		}
	}
	return best
}

// resolve returns the declared table a SQL name in a rule of t reads: qualified, or
// unqualified in t's schema, then in public.
func resolve(f *File, t *Table, schema, name string) *Table {
	if schema != "" {
		return f.Table(schema, name)
	}
	if u := f.Table(t.Schema, name); u != nil {
		return u
	}
	return f.Table("public", name)
}
