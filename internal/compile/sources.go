package compile

import (
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Sources maps the objects Compile makes back to where schema.yaml declares them, so
// that a finding about an object can point at its line.
type Sources struct {
	File string                   // the schema.yaml path, as errors name it
	at   map[[4]string]policy.Pos // by kind of object (table, column, index, policy, function, role), schema, table, name
}

// SourcesOf returns the positions of the objects of s, which Compile made from f: each
// table, column, index, policy and group function at its own line; what has no line of
// its own (the owner index, grants, keys) at its table's; roles at auth's.
func SourcesOf(f *policy.File, s *schema.Schema) Sources {
	src := Sources{File: f.Path, at: map[[4]string]policy.Pos{}}
	put := func(what, schemaName, table, name string, p policy.Pos) {
		if p.Line > 0 {
			src.at[[4]string{what, schemaName, table, name}] = p
		}
	}
	for i, t := range s.Tables {
		if i >= len(f.Tables) {
			break
		}
		pt := f.Tables[i]
		put("table", t.Schema, t.Name, "", pt.Pos)
		for j, c := range t.Columns {
			put("column", t.Schema, t.Name, c.Name, pt.Columns[j].Pos)
		}
		for j, ix := range t.Indexes {
			if j < len(pt.Indexes) {
				put("index", t.Schema, t.Name, ix.Name, pt.Indexes[j].Pos)
			}
		}
		for j, p := range t.Policies {
			put("policy", t.Schema, t.Name, p.Name, pt.Policies[j].Pos)
		}
		for _, k := range objects.Kinds {
			if k.OnTable {
				for _, d := range k.Declare(f, pt) {
					put(k.Name, t.Schema, t.Name, d.Object.Name, d.Pos)
				}
			}
		}
		for _, c := range pt.Columns {
			if c.Copy != nil {
				fill, follow := policy.CopyFunctions(pt, c)
				put("function", policy.FunctionSchema, "", fill+"()", c.Copy.Pos)
				put("function", policy.FunctionSchema, "", follow+"()", c.Copy.Pos)
			}
		}
		for _, r := range pt.Policies {
			if th := r.Through; th != nil && r.Kind == policy.RuleMember {
				if c := pt.Column(r.MemberColumn(f, pt)); c != nil && c.References != nil && pt.CopyOf(c.Name, th.Column) == nil {
					put("function", policy.FunctionSchema, "", policy.ThroughFunction(r.Group, th, c.References.Column)+"()", th.Pos)
				}
			}
		}
	}
	for _, g := range f.Groups {
		put("function", policy.FunctionSchema, "", g.Function()+"()", g.Pos)
	}
	for _, k := range objects.Kinds {
		if !k.OnTable {
			for _, d := range k.Declare(f, nil) {
				put(k.Name, d.Object.Schema, "", d.Object.Name, d.Pos)
			}
		}
	}
	for _, r := range s.Roles {
		put("role", "", "", r, f.Auth.Pos)
	}
	return src
}

// Of returns where schema.yaml declares the object of kind what (table, column, index,
// policy, function or role) called name, of table schema.table (table "" for objects
// outside tables), or else the table, or false when neither is declared there.
func (s Sources) Of(what, schemaName, table, name string) (policy.Pos, bool) {
	if p, ok := s.at[[4]string{what, schemaName, table, name}]; ok {
		return p, true
	}
	if table == "" {
		return policy.Pos{}, false
	}
	p, ok := s.at[[4]string{"table", schemaName, table, ""}]
	return p, ok
}
