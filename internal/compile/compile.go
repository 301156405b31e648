// Package compile turns a validated schema.yaml into the desired schema.Schema: ownership
// rules become policies, grants are derived from the policies, owner columns get indexes.
package compile

import (
	"fmt"
	"slices"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Compile returns the schema that f declares.
func Compile(f *policy.File) *schema.Schema {
	s := &schema.Schema{
		Auth:        &schema.Auth{Provider: f.Auth.Provider, UserID: f.Auth.UserID},
		Roles:       slices.Clone(f.Auth.Roles),
		SchemaUsage: map[string][]string{},
	}
	for _, t := range f.Tables {
		ct := table(f, t)
		s.Tables = append(s.Tables, ct)
		if !slices.Contains(s.Schemas, t.Schema) {
			s.Schemas = append(s.Schemas, t.Schema)
		}
		usage := s.SchemaUsage[t.Schema]
		for _, g := range ct.Grants {
			if g.Role != "public" && !slices.Contains(usage, g.Role) {
				usage = append(usage, g.Role)
			}
		}
		s.SchemaUsage[t.Schema] = usage
	}
	s.Normalize()
	return s
}

// OwnerExpr is the condition "the caller owns the row": the identity call wrapped in a
// scalar subquery, so PostgreSQL evaluates it once per statement and can use an index on
// the owner column.
func OwnerExpr(userID, ownerColumn string) string {
	return fmt.Sprintf("(select %s) = %s", userID, sqlident.Quote(ownerColumn))
}

func table(f *policy.File, t *policy.Table) *schema.Table {
	ct := &schema.Table{
		Schema:      t.Schema,
		Name:        t.Name,
		RenamedFrom: t.RenamedFrom,
		RLS:         t.RLS,
		ForceRLS:    t.ForceRLS,
		Owner:       t.Owner,
	}
	for _, c := range t.Columns {
		cc := &schema.Column{
			Name:        c.Name,
			Type:        c.Type,
			NotNull:     c.NotNull || c.PrimaryKey || c.Identity != "",
			Default:     c.Default,
			Identity:    c.Identity,
			Unique:      c.Unique,
			RenamedFrom: c.RenamedFrom,
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
	for _, ix := range t.Indexes {
		name := ix.Name
		if name == "" {
			name = sqlident.Name(append([]string{t.Name}, append(slices.Clone(ix.Columns), "idx")...)...)
		}
		ct.Indexes = append(ct.Indexes, &schema.Index{Name: name, Columns: ix.Columns, Unique: ix.Unique})
	}
	if t.Owner != "" && t.OwnerIndex && !leads(ct, t.Owner) {
		ct.Indexes = append(ct.Indexes, &schema.Index{Name: sqlident.Name(t.Name, t.Owner, "idx"), Columns: []string{t.Owner}})
	}
	ct.Policies = policies(f, t)
	ct.Grants = grants(t, ct.Policies)
	return ct
}

// leads reports whether an index or key of t already starts with column.
func leads(t *schema.Table, column string) bool {
	if len(t.PrimaryKey) > 0 && t.PrimaryKey[0] == column {
		return true
	}
	if c := t.Column(column); c != nil && c.Unique {
		return true
	}
	for _, ix := range t.Indexes {
		if ix.Columns[0] == column {
			return true
		}
	}
	return false
}

func policies(f *policy.File, t *policy.Table) []*schema.Policy {
	var out []*schema.Policy
	used := map[string]bool{}
	for _, r := range t.Policies {
		p := &schema.Policy{Command: r.Operation, Restrictive: r.Restrictive, Roles: slices.Clone(r.To)}
		var cond string
		switch r.Kind {
		case policy.RuleOwner:
			cond = OwnerExpr(f.Auth.UserID, t.Owner)
		case policy.RuleAnyone:
			cond = "true"
		}
		switch {
		case r.Kind == policy.RuleCustom:
			p.Using, p.Check = r.Using, r.Check
		case r.Operation == "insert":
			p.Check = cond
		case r.Operation == "update":
			p.Using, p.Check = cond, cond
		default:
			p.Using = cond
		}
		p.Name = r.Name
		if p.Name == "" {
			kind := string(r.Kind)
			if r.Kind == policy.RuleCustom {
				kind = "rule"
			}
			p.Name = sqlident.Name(t.Name, r.Operation, kind)
			for i := 2; used[p.Name]; i++ {
				p.Name = sqlident.Name(t.Name, r.Operation, kind, fmt.Sprint(i))
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
