package pull

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// group is a group read back from its function in schema rls: the ids of column
// group of the rows of table whose user column is the caller's, filtered by where; or,
// for a through function, the ids (column ref) of the rows of table whose column holds
// an id of group through.
type group struct {
	function      string
	name          string
	schema, table string
	column        string // the group column, or the through table's group column
	user          string
	where         []sqlparse.Equality
	through       *group // set on a through function: the group it reaches
	execute       []string
}

// groupOf returns the group whose function (or through function) is named fn, or nil.
func (p *puller) groupOf(fn string) *group {
	for _, g := range slices.Concat(p.groups, p.throughs) {
		if g.function == fn {
			return g
		}
	}
	return nil
}

// readGroups reads the group functions of schema rls, then the through functions that
// call them, each function parsed once.
func (p *puller) readGroups() {
	var rest []*schema.Function
	for _, f := range p.s.Routines {
		if isCopyFunction(f) {
			continue
		}
		if g := p.groupFunction(f); g != nil {
			p.groups = append(p.groups, g)
		} else {
			rest = append(rest, f)
		}
	}
	for _, f := range rest {
		if g := p.throughFunction(f); g != nil {
			p.throughs = append(p.throughs, g)
		} else {
			p.find(FindLeftOut, f.Signature(), "a function of schema %s that is no group function: rlsmigrate owns the schema, so the next migration drops it; declare it in another schema", policy.FunctionSchema)
		}
	}
}

// returnedSet returns the ColumnSet a group or through function returns, when it is
// one rlsmigrate writes: PL/pgSQL, STABLE, SECURITY DEFINER, search_path empty.
func returnedSet(f *schema.Function) (sqlparse.ColumnSet, bool) {
	if f.Schema != policy.FunctionSchema || f.Language != "plpgsql" || f.Volatility != "s" || !f.SecurityDefiner ||
		!slices.Equal(f.Settings, []string{`search_path=""`}) {
		return sqlparse.ColumnSet{}, false
	}
	e, ok := sqlparse.PLpgSQLReturn("CREATE FUNCTION f() RETURNS " + f.Returns + " LANGUAGE plpgsql AS " + sqlident.DollarQuote(f.Body))
	if !ok {
		return sqlparse.ColumnSet{}, false
	}
	return e.ColumnSet()
}

// groupFunction reads f as a group's function, or returns nil.
func (p *puller) groupFunction(f *schema.Function) *group {
	cs, ok := returnedSet(f)
	if !ok || len(cs.Where) == 0 || p.tableNamed(cs.Schema, cs.Table) == nil || !policy.ValidGroupName(f.Name) {
		return nil
	}
	it, ok := cs.Where[0].IdentityTest()
	if !ok || it.PerStatement || !sqlparse.Equivalent(it.Call, p.auth.userID) {
		return nil
	}
	g := &group{function: f.Name, name: f.Name, schema: cs.Schema, table: cs.Table, column: cs.Column, user: it.Column, execute: f.Execute}
	for _, w := range cs.Where[1:] {
		eq, ok := w.Equality()
		if !ok {
			return nil
		}
		g.where = append(g.where, eq)
	}
	return g
}

// throughFunction reads f as a through function, or returns nil.
func (p *puller) throughFunction(f *schema.Function) *group {
	cs, ok := returnedSet(f)
	if !ok || len(cs.Where) != 1 || p.tableNamed(cs.Schema, cs.Table) == nil {
		return nil
	}
	am, ok := cs.Where[0].ArrayMember()
	if !ok || am.PerStatement || am.Schema != policy.FunctionSchema {
		return nil
	}
	for _, g := range p.groups {
		if g.function == am.Function {
			return &group{function: f.Name, name: g.name, schema: cs.Schema, table: cs.Table, column: am.Column, through: g, execute: f.Execute}
		}
	}
	return nil
}

// tableNamed returns the pulled table schema.name, or nil.
func (p *puller) tableNamed(schemaName, name string) *schema.Table {
	return p.s.Table(schemaName, name)
}

