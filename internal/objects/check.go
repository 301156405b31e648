package objects

import (
	"fmt"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Check is a table's CHECK constraint: attribute expr holds its condition; not_valid is
// set on one the catalog holds NOT VALID (an online migration that failed at VALIDATE),
// which then holds for new rows only. Inherited checks are the parent's.
var Check = Kind{
	Name:      "check",
	OnTable:   true,
	Namespace: "constraint",
	Declare: func(_ *policy.File, t *policy.Table) []Declared {
		var out []Declared
		for _, c := range t.Checks {
			o := &schema.Object{Kind: "check", Schema: t.Schema, Table: t.Name, Name: c.Name, Attrs: map[string]string{"expr": c.Expr}}
			out = append(out, Declared{o, c.Pos})
		}
		return out
	},
	Query: `SELECT co.conrelid, co.conname,
		jsonb_build_object('expr', pg_get_expr(co.conbin, co.conrelid))
			|| CASE WHEN co.convalidated THEN '{}'::jsonb ELSE '{"not_valid": "true"}'::jsonb END,
		NULL::text[]
		FROM pg_constraint co WHERE co.contype = 'c' AND co.conislocal AND co.conrelid IN (%s) ORDER BY 1, 2`,
	Exprs: []string{"expr"},
	// On a table that holds rows: NOT VALID (a brief lock), then validated after the
	// transaction, which reads the rows while writers go on.
	Create: func(table string, o *schema.Object, where Where) []Statement {
		add := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s)", table, sqlident.Quote(o.Name), o.Attrs["expr"])
		switch where {
		case NewTable:
			return []Statement{{SQL: add + ";"}}
		case InTransaction:
			return []Statement{{SQL: add + ";", Lock: LockScan}}
		}
		return []Statement{
			{SQL: add + " NOT VALID;", Lock: LockBrief},
			{SQL: fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s;", table, sqlident.Quote(o.Name)), Lock: LockValidate, Online: true},
		}
	},
	Drop: func(table string, o *schema.Object) []Statement {
		return []Statement{{SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s;", table, sqlident.Quote(o.Name)), Lock: LockBrief}}
	},
	Summary: func(o *schema.Object) string {
		s := "CHECK (" + o.Attrs["expr"] + ")"
		if o.Attrs["not_valid"] != "" {
			s += ", not validated"
		}
		return s
	},
	// Rows a table already holds may break a check created on it.
	Hazard:      func(_, _ *schema.Object) string { return "may-fail" },
	CreateAfter: "column.references.add",
	DropAfter:   "table.primary_key.drop",
	Lazy:        true,
}
