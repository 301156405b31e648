package diff

import (
	"maps"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// tableObjects compares the objects of table ot (rt once its renames apply) with nt's:
// matched by kind and name, and by meaning (objects.Same). An object whose expressions
// name a column whose type changes is rebuilt around the change: PostgreSQL refuses
// the new type where the expression no longer applies, and otherwise stores it anew
// with casts from the old type.
func (d *differ) tableObjects(ot, rt, nt *schema.Table, to *schema.Schema) {
	if len(rt.Objects) == 0 && len(nt.Objects) == 0 {
		return
	}
	var retyped []string
	for _, nc := range nt.Columns {
		if oc, _ := continuedColumn(ot, nt, nc); oc != nil && oc.Type != nc.Type {
			retyped = append(retyped, nc.Name)
		}
	}
	rebuilt := func(o *schema.Object) bool {
		return slices.ContainsFunc(retyped, func(col string) bool { return objects.Mentions(o, col) })
	}
	// A rollback sees the objects in the names it has restored: the old ones as they
	// were, the new ones with the renames undone.
	unrename := func(*schema.Object) *schema.Object { return nil }
	if rt != ot {
		was := map[*schema.Object]*schema.Object{}
		for i, o := range rt.Objects {
			was[o] = ot.Objects[i]
		}
		back := map[string]string{}
		for _, oc := range ot.Columns {
			if to, ok := d.columnRenames[[3]string{nt.Schema, nt.Name, oc.Name}]; ok {
				back[to] = oc.Name
			}
		}
		unrename = func(o *schema.Object) *schema.Object {
			if w, ok := was[o]; ok {
				return w
			}
			return renamedObjects([]*schema.Object{o}, ot.Name, back)[0]
		}
	}
	d.objects(rt.Objects, nt.Objects, to, rebuilt, func(k Kind) *Change { return on(k, ot, nt) }, unrename)
}

// schemaObjects compares the objects of the database schemas from and to hold.
func (d *differ) schemaObjects(from, to *schema.Schema) {
	// Objects that name tables read as they do once the table renames apply; a rollback
	// sees them in the names it has restored.
	renames, back := map[string]string{}, map[string]string{}
	for t, name := range d.tableRenames {
		renames[t[0]+"."+t[1]], back[t[0]+"."+name] = t[0]+"."+name, t[0]+"."+t[1]
	}
	have := from.Objects
	was := map[*schema.Object]*schema.Object{}
	if len(renames) > 0 {
		have = make([]*schema.Object, len(from.Objects))
		for i, o := range from.Objects {
			have[i] = o
			if k := objects.Of(o); k.RenameTables != nil {
				co := *o
				k.RenameTables(&co, renames)
				have[i], was[&co] = &co, o
			}
		}
	}
	unrename := func(o *schema.Object) *schema.Object {
		if w, ok := was[o]; ok {
			return w
		}
		if k := objects.Of(o); k.RenameTables != nil && len(back) > 0 {
			co := *o
			k.RenameTables(&co, back)
			return &co
		}
		return nil
	}
	d.objects(have, to.Objects, to, func(*schema.Object) bool { return false }, func(k Kind) *Change { return &Change{Kind: k} }, unrename)
}

// objects adds a change, made by change, for each object of want that have lacks
// (created) or holds otherwise or must rebuild (altered), then for each of have that
// want lacks (dropped). Objects match by kind, database schema and name. unrename gives
// an object in the names a rollback sees, or nil when they are the same.
func (d *differ) objects(have, want []*schema.Object, to *schema.Schema, rebuild func(*schema.Object) bool, change func(Kind) *Change,
	unrename func(*schema.Object) *schema.Object) {
	add := func(op ObjectOp, oo, no *schema.Object) {
		o := no
		if o == nil {
			o = oo
		}
		c := change(ObjectKind(objects.Of(o), op))
		c.Schema, c.Name, c.Old.Object, c.New.Object = o.Schema, o.Name, oo, no
		if oo != nil {
			if u := unrename(oo); u != nil {
				c.OldUnrenamed = &Side{Object: u}
			}
		}
		if no != nil {
			if u := unrename(no); u != nil {
				c.NewUnrenamed = &Side{Object: u}
			}
		}
		if k := objects.Of(o); op == ObjectAlter && k.Anew != nil {
			c.Anew = k.Anew(oo, no, to)
		}
		switch k := objects.Of(o); {
		case no != nil && k.Hazard != nil:
			if h := k.Hazard(oo, no); h != "" {
				c.Hazards = []Hazard{Hazard(h)}
			}
		case no == nil && k.DropHazard != "":
			c.Hazards = []Hazard{Hazard(k.DropHazard)}
		}
		d.add(c)
	}
	for _, no := range want {
		switch oo := findIn(have, no); {
		case oo == nil:
			add(ObjectCreate, nil, no)
		case !objects.Same(oo, no) || rebuild(no):
			add(ObjectAlter, oo, no)
		}
	}
	for _, oo := range have {
		if findIn(want, oo) == nil && !(d.live && objects.Of(oo).DeclaredOnly) {
			add(ObjectDrop, oo, nil)
		}
	}
}

// findIn returns the object of objs of o's kind, schema and name, or nil.
func findIn(objs []*schema.Object, o *schema.Object) *schema.Object {
	for _, x := range objs {
		if x.Kind == o.Kind && x.Schema == o.Schema && x.Name == o.Name {
			return x
		}
	}
	return nil
}

// renamedObjects returns objs with the columns renames maps renamed in their
// expressions, as PostgreSQL makes them follow.
func renamedObjects(objs []*schema.Object, table string, renames map[string]string) []*schema.Object {
	out := make([]*schema.Object, len(objs))
	for i, o := range objs {
		co := *o
		co.Table = table
		co.Attrs = maps.Clone(o.Attrs)
		k := objects.Of(o)
		for _, key := range k.Exprs {
			for from, to := range renames {
				co.Attrs[key] = sqlparse.RenameColumn(co.Attrs[key], from, to, sqlident.Quote)
			}
		}
		if k.RenameColumns != nil {
			k.RenameColumns(&co, renames)
		}
		for _, key := range k.ColumnLists {
			if co.Attrs[key] == "" {
				continue
			}
			cols := strings.Split(co.Attrs[key], ", ")
			for i, c := range cols {
				for from, to := range renames {
					if c == sqlident.Quote(from) {
						cols[i] = sqlident.Quote(to)
					}
				}
			}
			co.Attrs[key] = strings.Join(cols, ", ")
		}
		out[i] = &co
	}
	return out
}

// external reports each external table to declares that the database (from) lacks, and
// each declared column it lacks or holds with another type: one change per table,
// whose Old and New hold the table as the database has it and as declared.
func (d *differ) external(from, to *schema.Schema) {
	for _, want := range to.External {
		var have *schema.Table
		for _, x := range from.External {
			if x.Schema == want.Schema && x.Name == want.Name {
				have = x
			}
		}
		missing := have == nil
		for _, c := range want.Columns {
			if !missing {
				hc := have.Column(c.Name)
				missing = hc == nil || hc.Type != c.Type
			}
		}
		if missing {
			d.add(&Change{Kind: ExternalMissing, Schema: want.Schema, Table: want.Name, OldTable: have, NewTable: want})
		}
	}
}