// node returns g as schema.yaml's groups write it.
func (g *group) node() *yaml.Node {
	m := mapping(true)
	m.setStr("table", g.table)
	setSchema(m, g.schema)
	m.setStr("group", g.column)
	m.setStr("user", g.user)
	if len(g.where) > 0 {
		w := mapping(true)
		for _, eq := range g.where {
			if len(eq.Values) == 1 {
				w.setStr(eq.Column, eq.Values[0])
			} else {
				w.set(eq.Column, list(eq.Values))
			}
		}
		m.set("where", w.n)
	}
	return m.n
}

// setGroup returns the group a membership subquery reads (the group column of the rows
// of its table whose user column is the caller's, filtered by equalities), made when no
// group says it yet; or nil and why it is none.
func (p *puller) setGroup(t *schema.Table, sm sqlparse.SetMembership) (*group, string) {
	schemaName := sm.Schema
	if schemaName == "" {
		schemaName = "public"
		if p.tableNamed(schemaName, sm.Table) == nil {
			schemaName = t.Schema
		}
	}
	gt := p.tableNamed(schemaName, sm.Table)
	if gt == nil {
		return nil, "it reads " + sm.Table + ", which is not a pulled table"
	}
	g := &group{schema: schemaName, table: sm.Table, column: sm.Group}
	if sm.Form == "in-users" {
		if !sqlparse.Equivalent(sm.Identity, p.auth.userID) {
			return nil, "it tests " + sm.Identity + ", not the caller's id"
		}
		g.user = sm.User
	}
	for _, w := range sm.Where {
		if it, ok := w.IdentityTest(); ok && g.user == "" && sqlparse.Equivalent(it.Call, p.auth.userID) && gt.Column(it.Column) != nil {
			g.user = it.Column
			continue
		}
		eq, ok := w.Equality()
		if !ok || gt.Column(eq.Column) == nil {
			return nil, "its subquery's condition " + w.Text + " is neither the caller's id nor a column equal to constants"
		}
		g.where = append(g.where, eq)
	}
	if g.user == "" || gt.Column(g.column) == nil {
		return nil, "its subquery does not compare a column of " + sm.Table + " with the caller's id"
	}
	for _, have := range p.groups {
		if have.schema == g.schema && have.table == g.table && have.column == g.column && have.user == g.user && slices.EqualFunc(have.where, g.where, sameEquality) {
			return have, ""
		}
	}
	g.name = p.groupName(g)
	g.function = g.name
	p.groups = append(p.groups, g)
	return g, ""
}

func sameEquality(a, b sqlparse.Equality) bool {
	return a.Column == b.Column && slices.Equal(a.Values, b.Values)
}

// groupName returns a name for a group made from a membership subquery: its table and
// group column, as a group name may be spelled, told apart from every other group's.
func (p *puller) groupName(g *group) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, g.table+"_"+g.column)
	if !policy.ValidGroupName(base) {
		base = "g_" + base
	}
	if len(g.where) > 0 {
		base += "_where"
	}
	name := base
	for i := 2; slices.ContainsFunc(p.groups, func(h *group) bool { return h.name == name }); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// functionGroup returns the group a function without arguments means when its body is
// one SQL query of a pulled table that passes the caller's id (an app's own
// "the caller's organizations" helper), made when no group says it yet; or nil and why.
func (p *puller) functionGroup(t *schema.Table, sf sqlparse.SetFunction) (*group, string) {
	for _, o := range objectsOf(p.s.Objects, "routine") {
		a := o.Attrs
		if a["function"] != sf.Function || a["types"] != "" || (sf.Schema != "" && o.Schema != sf.Schema) ||
			(sf.Schema == "" && o.Schema != "public" && o.Schema != t.Schema) {
			continue
		}
		if a["language"] != "sql" {
			return nil, "it calls " + o.Schema + "." + sf.Function + "(), written in " + a["language"] + ", whose body pull does not read as a group"
		}
		sm, ok := sqlparse.QuerySet(a["body"])
		if !ok {
			return nil, "it calls " + o.Schema + "." + sf.Function + "(), whose body is not one query of one table"
		}
		sm.Column = sf.Column
		return p.setGroup(t, sm)
	}
	return nil, "it calls " + sf.Function + "(), which is no function of the pulled schemas"
}
