package pull

import (
	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// columnKinds are the object kinds pull writes as keys of a column rather than lists:
// a copy column's triggers become its copy key.
var columnKinds = []string{"copy"}

// copies reads the copy columns of t from its fill triggers (kind copy, BEFORE): the
// trigger names the via and copy columns; the source column is the one of the
// referenced table for which rlsmigrate would write the trigger's function exactly as
// the database holds it. A trigger of schema rls that no copy explains is reported;
// the next migration drops it. The follow triggers on the source tables come with the
// copies.
func (p *puller) copies(t *schema.Table, tb *table) {
	for _, o := range objectsOf(t.Objects, "copy") {
		if o.Attrs["timing"] != "BEFORE" {
			continue
		}
		if cp := p.copyOf(t, o); cp != nil {
			tb.copies[cp.col] = &policy.Copy{Via: cp.via, Column: cp.source}
			continue
		}
		p.find(FindLeftOut, t.QualifiedName(), "trigger %s runs %s, which keeps no copy column as rlsmigrate writes it: rlsmigrate owns schema %s, so the next migration drops it", o.Name, o.Attrs["function"], policy.FunctionSchema)
	}
}

// copyRead is a copy column read back: the column, its via column, the source column.
type copyRead struct{ col, via, source string }

// copyOf returns the copy that fill trigger o of t keeps, or nil.
func (p *puller) copyOf(t *schema.Table, o *schema.Object) *copyRead {
	cols := sqlident.SplitNames(o.Attrs["columns"], ", ")
	fn := sqlident.SplitNames(o.Attrs["function"], ".")
	if len(cols) != 2 || len(fn) != 2 {
		return nil
	}
	via, col := t.Column(cols[0]), t.Column(cols[1])
	have := p.s.Routine(fn[0], fn[1])
	if via == nil || col == nil || via.References == nil || have == nil {
		return nil
	}
	fk := via.References
	src := p.s.Table(fk.Schema, fk.Table)
	if src == nil {
		return nil
	}
	for _, sc := range src.Columns {
		if sc.Type != col.Type {
			continue
		}
		// The smallest file that says this copy: the two tables, the three columns.
		child := &policy.Table{Schema: t.Schema, Name: t.Name, Columns: []*policy.Column{
			{Name: via.Name, References: &policy.Reference{Schema: fk.Schema, Table: fk.Table, Column: fk.Column}},
			{Name: col.Name, Copy: &policy.Copy{Via: via.Name, Column: sc.Name}},
		}}
		f := &policy.File{Tables: []*policy.Table{child, {Schema: src.Schema, Name: src.Name, Columns: []*policy.Column{{Name: sc.Name}}}}}
		fill, _ := policy.CopyFunctions(child, child.Columns[1])
		body, _ := f.CopyBodies(child, child.Columns[1])
		if fill == have.Name && body == have.Body {
			return &copyRead{col.Name, via.Name, sc.Name}
		}
	}
	return nil
}

// copyNode writes a copy column's copy key.
func copyNode(cp *policy.Copy) *yaml.Node {
	m := mapping(true)
	m.setStr("via", cp.Via)
	m.setStr("column", cp.Column)
	return m.n
}

// isCopyFunction reports whether f is a trigger function of schema rls: a copy's, read
// with the copies.
func isCopyFunction(f *schema.Function) bool {
	return f.Schema == policy.FunctionSchema && f.Returns == "trigger"
}
