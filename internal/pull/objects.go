package pull

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// tableKind writes the objects of one kind of package objects that belong to a table.
type tableKind struct {
	key   string // the table's key in schema.yaml
	kind  string // the object kind
	nodes func(t *schema.Table) []*yaml.Node
}

// schemaKind writes schema.yaml's top-level list of one kind.
type schemaKind struct {
	key   string
	kinds []string // the object kinds it writes
	nodes func(p *puller) []*yaml.Node
	roles func(p *puller) []string // the roles it names
}

// tableKinds and schemaKinds are every object kind pull writes; TestPullWritesEveryKind
// fails when package objects holds one that neither names (or notPulled).
var (
	tableKinds = []tableKind{
		{"checks", "check", checks},
		{"triggers", "trigger", triggers},
	}
	schemaKinds = []schemaKind{
		{"enums", []string{"enum"}, enums, noRoles},
		{"external", []string{"external_trigger"}, (*puller).external, noRoles},
		{"functions", []string{"routine"}, (*puller).functions, (*puller).functionRoles},
		{"views", []string{"view"}, (*puller).views, (*puller).viewRoles},
		{"publications", []string{"publication"}, (*puller).publications, noRoles},
	}
	// notPulled are the object kinds pull does not read back, with why.
	notPulled = map[string]string{
		"row": "a table's rows are the app's data; declare the reference rows it needs under rows:",
	}
)

func noRoles(*puller) []string { return nil }

func objectsOf(objs []*schema.Object, kind string) []*schema.Object {
	var out []*schema.Object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func checks(t *schema.Table) []*yaml.Node {
	var out []*yaml.Node
	for _, o := range objectsOf(t.Objects, "check") {
		m := mapping(true)
		m.setStr("name", o.Name)
		m.setStr("expr", o.Attrs["expr"])
		out = append(out, m.n)
	}
	return out
}

func triggers(t *schema.Table) []*yaml.Node {
	var out []*yaml.Node
	for _, o := range objectsOf(t.Objects, "trigger") {
		out = append(out, triggerNode(o, o.Name))
	}
	return out
}

// triggerNode writes a trigger's attributes (as package objects reads them) as
// schema.yaml's trigger keys.
func triggerNode(o *schema.Object, name string) *yaml.Node {
	a := o.Attrs
	m := mapping(true)
	m.setStr("name", name)
	m.setStr("timing", strings.ToLower(a["timing"]))
	m.set("events", list(strings.Split(strings.ToLower(a["events"]), " or ")))
	if cols := sqlident.SplitNames(a["columns"], ", "); len(cols) > 0 {
		m.set("columns", list(cols))
	}
	if a["for_each"] != "ROW" {
		m.setStr("for_each", strings.ToLower(a["for_each"]))
	}
	m.setStr("when", a["when"])
	m.setStr("function", strings.Join(sqlident.SplitNames(a["function"], "."), "."))
	return m.n
}

func enums(p *puller) []*yaml.Node {
	var out []*yaml.Node
	for _, o := range objectsOf(p.s.Objects, "enum") {
		m := mapping(true)
		m.setStr("name", o.Name)
		setSchema(m, o.Schema)
		m.set("values", list(o.Items))
		out = append(out, m.n)
	}
	return out
}

// Externals returns the tables outside the pulled ones that they reference or that
// their functions' triggers are on (Supabase's auth.users), schema and name: their
// columns must be read (Input.External) for schema.yaml to declare them.
func Externals(s *schema.Schema) [][2]string {
	var out [][2]string
	add := func(schemaName, name string) {
		if x := [2]string{schemaName, name}; s.Table(schemaName, name) == nil && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if fk := c.References; fk != nil {
				add(fk.Schema, fk.Table)
			}
		}
	}
	for _, o := range objectsOf(s.Objects, "external_trigger") {
		if parts := sqlident.SplitNames(o.Attrs["table"], "."); len(parts) == 2 {
			add(parts[0], parts[1])
		}
	}
	return out
}

