package objects

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Row is a row a table must hold (rows: in schema.yaml), found by its key. Its
// attributes are its non-null values by column, as text; its items its columns: the
// key's, then "", then the others, sorted. Its name spells the key as declared. Rows are
// not in the catalog: a database's are read from the table, only those declared (Rows),
// so rows the app adds are never seen, and none is dropped unless schema.yaml stops
// declaring it.
var Row = Kind{
	Name:    "row",
	OnTable: true,
	Declare: func(_ *policy.File, t *policy.Table) []Declared {
		var out []Declared
		for _, r := range t.Rows {
			o := &schema.Object{Kind: "row", Schema: t.Schema, Table: t.Name, Attrs: map[string]string{}}
			var others []string
			for i, c := range r.Columns {
				if v := r.Values[i]; v != nil {
					o.Attrs[c] = *v
				}
				if !slices.Contains(r.Key, c) {
					others = append(others, c)
				}
			}
			slices.Sort(others)
			o.Items = append(append(slices.Clone(r.Key), ""), others...)
			o.Name = rowName(o)
			out = append(out, Declared{o, r.Pos})
		}
		return out
	},
	Values: true,
	RenameColumns: func(o *schema.Object, renames map[string]string) {
		attrs := map[string]string{}
		for c, v := range o.Attrs {
			attrs[cmp.Or(renames[c], c)] = v
		}
		o.Attrs, o.Items = attrs, slices.Clone(o.Items)
		for i, c := range o.Items {
			o.Items[i] = cmp.Or(renames[c], c)
		}
		_, others := rowColumns(o)
		slices.Sort(others)
		o.Name = rowName(o)
	},
	Rows: func(table string, os []*schema.Object) string {
		var parts []string
		for i, o := range os {
			keys, others := rowColumns(o)
			var build []string
			for _, c := range append(slices.Clone(keys), others...) {
				build = append(build, sqlident.Literal(c), "t."+sqlident.Quote(c)+"::text")
			}
			parts = append(parts, fmt.Sprintf("SELECT %d, jsonb_strip_nulls(jsonb_build_object(%s)) FROM %s t WHERE %s",
				i, strings.Join(build, ", "), table, rowMatch(o, "t.", "::text")))
		}
		return strings.Join(parts, "\nUNION ALL ")
	},
	Create: upsertRow,
	Alter: func(table string, _, new *schema.Object, _ bool) []Statement {
		return upsertRow(table, new, InTransaction)
	},
	Drop: func(table string, o *schema.Object) []Statement {
		return []Statement{{SQL: fmt.Sprintf("DELETE FROM %s WHERE %s;", table, rowMatch(o, "", ""))}}
	},
	DropHazard: "deletes-data",
	Summary: func(o *schema.Object) string {
		_, others := rowColumns(o)
		var vals []string
		for _, c := range others {
			vals = append(vals, sqlident.Quote(c)+" = "+rowValue(o, c))
		}
		if len(vals) == 0 {
			return "ROW " + o.Name
		}
		return "ROW " + o.Name + ": " + strings.Join(vals, ", ")
	},
	// After everything a row may need (types, checks, the triggers that fire on it)
	// and the columns the table loses (a Down's rows do not give a NOT NULL column the
	// Up added); deleted with the other table objects.
	CreateAfter:  "column.drop",
	DropAfter:    "check.drop",
	DeclaredOnly: true,
}

// upsertRow returns the statement that makes table hold row o: an update of the row the
// key finds, else an insert; on a new table, the insert. No unique index is needed (one
// may be built online after the migration's transaction). Row locks only.
func upsertRow(table string, o *schema.Object, where Where) []Statement {
	keys, others := rowColumns(o)
	cols := append(slices.Clone(keys), others...)
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = rowValue(o, c)
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s", table, strings.Join(quoted(cols), ", "), strings.Join(vals, ", "))
	if where == NewTable {
		return []Statement{{SQL: insert + ";"}}
	}
	if len(others) == 0 {
		return []Statement{{SQL: fmt.Sprintf("%s WHERE NOT EXISTS (SELECT FROM %s WHERE %s);", insert, table, rowMatch(o, "", ""))}}
	}
	var sets []string
	for _, c := range others {
		sets = append(sets, sqlident.Quote(c)+" = "+rowValue(o, c))
	}
	return []Statement{{SQL: fmt.Sprintf("WITH updated AS (UPDATE %s SET %s WHERE %s RETURNING 1)\n%s WHERE NOT EXISTS (SELECT FROM updated);",
		table, strings.Join(sets, ", "), rowMatch(o, "", ""), insert)}}
}

// rowName spells o's key: ("id") = ('free').
func rowName(o *schema.Object) string {
	keys, _ := rowColumns(o)
	vals := make([]string, len(keys))
	for i, c := range keys {
		vals[i] = sqlident.Literal(o.Attrs[c])
	}
	return "(" + strings.Join(quoted(keys), ", ") + ") = (" + strings.Join(vals, ", ") + ")"
}

// rowColumns returns a row's key columns and its other columns (see Row).
func rowColumns(o *schema.Object) (keys, others []string) {
	i := slices.Index(o.Items, "")
	if i < 0 {
		return o.Items, nil
	}
	return o.Items[:i], o.Items[i+1:]
}

// rowValue is the SQL of a row's value of column c: a literal PostgreSQL reads into
// the column's type, or NULL.
func rowValue(o *schema.Object, c string) string {
	if v, ok := o.Attrs[c]; ok {
		return sqlident.Literal(v)
	}
	return "NULL"
}

// rowMatch is the condition finding row o by its key, each column prefixed and cast
// as given ("t.", "::text" compares the database's text form).
func rowMatch(o *schema.Object, prefix, cast string) string {
	keys, _ := rowColumns(o)
	var conds []string
	for _, c := range keys {
		conds = append(conds, prefix+sqlident.Quote(c)+cast+" = "+sqlident.Literal(o.Attrs[c]))
	}
	return strings.Join(conds, " AND ")
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = sqlident.Quote(n)
	}
	return out
}
