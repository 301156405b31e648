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

// Publication is a publication of the database (it belongs to no schema): its items are
// the tables it publishes, schema.name, sorted. It may be the platform's (Supabase's
// supabase_realtime, made empty with every project): a migration makes it only where it
// is missing, sets its tables, and on drop takes its tables out of it rather than drop
// what others may read.
var Publication = Kind{
	Name: "publication",
	Declare: func(f *policy.File, _ *policy.Table) []Declared {
		var out []Declared
		for _, p := range f.Publications {
			out = append(out, Declared{&schema.Object{Kind: "publication", Name: p.Name, Items: p.Tables}, p.Pos})
		}
		return out
	},
	Query: `SELECT ''::text, p.pubname::text, '{}'::jsonb,
		array(SELECT n.nspname || '.' || c.relname FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.prpubid = p.oid ORDER BY (n.nspname || '.' || c.relname) COLLATE "C")
		FROM pg_publication p WHERE $1::text[] IS NOT NULL AND NOT p.puballtables ORDER BY 2`,
	Create: func(_ string, o *schema.Object, _ Where) []Statement {
		name := sqlident.Quote(o.Name)
		set := ""
		if len(o.Items) > 0 {
			set = "ALTER PUBLICATION " + name + " SET TABLE " + publishedTables(o.Items) + ";"
		}
		return []Statement{{SQL: "DO " + sqlident.DollarQuote(fmt.Sprintf(`
BEGIN
  IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = %s) THEN
    CREATE PUBLICATION %s;
  END IF;
  %s
END
`, sqlident.Literal(o.Name), name, set)) + ";"}}
	},
	Drop: func(_ string, o *schema.Object) []Statement {
		if len(o.Items) == 0 {
			return nil
		}
		return []Statement{{SQL: fmt.Sprintf("ALTER PUBLICATION %s DROP TABLE %s;", sqlident.Quote(o.Name), publishedTables(o.Items))}}
	},
	Alter: func(_ string, _, new *schema.Object, _ bool) []Statement {
		if len(new.Items) == 0 {
			return []Statement{{SQL: "DO " + sqlident.DollarQuote(fmt.Sprintf(`
DECLARE
  t text;
BEGIN
  FOR t IN SELECT r.prrelid::regclass::text FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = %s LOOP
    EXECUTE format('ALTER PUBLICATION %%I DROP TABLE %%s', %s, t);
  END LOOP;
END
`, sqlident.Literal(new.Name), sqlident.Literal(new.Name))) + ";"}}
		}
		return []Statement{{SQL: fmt.Sprintf("ALTER PUBLICATION %s SET TABLE %s;", sqlident.Quote(new.Name), publishedTables(new.Items))}}
	},
	RenameTables: func(o *schema.Object, renames map[string]string) {
		o.Items = slices.Clone(o.Items)
		for i, q := range o.Items {
			o.Items[i] = cmp.Or(renames[q], q)
		}
		slices.SortFunc(o.Items, func(a, b string) int { return strings.Compare(a, b) })
	},
	Summary: func(o *schema.Object) string { return "PUBLICATION FOR TABLE " + strings.Join(o.Items, ", ") },
	// After the tables it publishes are made; before they are dropped.
	CreateAfter:  "view.alter",
	DropAfter:    "check.drop",
	DeclaredOnly: true,
}

// publishedTables spells schema.name items as a table list, quoted.
func publishedTables(items []string) string {
	out := make([]string, len(items))
	for i, q := range items {
		schemaName, name, _ := strings.Cut(q, ".")
		out[i] = sqlident.Qualified(schemaName, name)
	}
	return strings.Join(out, ", ")
}