// external writes the tables Externals names, with the columns the pulled tables
// reference and their triggers name, and the triggers of the pulled functions on them.
func (p *puller) external() []*yaml.Node {
	var out []*yaml.Node
	for _, x := range Externals(p.s) {
		xt := p.externalTable(x[0], x[1])
		if xt == nil {
			p.find(FindLeftOut, qualified(x[0], x[1]), "a table the pulled ones reference, which the database lacks")
			continue
		}
		var used []string
		for _, t := range p.s.Tables {
			for _, c := range t.Columns {
				if fk := c.References; fk != nil && fk.Schema == x[0] && fk.Table == x[1] {
					used = append(used, fk.Column)
				}
			}
		}
		var triggers []*yaml.Node
		for _, o := range objectsOf(p.s.Objects, "external_trigger") {
			if slices.Equal(sqlident.SplitNames(o.Attrs["table"], "."), x[:]) {
				triggers = append(triggers, triggerNode(o, o.Attrs["trigger"]))
				used = append(used, sqlident.SplitNames(o.Attrs["columns"], ", ")...)
			}
		}
		m := mapping(false)
		m.setStr("schema", x[0])
		m.setStr("name", x[1])
		var cols []*yaml.Node
		for _, c := range xt.Columns {
			if !slices.Contains(used, c.Name) {
				continue
			}
			cm := mapping(true)
			cm.setStr("name", c.Name)
			cm.setStr("type", c.Type)
			cm.setTrue("primary_key", slices.Equal(xt.PrimaryKey, []string{c.Name}))
			cols = append(cols, cm.n)
		}
		m.set("columns", sequence(cols))
		if len(triggers) > 0 {
			m.set("triggers", sequence(triggers))
		}
		out = append(out, m.n)
	}
	return out
}

// externalTable returns the external table schema.name as Input.External holds it.
func (p *puller) externalTable(schemaName, name string) *schema.Table {
	for _, t := range p.in.External {
		if t.Schema == schemaName && t.Name == name {
			return t
		}
	}
	return nil
}

// functions writes the functions of the pulled schemas.
func (p *puller) functions() []*yaml.Node {
	var out []*yaml.Node
	called := p.calledByColumns()
	for _, o := range objectsOf(p.s.Objects, "routine") {
		a := o.Attrs
		name := o.Schema + "." + a["function"] + "(" + a["types"] + ")"
		if by, ok := called[o.Schema+"."+a["function"]]; ok {
			p.find(FindLeftOut, name, "%s calls it, and a migration makes declared functions after the tables: it stays in the database undeclared, which diff and generate leave alone", by)
			continue
		}
		if a["language"] != "sql" && a["language"] != "plpgsql" {
			p.find(FindLeftOut, name, "language %s: schema.yaml declares sql and plpgsql functions; the next migration drops it unless it moves to a schema rlsmigrate does not manage", a["language"])
			continue
		}
		args, err := sqlparse.FunctionArgs(a["args"])
		if err != nil || slices.ContainsFunc(args, func(x sqlparse.FunctionArg) bool { return x.Mode != "" || x.Name == "" }) {
			p.find(FindLeftOut, name, "arguments %q: schema.yaml declares named input arguments only", a["args"])
			continue
		}
		if strings.HasPrefix(a["returns"], "TABLE(") {
			p.find(FindLeftOut, name, "returns %s: schema.yaml declares a type, setof a type, trigger or void", a["returns"])
			continue
		}
		m := mapping(false)
		m.setStr("name", a["function"])
		setSchema(m, o.Schema)
		if len(args) > 0 {
			var items []*yaml.Node
			for _, x := range args {
				am := mapping(true)
				am.setStr("name", x.Name)
				typ, err := sqlparse.ParseType(x.Type, sqlident.Quote)
				if err != nil {
					typ = x.Type
				}
				am.setStr("type", typ)
				am.setStr("default", x.Default)
				items = append(items, am.n)
			}
			m.set("args", sequence(items))
		}
		m.setStr("returns", strings.Replace(a["returns"], "SETOF ", "setof ", 1))
		m.setStr("language", a["language"])
		if a["volatility"] != "volatile" {
			m.setStr("volatility", a["volatility"])
		}
		if a["security"] == "definer" {
			m.setStr("security", "definer")
		}
		switch sp := a["search_path"]; sp {
		case "":
		case `""`:
			m.set("search_path", str(""))
		default:
			m.setStr("search_path", strings.Join(sqlident.SplitNames(sp, ", "), ", "))
		}
		m.set("body", str(a["body"]))
		if grants := functionGrants(o); len(grants) > 0 {
			m.set("grants", list(grants))
		}
		out = append(out, m.n)
	}
	return out
}

