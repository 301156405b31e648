package pull

import (
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// table is a pulled table.
type table struct {
	src   *schema.Table
	owner string
	rules []*rule
	// immutable holds the columns whose immutable key is written, with its value.
	immutable map[string]bool
	copies    map[string]*policy.Copy // the copy columns, by name
	grants    bool                    // write the grants: the derived ones differ
	// ownerIndexOff writes owner_index: false: no index of the database starts with
	// the owner column or a member rule's, which the file would index (unindexed).
	ownerIndexOff bool
	// declaredGrants are the grants schema.yaml states: all but those of the
	// platform's role (Supabase's service_role) when the file does not name it
	// otherwise, whose privileges diff leaves to the platform (see declareGrants).
	declaredGrants []*schema.Grant
}

// table reads t.
func (p *puller) table(t *schema.Table) *table {
	tb := &table{src: t, immutable: map[string]bool{}, copies: map[string]*policy.Copy{}}
	p.copies(t, tb)
	p.rules(t, tb)
	name := t.QualifiedName()
	if !t.RLS && len(t.Policies) > 0 {
		p.find(FindNote, name, "row-level security is off, so its %d policies never applied: schema.yaml keeps them and enables it (the next migration turns it on, and the policies then decide who sees which rows)", len(t.Policies))
	}
	if t.PKName != "" && t.PKName != generatedName(t.Name, "pkey") {
		p.find(FindLeftOut, name, "primary key named %s: rlsmigrate names it %s, and the next migration renames it", t.PKName, generatedName(t.Name, "pkey"))
	}
	for _, c := range t.Columns {
		if c.Unique && c.UniqueName != generatedName(t.Name, c.Name, "key") {
			p.find(FindLeftOut, name, "unique key %s: rlsmigrate names it %s, and the next migration renames it", c.UniqueName, generatedName(t.Name, c.Name, "key"))
		}
		if fk := c.References; fk != nil && fk.Name != generatedName(t.Name, c.Name, "fkey") {
			p.find(FindLeftOut, name, "foreign key %s: rlsmigrate names it %s, and the next migration renames it", fk.Name, generatedName(t.Name, c.Name, "fkey"))
		}
	}
	return tb
}

// node returns tb as schema.yaml's tables write it.
func (tb *table) node() *yaml.Node {
	t := tb.src
	m := mapping(false)
	m.setStr("name", t.Name)
	setSchema(m, t.Schema)
	var cols []*yaml.Node
	for _, c := range t.Columns {
		cols = append(cols, tb.column(c))
	}
	m.set("columns", sequence(cols))
	m.setStr("comment", t.Comment)
	m.setStr("owner", tb.owner)
	if tb.ownerIndexOff {
		m.set("owner_index", boolean(false))
	}
	if !t.RLS && len(tb.rules) == 0 {
		m.set("rls", boolean(false))
	}
	m.setTrue("force_rls", t.ForceRLS)
	var indexes []*yaml.Node
	for _, ix := range t.Indexes {
		im := mapping(true)
		im.set("columns", list(ix.Columns))
		im.setTrue("unique", ix.Unique)
		if ix.Name != generatedName(t.Name, append(slices.Clone(ix.Columns), "idx")...) {
			im.setStr("name", ix.Name)
		}
		indexes = append(indexes, im.n)
	}
	if len(indexes) > 0 {
		m.set("indexes", sequence(indexes))
	}
	for _, k := range tableKinds {
		if items := k.nodes(t); len(items) > 0 {
			m.set(k.key, sequence(items))
		}
	}
	if len(tb.rules) > 0 {
		pm := mapping(false)
		for _, op := range policy.Operations {
			var items []*yaml.Node
			for _, r := range tb.rules {
				if r.op == op {
					items = append(items, r.node())
				}
			}
			switch len(items) {
			case 0:
			case 1:
				pm.set(op, items[0])
			default:
				pm.set(op, sequence(items))
			}
		}
		m.set("policies", pm.n)
	}
	if tb.grants {
		gm := mapping(false)
		for _, g := range tb.declaredGrants {
			privs := slices.Clone(g.Privileges)
			if len(g.Columns["update"]) > 0 {
				privs = schema.SortPrivileges(append(privs, "update"))
			}
			gm.set(g.Role, list(privs))
		}
		if gm.empty() {
			m.set("grants", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle})
		} else {
			m.set("grants", gm.n)
		}
	}
	return m.n
}

// column returns c as a column mapping.
func (tb *table) column(c *schema.Column) *yaml.Node {
	t := tb.src
	m := mapping(true)
	m.setStr("name", c.Name)
	m.setStr("type", c.Type)
	m.setStr("identity", c.Identity)
	pk := slices.Contains(t.PrimaryKey, c.Name)
	m.setTrue("primary_key", pk)
	m.setTrue("not_null", c.NotNull && !pk && c.Identity == "")
	m.setTrue("unique", c.Unique)
	m.setStr("default", c.Default)
	m.setStr("generated", c.Generated)
	if fk := c.References; fk != nil {
		rm := mapping(true)
		rm.setStr("table", fk.Table)
		if fk.Schema != t.Schema || fk.Schema != "public" {
			rm.setStr("schema", fk.Schema)
		}
		rm.setStr("column", fk.Column)
		rm.setStr("on_delete", fk.OnDelete)
		m.set("references", rm.n)
	}
	if v, ok := tb.immutable[c.Name]; ok {
		m.set("immutable", boolean(v))
	}
	if cp := tb.copies[c.Name]; cp != nil {
		m.set("copy", copyNode(cp))
	}
	m.setStr("comment", c.Comment)
	return m.n
}

