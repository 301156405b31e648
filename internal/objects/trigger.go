package objects

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Trigger is a table's trigger. Its attributes: timing (BEFORE, AFTER), events
// ("INSERT OR UPDATE", in PostgreSQL's order), columns (those an update must touch, ""
// for any), for_each (ROW, STATEMENT), when
// (its condition as the catalog prints it, "" for none), function (schema.name, quoted
// as needed). Triggers the system makes (foreign keys') are not read, nor those that run
// a function of schema rls (kind copy).
var Trigger = Kind{
	Name:    "trigger",
	OnTable: true,
	Declare: func(_ *policy.File, t *policy.Table) []Declared {
		var out []Declared
		for _, tr := range t.Triggers {
			o := &schema.Object{Kind: "trigger", Schema: t.Schema, Table: t.Name, Name: tr.Name, Attrs: triggerAttrs(tr)}
			out = append(out, Declared{o, tr.Pos})
		}
		return out
	},
	Query:       tableTriggers("", "<>"),
	Exprs:       []string{"when"},
	ColumnLists: []string{"columns"},
	// CREATE TRIGGER takes SHARE ROW EXCLUSIVE for an instant; DROP TRIGGER, ACCESS
	// EXCLUSIVE for an instant.
	Create: func(table string, o *schema.Object, where Where) []Statement {
		lock := LockBrief
		if where == NewTable {
			lock = LockNone
		}
		return []Statement{{SQL: createTrigger(table, o.Name, o), Lock: lock}}
	},
	Drop: dropTrigger,
	Summary: func(o *schema.Object) string {
		a := o.Attrs
		s := fmt.Sprintf("%s %s FOR EACH %s", a["timing"], triggerEvents(a), a["for_each"])
		if a["when"] != "" {
			s += " WHEN (" + a["when"] + ")"
		}
		return s + " EXECUTE FUNCTION " + a["function"] + "()"
	},
	// After the functions they run; dropped with the other table objects, before any
	// function goes.
	CreateAfter:  "routine.alter",
	DropAfter:    "check.drop",
	DeclaredOnly: true,
}

// triggerEvents spells a trigger's events, an update's columns with it:
// "INSERT OR UPDATE OF a, b".
func triggerEvents(a map[string]string) string {
	if a["columns"] == "" {
		return a["events"]
	}
	return strings.Replace(a["events"], "UPDATE", "UPDATE OF "+a["columns"], 1)
}

// triggerAttrs are the attributes of declared trigger tr (see Trigger).
func triggerAttrs(tr *policy.Trigger) map[string]string {
	events := make([]string, len(tr.Events))
	for i, e := range tr.Events {
		events[i] = strings.ToUpper(e)
	}
	cols := quoted(tr.Columns)
	fnSchema, fn, _ := strings.Cut(tr.Function, ".")
	return map[string]string{
		"timing": strings.ToUpper(tr.Timing), "events": strings.Join(events, " OR "), "columns": strings.Join(cols, ", "),
		"for_each": strings.ToUpper(tr.ForEach),
		"when":     tr.When, "function": sqlident.Qualified(fnSchema, fn),
	}
}

// triggerAttrsSQL reads the attributes of trigger t (pg_trigger) from the catalog, as
// triggerAttrs spells them.
const triggerAttrsSQL = `jsonb_build_object(
			'timing', CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END,
			'events', array_to_string(array_remove(ARRAY[
				CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,
				CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END,
				CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
				CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END], NULL), ' OR '),
			'columns', coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.o)
				FROM unnest(t.tgattr::int2[]) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = k.n), ''),
			'for_each', CASE WHEN t.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END,
			'when', coalesce(substring(pg_get_triggerdef(t.oid) from 'WHEN \((.*)\) EXECUTE '), ''),
			'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname))`

// tableTriggers reads, for a kind on tables, the triggers of the tables whose oids %s
// returns whose function's schema compares (op: = or <>) with schema rls: their
// attributes as triggerAttrsSQL reads them, and extra (|| jsonb_build_object(...)).
func tableTriggers(extra, op string) string {
	return `SELECT t.tgrelid, t.tgname::text, ` + triggerAttrsSQL + extra + `, NULL::text[]
		FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE NOT t.tgisinternal AND n.nspname ` + op + ` '` + policy.FunctionSchema + `' AND t.tgrelid IN (%s) ORDER BY 1, 2`
}

// dropTrigger drops trigger o of table.
func dropTrigger(table string, o *schema.Object) []Statement {
	return []Statement{{SQL: fmt.Sprintf("DROP TRIGGER %s ON %s;", sqlident.Quote(o.Name), table), Lock: LockBrief}}
}

// createTrigger is the statement that makes trigger o, named name, on table.
func createTrigger(table, name string, o *schema.Object) string {
	a := o.Attrs
	when := ""
	if a["when"] != "" {
		when = " WHEN (" + a["when"] + ")"
	}
	return fmt.Sprintf("CREATE TRIGGER %s %s %s ON %s FOR EACH %s%s EXECUTE FUNCTION %s();",
		sqlident.Quote(name), a["timing"], triggerEvents(a), table, a["for_each"], when, a["function"])
}