func functionGrants(o *schema.Object) []string {
	if o.Attrs["execute"] == "" {
		return nil
	}
	return strings.Split(o.Attrs["execute"], ", ")
}

func (p *puller) functionRoles() []string {
	var out []string
	for _, o := range objectsOf(p.s.Objects, "routine") {
		out = append(out, functionGrants(o)...)
	}
	return out
}

// viewGrants returns the roles that may select from view o, and the privileges it
// holds otherwise.
func viewGrants(o *schema.Object) (selectors, other []string) {
	if o.Attrs["privileges"] == "" {
		return nil, nil
	}
	for _, rp := range strings.Split(o.Attrs["privileges"], ", ") {
		role, priv, _ := strings.Cut(rp, " ")
		if priv == "SELECT" {
			selectors = append(selectors, role)
		} else {
			other = append(other, rp)
		}
	}
	return selectors, other
}

func (p *puller) views() []*yaml.Node {
	var out []*yaml.Node
	for _, o := range objectsOf(p.s.Objects, "view") {
		m := mapping(false)
		m.setStr("name", o.Name)
		setSchema(m, o.Schema)
		q := strings.TrimSuffix(strings.TrimSpace(o.Attrs["query"]), ";")
		m.setStr("query", q)
		if o.Attrs["security_invoker"] != "true" {
			m.set("security_invoker", boolean(false))
			m.setStr("reason", "pulled: it ran as its owner in the database it was pulled from")
			p.find(FindNote, qualified(o.Schema, o.Name), "view runs as its owner, past the policies of the tables it reads: say why in reason, or make it security_invoker")
		}
		selectors, other := viewGrants(o)
		if len(selectors) > 0 {
			m.set("grants", list(selectors))
		}
		if len(other) > 0 {
			p.find(FindLeftOut, qualified(o.Schema, o.Name), "privileges %s on the view: schema.yaml grants SELECT only, and the next migration revokes the rest", strings.Join(other, ", "))
		}
		out = append(out, m.n)
	}
	return out
}

func (p *puller) viewRoles() []string {
	var out []string
	for _, o := range objectsOf(p.s.Objects, "view") {
		s, _ := viewGrants(o)
		out = append(out, s...)
	}
	return out
}

func (p *puller) publications() []*yaml.Node {
	var out []*yaml.Node
	for _, o := range objectsOf(p.s.Objects, "publication") {
		var tables []string
		for _, qn := range o.Items {
			schemaName, name, _ := strings.Cut(qn, ".")
			if p.s.Table(schemaName, name) != nil {
				tables = append(tables, qn)
			}
		}
		if len(tables) == 0 {
			continue
		}
		m := mapping(true)
		m.setStr("name", o.Name)
		m.set("tables", list(tables))
		out = append(out, m.n)
	}
	return out
}

// calledByColumns maps the functions (schema.name) that a default, generated
// expression or check of a pulled table calls to the first that does.
func (p *puller) calledByColumns() map[string]string {
	out := map[string]string{}
	add := func(expr, what string) {
		e, err := p.cache.Expr(expr)
		if err != nil {
			return
		}
		for _, fn := range e.Functions() {
			if _, seen := out[fn]; !seen && strings.Contains(fn, ".") {
				out[fn] = what
			}
		}
	}
	for _, t := range p.s.Tables {
		for _, c := range t.Columns {
			add(c.Default, "the default of "+t.QualifiedName()+"."+c.Name)
			add(c.Generated, "the generated column "+t.QualifiedName()+"."+c.Name)
		}
		for _, o := range objectsOf(t.Objects, "check") {
			add(o.Attrs["expr"], "check "+o.Name+" of "+t.QualifiedName())
		}
	}
	return out
}