// adjust compares the compiled first file with the database and writes what the file
// must say for the compiled schema to match it: policy names that differ from the
// generated ones, columns immutable (or not) as the grants show, and grants where the
// derived ones differ.
func (p *puller) adjust(compiled *schema.Schema) bool {
	changed := false
	for _, f := range compiled.Routines {
		if have := p.s.Routine(f.Schema, f.Name); have != nil && have.Body != f.Body && len(p.auth.userIDs) > 1 {
			p.auth.userIDs = p.auth.userIDs[1:]
			p.auth.userID, changed = p.auth.userIDs[0], true
			break
		}
	}
	byName := compiled.TableIndex()
	for _, tb := range p.tables {
		ct := byName[[2]string{tb.src.Schema, tb.src.Name}]
		if ct == nil {
			continue
		}
		for i, r := range tb.rules {
			if i < len(ct.Policies) && r.name != "" && ct.Policies[i].Name != r.name && !r.nameWritten {
				r.nameWritten, changed = true, true
			}
		}
		if col := tb.unindexed(ct); col != "" && !tb.ownerIndexOff {
			tb.ownerIndexOff, changed = true, true
			p.find(FindNote, tb.src.QualifiedName(), "no index starts with column %s, which its policies compare with the caller (or the caller's groups), so each of them reads every row: schema.yaml says owner_index: false, as the database has it; remove that line and the next migration adds the index", col)
		}
		want := mutableColumns(tb.src)
		have := mutableColumns(ct)
		for _, c := range tb.src.Columns {
			w, h := want == nil || slices.Contains(want, c.Name), have == nil || slices.Contains(have, c.Name)
			if w != h {
				if _, set := tb.immutable[c.Name]; !set {
					tb.immutable[c.Name], changed = !w, true
				}
			}
		}
		if !tb.grants && !sameGrants(tb.declaredGrants, ct.Grants) {
			tb.grants, changed = true, true
		}
	}
	return changed
}

// unindexed returns a column of the owner or of a member rule of tb that the compiled
// table ct indexes (owner_index, the default, adds it) and that no index of the
// database starts with; "" when there is none.
func (tb *table) unindexed(ct *schema.Table) string {
	cols := []string{tb.owner}
	for _, r := range tb.rules {
		if r.kind == policy.RuleMember {
			cols = append(cols, r.column)
		}
	}
	for _, c := range cols {
		if c != "" && !compile.Covers(tb.src, []string{c}) && ct.Index(generatedName(ct.Name, c, "idx")) != nil {
			return c
		}
	}
	return ""
}

// mutableColumns returns the columns the roles may update when the grants name
// columns (immutable ones are left out), or nil when they grant UPDATE on the table.
func mutableColumns(t *schema.Table) []string {
	for _, g := range t.Grants {
		if cols := g.Columns["update"]; len(cols) > 0 {
			return cols
		}
	}
	return nil
}

// sameGrants reports whether two tables' grants hold the same privileges per role,
// column privileges counted as the privilege.
func sameGrants(a, b []*schema.Grant) bool {
	flat := func(gs []*schema.Grant) map[string][]string {
		out := map[string][]string{}
		for _, g := range gs {
			privs := slices.Clone(g.Privileges)
			for priv := range maps.Keys(g.Columns) {
				privs = append(privs, priv)
			}
			if privs = schema.SortPrivileges(privs); len(privs) > 0 {
				out[g.Role] = privs
			}
		}
		return out
	}
	return maps.EqualFunc(flat(a), flat(b), slices.Equal[[]string])
}

// declareGrants sets each table's declaredGrants: every grant, but those of a role the
// provider's platform owns (Supabase's service_role) unless a rule, function or view
// names it. Undeclared, its privileges are the platform's, which diff leaves alone;
// once named, every one of them is compared, so every one is written.
func (p *puller) declareGrants() {
	platform := &schema.Auth{Provider: p.auth.provider}
	named := map[string]bool{}
	for _, tb := range p.tables {
		for _, r := range tb.rules {
			for _, role := range r.to {
				named[role] = true
			}
		}
	}
	for _, k := range schemaKinds {
		for _, role := range k.roles(p) {
			named[role] = true
		}
	}
	for _, tb := range p.tables {
		for _, g := range tb.src.Grants {
			if !platform.PlatformBypass(g.Role) || named[g.Role] {
				tb.declaredGrants = append(tb.declaredGrants, g)
			}
		}
	}
}
