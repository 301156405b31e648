package objects

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Copy is a trigger that keeps a copy column in step (see policy.Column.Copy): on the
// copy's table, the fill trigger (BEFORE INSERT OR UPDATE OF the via and copy columns);
// on the source table, the follow trigger (AFTER UPDATE OF the source column). Each is
// named like the function of schema rls it runs (policy.CopyFunctions). Its attributes
// are a trigger's (see Trigger), plus body: the md5 of its function's source, so that a
// changed copy (another via or source column) makes the trigger anew, and with it the
// fill of every row. Triggers running a function of schema rls are rlsmigrate's: one
// schema.yaml does not declare is dropped.
var Copy = Kind{
	Name:    "copy",
	OnTable: true,
	Declare: func(f *policy.File, t *policy.Table) []Declared {
		var out []Declared
		add := func(table *policy.Table, name, body string, tr *policy.Trigger, pos policy.Pos) {
			tr.Name, tr.ForEach, tr.Function = name, "row", policy.FunctionSchema+"."+name
			a := triggerAttrs(tr)
			a["body"] = bodyHash(body)
			out = append(out, Declared{&schema.Object{Kind: "copy", Schema: table.Schema, Table: table.Name, Name: name, Attrs: a}, pos})
		}
		for _, c := range t.Columns {
			if c.Copy != nil {
				fill, _ := policy.CopyFunctions(t, c)
				body, _ := f.CopyBodies(t, c)
				add(t, fill, body, &policy.Trigger{Timing: "before", Events: []string{"insert", "update"}, Columns: []string{c.Copy.Via, c.Name}}, c.Copy.Pos)
			}
		}
		for _, cc := range f.CopiesReading(t) {
			_, follow := policy.CopyFunctions(cc.Table, cc.Column)
			_, body := f.CopyBodies(cc.Table, cc.Column)
			add(t, follow, body, &policy.Trigger{Timing: "after", Events: []string{"update"}, Columns: []string{cc.Column.Copy.Column}}, cc.Column.Copy.Pos)
		}
		return out
	},
	Query:       tableTriggers(` || jsonb_build_object('body', md5(p.prosrc))`, "="),
	ColumnLists: []string{"columns"},
	// CREATE TRIGGER takes SHARE ROW EXCLUSIVE for an instant. The fill trigger then
	// fills the copy of every row the table holds (none in a table made in the same
	// migration): each row is updated, and locked until the migration commits, with no
	// lock that stops readers.
	Create: func(table string, o *schema.Object, where Where) []Statement {
		out := []Statement{{SQL: createTrigger(table, o.Name, o), Lock: LockBrief}}
		if o.Attrs["timing"] == "BEFORE" && where != NewTable {
			cols := sqlident.SplitNames(o.Attrs["columns"], ", ")
			copyCol := sqlident.Quote(cols[len(cols)-1]) // set to NULL, fill reads it again
			out = append(out, Statement{SQL: fmt.Sprintf("UPDATE %s SET %s = NULL;", table, copyCol), Lock: LockRowWrites})
		}
		return out
	},
	Drop: dropTrigger,
	Summary: func(o *schema.Object) string {
		a := o.Attrs
		return fmt.Sprintf("%s %s FOR EACH ROW EXECUTE FUNCTION %s() (a copy column's)", a["timing"], triggerEvents(a), a["function"])
	},
	// After the functions of schema rls they run (made after every other object);
	// dropped with the other table objects, before those functions go.
	CreateAfter: "function.replace",
	DropAfter:   "check.drop",
}

// bodyHash is the md5 of a function's source, in hex, as PostgreSQL's md5() spells it.
func bodyHash(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}
