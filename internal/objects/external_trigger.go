package objects

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// ExternalTrigger is a trigger on a table rlsmigrate does not manage (external:), such
// as Supabase's auth.users, running a function of a declared schema: the profile an
// app makes on sign-up. It belongs to the function's schema and is named
// schema.table.trigger; its attributes are a trigger's (see Trigger, without when),
// plus table (qualified, quoted as needed) and trigger (its own name). A database's
// triggers that schema.yaml never declared are left alone.
var ExternalTrigger = Kind{
	Name: "external_trigger",
	Declare: func(f *policy.File, _ *policy.Table) []Declared {
		var out []Declared
		for _, x := range f.External {
			for _, tr := range x.Triggers {
				fnSchema, _, _ := strings.Cut(tr.Function, ".")
				a := triggerAttrs(tr)
				a["table"], a["trigger"] = sqlident.Qualified(x.Schema, x.Name), tr.Name
				o := &schema.Object{Kind: "external_trigger", Schema: fnSchema, Name: x.Schema + "." + x.Name + "." + tr.Name, Attrs: a}
				out = append(out, Declared{o, tr.Pos})
			}
		}
		return out
	},
	// The triggers outside the schemas that run one of their functions.
	Query: `SELECT n.nspname::text, tn.nspname || '.' || c.relname || '.' || t.tgname, ` + triggerAttrsSQL + `
			|| jsonb_build_object('table', quote_ident(tn.nspname) || '.' || quote_ident(c.relname), 'trigger', t.tgname::text),
		NULL::text[]
		FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace
		WHERE NOT t.tgisinternal AND n.nspname = ANY($1) AND NOT tn.nspname = ANY($1) ORDER BY 1, 2`,
	// CREATE TRIGGER takes SHARE ROW EXCLUSIVE for an instant; DROP TRIGGER, ACCESS
	// EXCLUSIVE for an instant, on a table others write.
	Create: func(_ string, o *schema.Object, _ Where) []Statement {
		return []Statement{{SQL: createTrigger(o.Attrs["table"], o.Attrs["trigger"], o), Lock: LockBrief}}
	},
	Drop: func(_ string, o *schema.Object) []Statement {
		return []Statement{{SQL: fmt.Sprintf("DROP TRIGGER %s ON %s;", sqlident.Quote(o.Attrs["trigger"]), o.Attrs["table"]), Lock: LockBrief}}
	},
	Summary: func(o *schema.Object) string {
		a := o.Attrs
		return fmt.Sprintf("%s %s ON %s FOR EACH %s EXECUTE FUNCTION %s()", a["timing"], triggerEvents(a), a["table"], a["for_each"], a["function"])
	},
	// After the functions they run, with the other triggers.
	CreateAfter:  "trigger.alter",
	DropAfter:    "trigger.drop",
	DeclaredOnly: true,
}
