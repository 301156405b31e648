package inspect

import (
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// exposures gathers, from the catalog batch, what lets a role past row-level security
// around the policies; finish keeps what concerns declared roles.
type exposures struct {
	views     []*schema.Exposure
	functions []definerFunction
	defaults  []*schema.DefaultPrivilege
	create    map[string][]string
}

// definerFunction is a SECURITY DEFINER function and its body, which finish searches
// for the names of tables with row-level security.
type definerFunction struct {
	exposure *schema.Exposure
	body     string
	past     []string // the tables whose row-level security its owner gets past, schema.name
}

// queueExposures adds to batch the queries for the views and materialized views of the
// declared schemas that read, directly or through other views, a table with row-level
// security; their SECURITY DEFINER functions (not those of extensions, nor of schema
// rls, which rlsmigrate owns and compares itself); the default privileges that concern
// them; and who may CREATE in them and in schema auth.
func queueExposures(batch *pgx.Batch, s *schema.Schema, opts Options) *exposures {
	e := &exposures{create: map[string][]string{}}
	grantee := `CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee) END`
	// A view reads its tables as its owner (checkAsUser), unless it is security_invoker;
	// through another view, as that view's owner, or, through a security_invoker view,
	// as the caller again: the chain stops there. The owner gets past a table's
	// row-level security when it is a superuser or BYPASSRLS, or owns the table (through
	// membership too) and the table is not forced.
	batch.Queue(`WITH RECURSIVE reads(top, tbl, asuser) AS (
			SELECT r.ev_class, d.refobjid, c.relowner FROM pg_rewrite r
			JOIN pg_class c ON c.oid = r.ev_class AND c.relkind IN ('v', 'm')
			JOIN pg_namespace cn ON cn.oid = c.relnamespace AND cn.nspname = ANY($1)
			JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
				AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
			UNION
			SELECT reads.top, d.refobjid, v.relowner FROM reads
			JOIN pg_class v ON v.oid = reads.tbl AND v.relkind IN ('v', 'm')
				AND NOT coalesce(array_to_string(v.reloptions, ',') ~* 'security_invoker=(true|on|1|yes)', false)
			JOIN pg_rewrite r ON r.ev_class = v.oid
			JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
				AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class)
		SELECT n.nspname, c.relname, c.relkind::text, coalesce(c.reloptions, '{}'),
			array(SELECT DISTINCT tn.nspname || '.' || t.relname FROM reads
				JOIN pg_class t ON t.oid = reads.tbl JOIN pg_namespace tn ON tn.oid = t.relnamespace
				WHERE reads.top = c.oid AND t.relrowsecurity AND `+bypasses("reads.asuser")+` ORDER BY 1),
			array(SELECT DISTINCT `+grantee+` FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
				WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner ORDER BY 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1) ORDER BY 1, 2`, opts.Schemas).Query(func(rows pgx.Rows) error {
		var x schema.Exposure
		var kind string
		var options []string
		_, err := pgx.ForEachRow(rows, []any{&x.Schema, &x.Name, &kind, &options, &x.Reads, &x.Roles}, func() error {
			v := x
			v.Kind = map[string]string{"v": "view", "m": "materialized view"}[kind]
			v.SecurityInvoker = slices.ContainsFunc(options, func(o string) bool {
				name, val, _ := strings.Cut(o, "=")
				return name == "security_invoker" && slices.Contains([]string{"true", "on", "1", "yes"}, strings.ToLower(val))
			})
			e.views = append(e.views, &v)
			return nil
		})
		return err
	})
	batch.Queue(`SELECT n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prosrc,
			array(SELECT DISTINCT `+grantee+` FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
				WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner ORDER BY 1),
			array(SELECT tn.nspname || '.' || t.relname FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
				WHERE t.relrowsecurity AND t.relkind IN ('r', 'p') AND tn.nspname = ANY($1) AND `+bypasses("p.proowner")+` ORDER BY 1)
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.prosecdef AND n.nspname = ANY($1) AND NOT (n.nspname = ANY($2))
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		ORDER BY 1, 2`, opts.Schemas, opts.RoutineSchemas).Query(func(rows pgx.Rows) error {
		var x schema.Exposure
		var body string
		var past []string
		_, err := pgx.ForEachRow(rows, []any{&x.Schema, &x.Name, &body, &x.Roles, &past}, func() error {
			f := x
			f.Kind = "function"
			e.functions = append(e.functions, definerFunction{&f, body, past})
			return nil
		})
		return err
	})
	batch.Queue(`SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype::text, `+grantee+`,
			array_agg(lower(a.privilege_type) ORDER BY a.privilege_type)
		FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
		WHERE (d.defaclnamespace = 0 OR n.nspname = ANY($1)) AND a.grantee <> d.defaclrole
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, opts.Schemas).Query(func(rows pgx.Rows) error {
		var dp schema.DefaultPrivilege
		var objType string
		_, err := pgx.ForEachRow(rows, []any{&dp.Owner, &dp.Schema, &objType, &dp.Grantee, &dp.Privileges}, func() error {
			p := dp
			p.ObjectType = map[string]string{"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}[objType]
			e.defaults = append(e.defaults, &p)
			return nil
		})
		return err
	})
	batch.Queue(`SELECT n.nspname, array(SELECT DISTINCT `+grantee+` FROM aclexplode(n.nspacl) a
			WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner ORDER BY 1)
		FROM pg_namespace n WHERE n.nspname = ANY($1) OR n.nspname = 'auth' ORDER BY 1`, opts.Schemas).Query(func(rows pgx.Rows) error {
		var name string
		var roles []string
		_, err := pgx.ForEachRow(rows, []any{&name, &roles}, func() error {
			e.create[name] = roles
			return nil
		})
		return err
	})
	return e
}

// finish keeps, in s, what a declared role or PUBLIC can use: views (without
// security_invoker) and materialized views that read a table with row-level security,
// SECURITY DEFINER functions whose body names one. Default privileges and CREATE are
// kept for every role when all is set, as privileges on the tables are.
func (e *exposures) finish(s *schema.Schema, roles []string, all bool) {
	declared := func(list []string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(r string) bool { return r != "public" && !slices.Contains(roles, r) })
	}
	granted := declared
	if all {
		granted = slices.Clone[[]string]
	}
	for _, v := range e.views {
		v.Roles = declared(v.Roles)
		if len(v.Reads) > 0 && len(v.Roles) > 0 && (v.Kind == "materialized view" || !v.SecurityInvoker) {
			s.Exposures = append(s.Exposures, v)
		}
	}
	for _, f := range e.functions {
		f.exposure.Roles = declared(f.exposure.Roles)
		for _, q := range f.past {
			if _, name, _ := strings.Cut(q, "."); names(f.body, name) {
				f.exposure.Reads = append(f.exposure.Reads, q)
			}
		}
		if len(f.exposure.Reads) > 0 && len(f.exposure.Roles) > 0 {
			s.Exposures = append(s.Exposures, f.exposure)
		}
	}
	for _, dp := range e.defaults {
		if len(granted([]string{dp.Grantee})) > 0 {
			s.DefaultPrivileges = append(s.DefaultPrivileges, dp)
		}
	}
	s.SchemaCreate = map[string][]string{}
	for name, list := range e.create {
		if d := granted(list); len(d) > 0 {
			s.SchemaCreate[name] = d
		}
	}
}

// bypasses is the SQL condition "role gets past the row-level security of table t".
func bypasses(role string) string {
	return `(EXISTS (SELECT FROM pg_roles o WHERE o.oid = ` + role + ` AND (o.rolsuper OR o.rolbypassrls))
		OR (NOT t.relforcerowsecurity AND pg_has_role(` + role + `, t.relowner, 'USAGE')))`
}

// names reports whether body names table: as a word, in any case, or quoted.
func names(body, table string) bool {
	word := regexp.MustCompile(`(?i)(^|[^a-z0-9_$])` + regexp.QuoteMeta(table) + `($|[^a-z0-9_$])`)
	return word.MatchString(body) || strings.Contains(body, `"`+table+`"`)
}
