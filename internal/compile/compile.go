// Package compile turns a validated schema.yaml into the desired schema.Schema: ownership
// rules become policies, grants are derived from the policies, owner columns get indexes.
package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Compile returns the schema that f declares. It fails with policy.Errors, each at the
// position in schema.yaml that causes it, when two relations of one database schema
// would get the same name (an index named like a table, two indexes on the same
// columns) or two policies of one table would (a declared name equal to a generated one).
func Compile(f *policy.File) (*schema.Schema, error) {
	s := &schema.Schema{
		Auth:        &schema.Auth{Provider: f.Auth.Provider, UserID: f.Auth.UserID},
		Roles:       slices.Clone(f.Auth.Roles),
		SchemaUsage: map[string][]string{},
	}
	if sig := functionSignature(f.Auth.UserID); sig != "" {
		s.Functions = []string{sig}
	}
	if sig := functionSignature(f.Auth.Claims); sig != "" && usesClaims(f) {
		s.Functions = append(s.Functions, sig)
	}
	for _, t := range f.Tables {
		s.Tables = append(s.Tables, table(f, t))
	}
	for _, k := range objects.Kinds {
		if !k.OnTable {
			for _, d := range k.Declare(f, nil) {
				s.Objects = append(s.Objects, d.Object)
			}
		}
	}
	for _, x := range f.External {
		xt := &schema.Table{Schema: x.Schema, Name: x.Name}
		for _, c := range x.Columns {
			xt.Columns = append(xt.Columns, &schema.Column{Name: c.Name, Type: c.Type})
		}
		s.External = append(s.External, xt)
	}
	errs := groups(f, s)
	for _, o := range s.Objects {
		if o.Schema != "" && !slices.Contains(s.Schemas, o.Schema) { // a publication has none
			s.Schemas = append(s.Schemas, o.Schema)
		}
	}
	for _, o := range s.Objects {
		if k := objects.Of(o); k.Users != nil {
			s.SchemaUsage[o.Schema] = union(s.SchemaUsage[o.Schema], k.Users(o))
		}
	}
	for _, ct := range s.Tables {
		if !slices.Contains(s.Schemas, ct.Schema) {
			s.Schemas = append(s.Schemas, ct.Schema)
		}
		usage := s.SchemaUsage[ct.Schema]
		for _, g := range ct.Grants {
			if g.Role != "public" && !slices.Contains(usage, g.Role) {
				usage = append(usage, g.Role)
			}
		}
		s.SchemaUsage[ct.Schema] = usage
	}
	for _, name := range s.Schemas {
		if platform := s.Auth.PlatformSchemaUsage(name, s.Roles); len(platform) > 0 {
			s.SchemaUsage[name] = union(s.SchemaUsage[name], platform)
		}
	}
	s.Normalize()
	if errs = append(errs, checkNames(f, s)...); len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// checkNames finds names that PostgreSQL would refuse twice: relations (tables, indexes,
// and the indexes behind primary and unique keys) share one namespace per database
// schema, and policies one per table.
func checkNames(f *policy.File, s *schema.Schema) policy.Errors {
	var errs policy.Errors
	add := func(p policy.Pos, format string, args ...any) {
		errs = append(errs, &policy.Error{File: f.Path, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	type named struct {
		what string
		pos  policy.Pos
	}
	relations := map[[2]string]named{}
	claim := func(schemaName, name, what string, pos policy.Pos) {
		key := [2]string{schemaName, name}
		if prev, ok := relations[key]; ok {
			add(pos, "%s would be named %q, like %s (line %d); PostgreSQL keeps one relation of a name per schema: name one of them", what, name, prev.what, prev.pos.Line)
			return
		}
		relations[key] = named{what, pos}
	}
	for i, t := range s.Tables {
		pt := f.Tables[i]
		claim(t.Schema, t.Name, "table "+t.QualifiedName(), pt.Pos)
	}
	// A table's row type is a type of its name: types share that namespace.
	types := map[[2]string]named{}
	for i, t := range s.Tables {
		types[[2]string{t.Schema, t.Name}] = named{"table " + t.QualifiedName(), f.Tables[i].Pos}
	}
	for _, k := range objects.Kinds {
		if k.OnTable || k.Namespace != "type" {
			continue
		}
		for _, d := range k.Declare(f, nil) {
			key := [2]string{d.Object.Schema, d.Object.Name}
			if prev, ok := types[key]; ok {
				add(d.Pos, "%s %s.%s is named like %s (line %d), whose row type PostgreSQL names so: name one of them differently", k.Name, key[0], key[1], prev.what, prev.pos.Line)
				continue
			}
			types[key] = named{k.Name + " " + key[0] + "." + key[1], d.Pos}
		}
	}
	for i, t := range s.Tables {
		pt := f.Tables[i]
		if t.PKName != "" {
			claim(t.Schema, t.PKName, "the primary key of "+t.QualifiedName(), pt.Pos)
		}
		for j, c := range t.Columns {
			if c.Unique {
				claim(t.Schema, c.UniqueName, "the unique key on "+t.QualifiedName()+"."+c.Name, pt.Columns[j].Pos)
			}
			// PostgreSQL names an identity column's sequence table_column_seq (another
			// name only when that one is taken when the table is created).
			if c.Identity != "" {
				if seq := t.Name + "_" + c.Name + "_seq"; len(seq) <= sqlident.MaxLen {
					claim(t.Schema, seq, "the identity sequence of "+t.QualifiedName()+"."+c.Name, pt.Columns[j].Pos)
				}
			}
		}
		for j, ix := range t.Indexes {
			pos := pt.Pos // the owner index has no line of its own
			if j < len(pt.Indexes) {
				pos = pt.Indexes[j].Pos
			}
			claim(t.Schema, ix.Name, "the index on "+t.QualifiedName()+" ("+strings.Join(ix.Columns, ", ")+")", pos)
		}
		var constraints map[string]string // made only for a table that declares constraints
		for _, k := range objects.Kinds {
			if !k.OnTable || k.Namespace != "constraint" {
				continue
			}
			for _, d := range k.Declare(f, pt) {
				if constraints == nil {
					constraints = constraintNames(t)
				}
				if what, ok := constraints[d.Object.Name]; ok {
					add(d.Pos, "%s %q on %s has the name rlsmigrate gives %s; name the %s differently", k.Name, d.Object.Name, t.QualifiedName(), what, k.Name)
				}
			}
		}
		// Triggers share one namespace per table: a declared one may not take the name
		// of a copy column's.
		copies := map[string]bool{}
		for _, d := range objects.Copy.Declare(f, pt) {
			copies[d.Object.Name] = true
		}
		for _, d := range objects.Trigger.Declare(f, pt) {
			if copies[d.Object.Name] {
				add(d.Pos, "trigger %q on %s has the name rlsmigrate gives a trigger that keeps a copy column; name the trigger differently", d.Object.Name, t.QualifiedName())
			}
		}
		policies := map[string]policy.Pos{}
		for j, p := range t.Policies {
			pos := pt.Policies[j].Pos
			if prev, ok := policies[p.Name]; ok {
				add(pos, "policy name %q on %s is also the name of the rule at line %d; name one of them differently", p.Name, t.QualifiedName(), prev.Line)
				continue
			}
			policies[p.Name] = pos
		}
	}
	return errs
}

// constraintNames maps the names rlsmigrate gives the constraints of t to what they are:
// constraints share one namespace per table, and an online NOT NULL holds a check of
// its own for a while.
func constraintNames(t *schema.Table) map[string]string {
	out := map[string]string{t.PKName: "the primary key"}
	for _, c := range t.Columns {
		out[c.UniqueName] = "the unique key on " + c.Name
		if c.References != nil {
			out[c.References.Name] = "the foreign key of " + c.Name
		}
		out[sqlident.Name(t.Name, c.Name, "not_null")] = "the check that sets " + c.Name + " NOT NULL online"
	}
	delete(out, "")
	return out
}

// functionSignature returns "schema.name()" when expr is a call without arguments,
// such as auth.user_id(), and "" for any other expression.
func functionSignature(expr string) string {
	if e, err := sqlparse.ParseExpr(expr); err == nil {
		if name, ok := e.Call(); ok {
			return name + "()"
		}
	}
	return ""
}

func table(f *policy.File, t *policy.Table) *schema.Table {
	ct := &schema.Table{
		Schema:      t.Schema,
		Name:        t.Name,
		RenamedFrom: t.RenamedFrom,
		RLS:         t.RLS,
		ForceRLS:    t.ForceRLS,
		Owner:       t.Owner,
		Comment:     t.Comment,
	}
	for _, c := range t.Columns {
		cc := &schema.Column{
			Name:        c.Name,
			Type:        c.Type,
			NotNull:     c.NotNull || c.PrimaryKey || c.Identity != "",
			Default:     c.Default,
			Generated:   c.Generated,
			Identity:    c.Identity,
			Unique:      c.Unique,
			RenamedFrom: c.RenamedFrom,
			Using:       c.Using,
			Comment:     c.Comment,
		}
		if c.Unique {
			cc.UniqueName = sqlident.Name(t.Name, c.Name, "key")
		}
		if r := c.References; r != nil {
			cc.References = &schema.ForeignKey{
				Name:     sqlident.Name(t.Name, c.Name, "fkey"),
				Schema:   r.Schema,
				Table:    r.Table,
				Column:   r.Column,
				OnDelete: r.OnDelete,
			}
			if cc.References.OnDelete == "no action" {
				cc.References.OnDelete = ""
			}
		}
		if c.PrimaryKey {
			ct.PrimaryKey = append(ct.PrimaryKey, c.Name)
		}
		ct.Columns = append(ct.Columns, cc)
	}
	if len(ct.PrimaryKey) > 0 {
		ct.PKName = sqlident.Name(t.Name, "pkey")
	}
	n := namer{t: t}
	for _, ix := range t.Indexes {
		cx := &schema.Index{Name: ix.Name, Columns: ix.Columns, Unique: ix.Unique}
		if cx.Name == "" {
			cx.Name, cx.RenamedFrom = n.generated(append(slices.Clone(ix.Columns), "idx"), len(ix.Columns))
		}
		ct.Indexes = append(ct.Indexes, cx)
	}
	if t.Owner != "" && t.OwnerIndex && !Covers(ct, []string{t.Owner}) {
		cx := &schema.Index{Columns: []string{t.Owner}}
		cx.Name, cx.RenamedFrom = n.generated([]string{t.Owner, "idx"}, 1)
		ct.Indexes = append(ct.Indexes, cx)
	}
	for _, k := range objects.Kinds {
		if k.OnTable {
			for _, d := range k.Declare(f, t) {
				ct.Objects = append(ct.Objects, d.Object)
			}
		}
	}
	ct.Policies = policies(f, t, n)
	ct.Grants = grants(t, ct.Policies)
	immutable(t, ct.Grants)
	return ct
}

// namer builds the names rlsmigrate gives indexes and policies from the table's name and
// column names; when the table or a column is renamed, it also returns the name the
// object had before, so that the object is renamed rather than dropped and created.
type namer struct {
	t *policy.Table
}

// generated returns the name of table + parts, whose first columns parts are column
// names, and the old name when a rename changed it.
func (n namer) generated(parts []string, columns int) (name, renamedFrom string) {
	all := append([]string{n.t.Name}, parts...)
	name = sqlident.Name(all...)
	renamed := false
	if n.t.RenamedFrom != "" {
		all[0], renamed = n.t.RenamedFrom, true
	}
	for i, p := range parts[:columns] {
		if c := n.t.Column(p); c != nil && c.RenamedFrom != "" {
			all[i+1], renamed = c.RenamedFrom, true
		}
	}
	if !renamed {
		return name, ""
	}
	if oldName := sqlident.Name(all...); oldName != name {
		renamedFrom = oldName
	}
	return name, renamedFrom
}

func policies(f *policy.File, t *policy.Table, n namer) []*schema.Policy {
	var out []*schema.Policy
	// Generated names step aside for every declared one.
	used := map[string]bool{}
	for _, r := range t.Policies {
		if r.Name != "" {
			used[r.Name] = true
		}
	}
	for _, r := range t.Policies {
		p := &schema.Policy{Command: r.Operation, Restrictive: r.Restrictive, Roles: slices.Clone(r.To), Builtin: r.Kind != policy.RuleCustom}
		p.Using, p.Check = r.Conditions(f, t)
		p.Name = r.Name
		if p.Name == "" {
			kind := string(r.Kind)
			if r.Kind == policy.RuleCustom {
				kind = "rule"
			}
			p.Name, p.RenamedFrom = n.generated([]string{r.Operation, kind}, 0)
			for i := 2; used[p.Name]; i++ {
				p.Name, p.RenamedFrom = n.generated([]string{r.Operation, kind, fmt.Sprint(i)}, 0)
			}
		}
		used[p.Name] = true
		slices.Sort(p.Roles)
		out = append(out, p)
	}
	return out
}

// grants returns the explicit grants of t, or else each policy's roles granted the
// policy's operation.
func grants(t *policy.Table, ps []*schema.Policy) []*schema.Grant {
	byRole := map[string][]string{}
	var roles []string
	add := func(role string, privs ...string) {
		if _, ok := byRole[role]; !ok {
			roles = append(roles, role)
		}
		byRole[role] = append(byRole[role], privs...)
	}
	if t.Grants != nil {
		for _, g := range t.Grants {
			add(g.Role, g.Privileges...)
		}
	} else {
		for _, p := range ps {
			for _, role := range p.Roles {
				add(role, p.Command)
			}
		}
	}
	var out []*schema.Grant
	for _, role := range roles {
		if privs := schema.SortPrivileges(byRole[role]); len(privs) > 0 {
			out = append(out, &schema.Grant{Role: role, Privileges: privs})
		}
	}
	return out
}
