package inspect

import (
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// exposures gathers, from the catalog batch, what lets a role past row-level security
// around the policies; finish keeps what concerns declared roles.
type exposures struct {
	views       []reach
	functions   []definerFunction
	unprotected []unprotected
	triggers    []trigger
	defaults    []*schema.DefaultPrivilege
	create      map[string][]string
}

// reach is an exposure and the roles (or public) with USAGE on its schema: a role
// without it cannot name the object.
type reach struct {
	x     *schema.Exposure
	usage []string
}

// definerFunction is a SECURITY DEFINER function or procedure, what its body reads, and
// the tables whose row-level security its owner gets past (schema.name).
type definerFunction struct {
	reach
	body sqlparse.RoutineReads
	past []string
}

// unprotected is a table without row-level security that some role may use: the RLS
// tables that are its inheritance children or partitions, those whose rules write into
// it, the roles with any privilege on it and those that may select from it.
type unprotected struct {
	schema, name                    string
	children, ruled, roles, readers []string
	usage                           []string
}

// trigger is a table with row-level security and what one of its trigger functions reads
// and writes.
type trigger struct {
	table string
	body  sqlparse.RoutineReads
}

// queueExposures adds to batch the queries for the views and materialized views of the
// declared schemas that read, directly or through other views, a table with row-level
// security; their SECURITY DEFINER functions (not those of extensions, nor of schema
// rls, which rlsmigrate owns and compares itself); the default privileges that concern
// them; and who may CREATE in them and in schema auth.
func queueExposures(batch *pgx.Batch, s *schema.Schema, opts Options) *exposures {
	e := &exposures{create: map[string][]string{}}
	grantee := granteeName
	// A view reads its tables as its owner (checkAsUser), unless it is security_invoker;
	// through another view, as that view's owner, or, through a security_invoker view,
	// as the caller again: the chain stops there. The owner gets past a table's
	// row-level security when it is a superuser or BYPASSRLS, or owns the table (through
	// membership too) and the table is not forced.
	batch.Queue(`WITH RECURSIVE reads(top, tbl, asuser) AS (
			SELECT r.ev_class, d.refobjid, c.relowner FROM pg_rewrite r
			JOIN pg_class c ON c.oid = r.ev_class AND c.relkind IN ('v', 'm')
			JOIN pg_namespace cn ON cn.oid = c.relnamespace AND ` + userSchema("cn") + `
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
				WHERE reads.top = c.oid AND t.relrowsecurity AND ` + bypasses("reads.asuser") + ` ORDER BY 1),
			array(SELECT DISTINCT ` + grantee + ` FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
				WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner ORDER BY 1),
			` + usage("n") + `
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('v', 'm') AND ` + userSchema("n") + ` ORDER BY 1, 2`).Query(func(rows pgx.Rows) error {
		var x schema.Exposure
		var kind string
		var options, usage []string
		_, err := pgx.ForEachRow(rows, []any{&x.Schema, &x.Name, &kind, &options, &x.Reads, &x.Roles, &usage}, func() error {
			v := x
			v.Kind = map[string]string{"v": "view", "m": "materialized view"}[kind]
			v.SecurityInvoker = slices.ContainsFunc(options, func(o string) bool {
				name, val, _ := strings.Cut(o, "=")
				return name == "security_invoker" && slices.Contains([]string{"true", "on", "1", "yes"}, strings.ToLower(val))
			})
			e.views = append(e.views, reach{&v, usage})
			return nil
		})
		return err
	})
	batch.Queue(`SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), oidvectortypes(p.proargtypes), p.prokind::text,
			p.provolatile::text, pg_get_functiondef(p.oid),
			array(SELECT DISTINCT `+grantee+` FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
				WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner ORDER BY 1),
			`+usage("n")+`,
			array(SELECT tn.nspname || '.' || t.relname FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
				WHERE t.relrowsecurity AND t.relkind IN ('r', 'p') AND tn.nspname = ANY($1) AND `+bypasses("p.proowner")+` ORDER BY 1)
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.prosecdef AND p.prokind IN ('f', 'p') AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
		AND `+userSchema("n")+` AND NOT (n.nspname = ANY($2))
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		ORDER BY 1, 2`, opts.Schemas, opts.RoutineSchemas).Query(func(rows pgx.Rows) error {
		var x schema.Exposure
		var kind, volatility, def string
		var usage, past []string
		_, err := pgx.ForEachRow(rows, []any{&x.Schema, &x.Routine, &x.Args, &x.Types, &kind, &volatility, &def, &x.Roles, &usage, &past}, func() error {
			f := x
			f.Name = f.Routine + "(" + f.Args + ")"
			f.Kind = map[string]string{"f": "function", "p": "procedure"}[kind]
			f.Volatile = volatility == "v"
			e.functions = append(e.functions, definerFunction{reach{&f, usage}, sqlparse.AnalyzeRoutine(def), past})
			return nil
		})
		return err
	})
	// Tables of any schema without row-level security that a role other than the owner
	// may use, each with the RLS tables of the declared schemas whose rows can reach it:
	// as a parent (reading or writing a parent reads and writes its inheritance children
	// and partitions under the parent's rules, not theirs), or as what a rule on such a
	// table writes into (a rule's actions run as the table's owner).
	batch.Queue(`WITH RECURSIVE up(child, parent) AS (
			SELECT inhrelid, inhparent FROM pg_inherits
			UNION SELECT up.child, i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.parent),
		rls AS (SELECT t.oid FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
			WHERE t.relrowsecurity AND tn.nspname = ANY($1))
		SELECT n.nspname, c.relname,
			array(SELECT DISTINCT tn.nspname || '.' || t.relname FROM up JOIN pg_class t ON t.oid = up.child
				JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE up.parent = c.oid AND t.oid IN (SELECT oid FROM rls) ORDER BY 1),
			array(SELECT DISTINCT tn.nspname || '.' || t.relname FROM pg_rewrite r JOIN pg_depend d
				ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
				JOIN pg_class t ON t.oid = r.ev_class JOIN pg_namespace tn ON tn.oid = t.relnamespace
				WHERE r.ev_type <> '1' AND t.oid IN (SELECT oid FROM rls) ORDER BY 1),
			array(SELECT DISTINCT `+grantee+` FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner ORDER BY 1),
			array(SELECT DISTINCT `+grantee+` FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner AND a.privilege_type = 'SELECT' ORDER BY 1),
			`+usage("n")+`
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relrowsecurity AND c.relacl IS NOT NULL AND `+userSchema("n")+`
		ORDER BY 1, 2`, opts.Schemas).Query(func(rows pgx.Rows) error {
		var t unprotected
		_, err := pgx.ForEachRow(rows, []any{&t.schema, &t.name, &t.children, &t.ruled, &t.roles, &t.readers, &t.usage}, func() error {
			e.unprotected = append(e.unprotected, t)
			return nil
		})
		return err
	})
	// The trigger functions of the RLS tables of the declared schemas, read for the
	// tables they write rows into; not those of RoutineSchemas (rls), rlsmigrate's own, which keep
	// copy columns: one reads the table it copies from, the other writes into a table
	// that has row-level security wherever its source has (validate refuses the rest),
	// and diff compares their bodies.
	batch.Queue(`SELECT DISTINCT tn.nspname || '.' || t.relname, pg_get_functiondef(tg.tgfoid)
		FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
		JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
		WHERE NOT tg.tgisinternal AND t.relrowsecurity AND tn.nspname = ANY($1) AND NOT pn.nspname = ANY(coalesce($2::text[], ARRAY[]::text[])) ORDER BY 1, 2`, opts.Schemas, opts.RoutineSchemas).Query(func(rows pgx.Rows) error {
		var table, def string
		_, err := pgx.ForEachRow(rows, []any{&table, &def}, func() error {
			e.triggers = append(e.triggers, trigger{table, sqlparse.AnalyzeRoutine(def)})
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

// finish keeps, in s, what a declared role or PUBLIC can reach (a privilege on it and
// USAGE on its schema): views (without security_invoker) and materialized views that
// read a table with row-level security; SECURITY DEFINER functions and procedures whose
// body names one, or cannot be analysed; tables without it that are the parents of one,
// or that a trigger or rule of one writes its rows into. Default privileges and CREATE
// are kept for every role when all is set, as privileges on the tables are.
func (e *exposures) finish(a *schema.Access, roles []string, all bool) {
	declared := func(list []string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(r string) bool { return r != "public" && !slices.Contains(roles, r) })
	}
	granted := declared
	if all {
		granted = slices.Clone[[]string]
	}
	reachable := func(privileged, usage []string) []string {
		var out []string
		for _, r := range declared(privileged) {
			if slices.Contains(usage, "public") || slices.Contains(usage, r) ||
				(r == "public" && slices.ContainsFunc(roles, func(d string) bool { return slices.Contains(usage, d) })) {
				out = append(out, r)
			}
		}
		return out
	}
	for _, v := range e.views {
		v.x.Roles = reachable(v.x.Roles, v.usage)
		if len(v.x.Reads) > 0 && len(v.x.Roles) > 0 && (v.x.Kind == "materialized view" || !v.x.SecurityInvoker) {
			a.Exposures = append(a.Exposures, v.x)
		}
	}
	for _, f := range e.functions {
		f.x.Roles = reachable(f.x.Roles, f.usage)
		if f.x.Opaque = f.body.Opaque; f.x.Opaque != "" {
			f.x.Reads = f.past
		} else {
			f.x.Reads = namedIn(f.past, f.body.Tables)
		}
		if len(f.x.Reads) > 0 && len(f.x.Roles) > 0 {
			a.Exposures = append(a.Exposures, f.x)
		}
	}
	for _, u := range e.unprotected {
		q := u.schema + "." + u.name
		parent := &schema.Exposure{Kind: "parent table", Schema: u.schema, Name: u.name, Reads: u.children, Roles: reachable(u.roles, u.usage)}
		if len(parent.Reads) > 0 && len(parent.Roles) > 0 {
			a.Exposures = append(a.Exposures, parent)
			continue
		}
		copies := slices.Clone(u.ruled)
		for _, tg := range e.triggers {
			if slices.Contains(namedIn([]string{q}, tg.body.Tables), q) && !slices.Contains(copies, tg.table) {
				copies = append(copies, tg.table)
			}
		}
		slices.Sort(copies)
		copied := &schema.Exposure{Kind: "copy table", Schema: u.schema, Name: u.name, Reads: copies, Roles: reachable(u.readers, u.usage)}
		if len(copied.Reads) > 0 && len(copied.Roles) > 0 {
			a.Exposures = append(a.Exposures, copied)
		}
	}
	for _, dp := range e.defaults {
		if len(granted([]string{dp.Grantee})) > 0 {
			a.DefaultPrivileges = append(a.DefaultPrivileges, dp)
		}
	}
	a.SchemaCreate = map[string][]string{}
	for name, list := range e.create {
		if d := granted(list); len(d) > 0 {
			a.SchemaCreate[name] = d
		}
	}
}

// namedIn returns the tables of qualified (schema.name) that refs name: by schema and
// name, or, unqualified, by name alone (the search path it runs with is not known).
func namedIn(qualified []string, refs []sqlparse.TableRef) []string {
	var out []string
	for _, q := range qualified {
		sch, name, _ := strings.Cut(q, ".")
		if slices.ContainsFunc(refs, func(r sqlparse.TableRef) bool { return r.Name == name && (r.Schema == "" || r.Schema == sch) }) {
			out = append(out, q)
		}
	}
	return out
}

// granteeName is the SQL name of the grantee a of an aclexplode row: public for PUBLIC.
const granteeName = `CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee) END`

// userSchema is the SQL condition "namespace n is not one of PostgreSQL's own".
func userSchema(n string) string {
	return n + `.nspname NOT IN ('pg_catalog', 'information_schema') AND ` + n + `.nspname NOT LIKE 'pg\_toast%' AND ` + n + `.nspname NOT LIKE 'pg\_temp\_%'`
}

// usage is the SQL array of the roles (or public) with USAGE on namespace n.
func usage(n string) string {
	return `array(SELECT DISTINCT ` + granteeName + `
		FROM aclexplode(coalesce(` + n + `.nspacl, acldefault('n', ` + n + `.nspowner))) a WHERE a.privilege_type = 'USAGE' ORDER BY 1)`
}

// bypasses is the SQL condition "role gets past the row-level security of table t".
func bypasses(role string) string {
	return `(EXISTS (SELECT FROM pg_roles o WHERE o.oid = ` + role + ` AND (o.rolsuper OR o.rolbypassrls))
		OR (NOT t.relforcerowsecurity AND pg_has_role(` + role + `, t.relowner, 'USAGE')))`
}
