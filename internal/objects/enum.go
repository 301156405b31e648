package objects

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Enum is an enum type of a database schema: its items are its labels, in order.
// Labels added keep the rows as they are (ALTER TYPE ... ADD VALUE); labels removed or
// reordered need the type made anew and every column of it converted, which fails on a
// row holding a removed label (hazard deletes-data).
var Enum = Kind{
	Name:      "enum",
	Namespace: "type",
	Declare: func(f *policy.File, _ *policy.Table) []Declared {
		var out []Declared
		for _, e := range f.Enums {
			out = append(out, Declared{&schema.Object{Kind: "enum", Schema: e.Schema, Name: e.Name, Items: e.Values}, e.Pos})
		}
		return out
	},
	Query: `SELECT n.nspname::text, t.typname::text, '{}'::jsonb,
		array(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype = 'e' AND n.nspname = ANY($1)
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
		ORDER BY 1, 2`,
	Create: func(_ string, o *schema.Object, _ Where) []Statement {
		return []Statement{{SQL: fmt.Sprintf("CREATE TYPE %s AS ENUM (%s);", enumName(o), labels(o.Items))}}
	},
	Drop: func(_ string, o *schema.Object) []Statement {
		return []Statement{{SQL: fmt.Sprintf("DROP TYPE %s;", enumName(o))}}
	},
	Alter: func(_ string, old, new *schema.Object, anew bool) []Statement {
		if added, ok := addedLabels(old.Items, new.Items); ok && !anew {
			var out []Statement
			for _, a := range added {
				out = append(out, Statement{SQL: fmt.Sprintf("ALTER TYPE %s ADD VALUE %s;", enumName(new), a)})
			}
			return out
		}
		return []Statement{{SQL: remakeEnum(new), Lock: LockRewrite}}
	},
	// A column default naming an added label, in the same migration, needs the type
	// made anew: its values are usable in the transaction that makes it.
	Anew: func(old, new *schema.Object, to *schema.Schema) bool {
		added := schema.Without(new.Items, old.Items)
		typ := enumType(new)
		for _, t := range to.Tables {
			for _, c := range t.Columns {
				if c.Type != typ || c.Default == "" {
					continue
				}
				for _, l := range added {
					if strings.Contains(c.Default, sqlident.Literal(l)) {
						return true
					}
				}
			}
		}
		return false
	},
	Hazard: func(old, new *schema.Object) string {
		if old == nil {
			return ""
		}
		if _, ok := addedLabels(old.Items, new.Items); !ok {
			return "deletes-data"
		}
		return ""
	},
	Summary:  func(o *schema.Object) string { return "ENUM (" + labels(o.Items) + ")" },
	TypeName: enumType,
	// Types come before the tables whose columns hold them, and go after them.
	CreateAfter: "schema.create",
	DropAfter:   "table.drop",
}

// enumType is enum o as a column names it: by its name in public, qualified in
// another schema, as format_type prints it with the default search path.
func enumType(o *schema.Object) string {
	if o.Schema == "public" {
		return sqlident.Quote(o.Name)
	}
	return sqlident.Qualified(o.Schema, o.Name)
}

func enumName(o *schema.Object) string { return sqlident.Qualified(o.Schema, o.Name) }

func labels(items []string) string {
	quoted := make([]string, len(items))
	for i, l := range items {
		quoted[i] = sqlident.Literal(l)
	}
	return strings.Join(quoted, ", ")
}

// addedLabels returns the placements (ADD VALUE's argument) of the labels that turn old
// into new, when new is old with labels added anywhere, in order; false otherwise.
func addedLabels(old, new []string) ([]string, bool) {
	if len(old) == 0 {
		return nil, false
	}
	var out []string
	i := 0
	for j, l := range new {
		if i < len(old) && old[i] == l {
			i++
			continue
		}
		if slices.Contains(old, l) {
			return nil, false // moved
		}
		if j == 0 {
			out = append(out, sqlident.Literal(l)+" BEFORE "+sqlident.Literal(old[0]))
		} else {
			out = append(out, sqlident.Literal(l)+" AFTER "+sqlident.Literal(new[j-1]))
		}
	}
	return out, i == len(old)
}

// remakeEnum returns a DO block that makes enum o anew with its labels and converts
// every column of the old type through text. What PostgreSQL would refuse the
// conversion for is lifted around it, as PostgreSQL printed it before the type was
// renamed (so it names the type by its name): each column's default (one naming a
// removed label is left off), and the policies and triggers of the tables holding such
// a column. A view over such a column still makes PostgreSQL refuse, and the migration
// rolls back.
func remakeEnum(o *schema.Object) string {
	name := enumName(o)
	old := sqlident.Qualified(o.Schema, "rlsmigrate_old_enum")
	return "DO " + sqlident.DollarQuote(fmt.Sprintf(`
DECLARE
  tbls text[];
  cols text[];
  defs text[];
  lifted text[];
  restored text[];
  triggers text[];
  retriggered text[];
BEGIN
  SELECT coalesce(array_agg(a.attrelid::regclass::text ORDER BY a.attrelid, a.attnum), '{}'),
         coalesce(array_agg(quote_ident(a.attname) ORDER BY a.attrelid, a.attnum), '{}'),
         coalesce(array_agg(pg_get_expr(d.adbin, d.adrelid) ORDER BY a.attrelid, a.attnum), '{}')
    INTO tbls, cols, defs
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.atttypid = %[1]s::regtype AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attrelid IN (SELECT c.oid FROM pg_class c WHERE c.relkind IN ('r', 'p'));
  SELECT coalesce(array_agg(format('DROP POLICY %%I ON %%s', p.polname, p.polrelid::regclass)), '{}'),
         coalesce(array_agg(format('CREATE POLICY %%I ON %%s AS %%s FOR %%s TO %%s%%s%%s', p.polname, p.polrelid::regclass,
           CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ') FROM unnest(p.polroles) r),
           ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
           ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')), '{}')
    INTO lifted, restored
    FROM pg_policy p
    WHERE p.polrelid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.atttypid = %[1]s::regtype AND NOT a.attisdropped);
  SELECT coalesce(array_agg(format('DROP TRIGGER %%I ON %%s', t.tgname, t.tgrelid::regclass)), '{}'),
         coalesce(array_agg(pg_get_triggerdef(t.oid)), '{}')
    INTO triggers, retriggered
    FROM pg_trigger t
    WHERE NOT t.tgisinternal
      AND t.tgrelid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.atttypid = %[1]s::regtype AND NOT a.attisdropped);
  FOR i IN 1 .. coalesce(array_length(lifted, 1), 0) LOOP
    EXECUTE lifted[i];
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(triggers, 1), 0) LOOP
    EXECUTE triggers[i];
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(tbls, 1), 0) LOOP
    IF defs[i] IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %%s ALTER COLUMN %%s DROP DEFAULT', tbls[i], cols[i]);
    END IF;
  END LOOP;
  ALTER TYPE %[2]s RENAME TO rlsmigrate_old_enum;
  CREATE TYPE %[2]s AS ENUM (%[3]s);
  FOR i IN 1 .. coalesce(array_length(tbls, 1), 0) LOOP
    EXECUTE format('ALTER TABLE %%s ALTER COLUMN %%s TYPE %%s USING %%s::text::%%s', tbls[i], cols[i], %[1]s, cols[i], %[1]s);
    IF defs[i] IS NOT NULL THEN
      BEGIN
        EXECUTE format('ALTER TABLE %%s ALTER COLUMN %%s SET DEFAULT %%s', tbls[i], cols[i], defs[i]);
      EXCEPTION WHEN invalid_text_representation THEN
        NULL; -- the default names a removed label: the migration sets the new one
      END;
    END IF;
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(restored, 1), 0) LOOP
    EXECUTE restored[i];
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(retriggered, 1), 0) LOOP
    EXECUTE retriggered[i];
  END LOOP;
  DROP TYPE %[4]s;
END
`, sqlident.Literal(name), name, labels(o.Items), old)) + ";"
}
