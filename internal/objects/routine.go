package objects

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// Routine is a function of a database schema that schema.yaml declares. Its name is
// name(argument types), as PostgreSQL tells overloads apart; its attributes are its
// definition as the catalog prints it: args (pg_get_function_arguments), returns
// (pg_get_function_result), language, volatility, security, search_path (as proconfig
// keeps it, "" when unset), body (prosrc, verbatim), and execute, the roles that may
// call it, sorted ("public" for PUBLIC). It is made exactly so: EXECUTE is revoked from
// everyone, default privileges' grantees among them, then granted as declared.
var Routine = Kind{
	Name: "routine",
	Declare: func(f *policy.File, _ *policy.Table) []Declared {
		var out []Declared
		for _, r := range f.Functions {
			args := make([]string, len(r.Args))
			for i, a := range r.Args {
				args[i] = sqlident.Quote(a.Name) + " " + a.Type
				if a.Default != "" {
					args[i] += " DEFAULT " + a.Default
				}
			}
			o := &schema.Object{Kind: "routine", Schema: r.Schema, Name: routineName(r.Name, r.Args), Attrs: map[string]string{
				"function": r.Name, "types": argTypes(r.Args), "args": strings.Join(args, ", "), "returns": r.Returns, "language": r.Language,
				"volatility": r.Volatility, "security": map[bool]string{true: "definer", false: "invoker"}[r.Definer],
				"search_path": searchPath(r.SearchPath), "body": r.Body, "execute": strings.Join(sortedRoles(r.Grants), ", "),
			}}
			out = append(out, Declared{o, r.Pos})
		}
		return out
	},
	Query: `SELECT n.nspname::text, p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
		jsonb_build_object('function', p.proname::text, 'types', oidvectortypes(p.proargtypes), 'args', pg_get_function_arguments(p.oid),
			'returns', pg_get_function_result(p.oid), 'language', l.lanname::text,
			'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
			'security', CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END,
			'search_path', coalesce((SELECT substr(c, 13) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), ''),
			'body', p.prosrc,
			'execute', coalesce((SELECT string_agg(g, ', ' ORDER BY g COLLATE "C") FROM (SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END g
				FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
				WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner) x), '')),
		NULL::text[]
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE n.nspname = ANY($1) AND p.prokind = 'f' AND n.nspname NOT IN ('` + policy.FunctionSchema + `', 'auth')
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		ORDER BY 1, 2`,
	Create: func(_ string, o *schema.Object, _ Where) []Statement {
		return createRoutine(o, "CREATE")
	},
	// Argument defaults print as PostgreSQL deparses them (null as NULL::the type): a
	// stand-in with the same arguments gives that form. Others need none.
	StandIn: func(o *schema.Object, name string) string {
		if !strings.Contains(o.Attrs["args"], " DEFAULT ") {
			return ""
		}
		body := "BEGIN RETURN NULL; END"
		if r := strings.ToLower(o.Attrs["returns"]); r == "void" || strings.HasPrefix(r, "setof ") {
			body = "BEGIN RETURN; END"
		}
		return fmt.Sprintf("CREATE FUNCTION pg_temp.%s(%s) RETURNS %s LANGUAGE plpgsql AS %s;",
			sqlident.Quote(name), o.Attrs["args"], o.Attrs["returns"], sqlident.DollarQuote(body))
	},
	Printed: []string{"args"},
	Drop: func(_ string, o *schema.Object) []Statement {
		return []Statement{{SQL: fmt.Sprintf("DROP FUNCTION %s;", routineRef(o))}}
	},
	// CREATE OR REPLACE keeps what depends on the function (triggers, policies) when its
	// result and arguments stay; otherwise it is dropped and made anew.
	Alter: func(_ string, old, new *schema.Object, _ bool) []Statement {
		if old.Attrs["returns"] != new.Attrs["returns"] || old.Attrs["args"] != new.Attrs["args"] {
			return append([]Statement{{SQL: fmt.Sprintf("DROP FUNCTION %s;", routineRef(old))}}, createRoutine(new, "CREATE")...)
		}
		return createRoutine(new, "CREATE OR REPLACE")
	},
	Users: func(o *schema.Object) []string {
		var out []string
		for _, r := range strings.Split(o.Attrs["execute"], ", ") {
			if r != "" && r != "public" {
				out = append(out, r)
			}
		}
		return out
	},
	Hazard: func(old, new *schema.Object) string {
		// A definer function runs as its owner: who may call it gets past row-level
		// security as far as its body goes (a trigger function nobody calls does not).
		if new.Attrs["security"] == "definer" && new.Attrs["execute"] != "" &&
			(old == nil || old.Attrs["security"] != "definer" || old.Attrs["execute"] != new.Attrs["execute"]) {
			return "widens-access"
		}
		return ""
	},
	Summary: func(o *schema.Object) string {
		a := o.Attrs
		return fmt.Sprintf("FUNCTION %s.%s(%s) RETURNS %s, %s, %s, security %s, search_path %q, execute [%s]",
			o.Schema, a["function"], a["args"], a["returns"], a["language"], a["volatility"], a["security"], a["search_path"], a["execute"])
	},
	// After the tables and columns their bodies and results name; before the group
	// functions and policies, which may call them. Dropped last, once what called them
	// (triggers, policies, defaults) is gone.
	CreateAfter:  "index.create",
	DropAfter:    "table.drop",
	DeclaredOnly: true,
}

func routineName(name string, args []*policy.Arg) string { return name + "(" + argTypes(args) + ")" }

// argTypes spells a function's argument types as oidvectortypes does: "bigint, text".
func argTypes(args []*policy.Arg) string {
	types := make([]string, len(args))
	for i, a := range args {
		types[i] = a.Type
	}
	return strings.Join(types, ", ")
}

// routineRef names function o with its argument types, quoted, for DROP and GRANT: its
// name may hold "(" and anything else.
func routineRef(o *schema.Object) string {
	return sqlident.Qualified(o.Schema, o.Attrs["function"]) + "(" + o.Attrs["types"] + ")"
}

// searchPath spells a search_path as proconfig keeps it: the schemas, quoted as
// needed, separated by ", "; `""` for none; "" when unset (nil).
func searchPath(path []string) string {
	if path == nil {
		return ""
	}
	if len(path) == 0 {
		return `""`
	}
	quoted := make([]string, len(path))
	for i, p := range path {
		quoted[i] = sqlident.Quote(p)
	}
	return strings.Join(quoted, ", ")
}

func sortedRoles(roles []string) []string {
	out := slices.Clone(roles)
	slices.Sort(out)
	return out
}

// createRoutine makes function o with verb (CREATE, CREATE OR REPLACE), then sets who
// may call it: EXECUTE revoked from every role that holds it (default privileges may
// have given some), then granted as declared.
func createRoutine(o *schema.Object, verb string) []Statement {
	a := o.Attrs
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s FUNCTION %s(%s) RETURNS %s LANGUAGE %s %s", verb, sqlident.Qualified(o.Schema, a["function"]), a["args"],
		a["returns"], a["language"], strings.ToUpper(a["volatility"]))
	if a["security"] == "definer" {
		sb.WriteString(" SECURITY DEFINER")
	}
	switch sp := a["search_path"]; sp {
	case "":
	case `""`:
		sb.WriteString(" SET search_path = ''")
	default:
		sb.WriteString(" SET search_path = " + sp)
	}
	sb.WriteString("\n  AS " + sqlident.DollarQuote(a["body"]) + ";")
	ref := routineRef(o)
	out := []Statement{{SQL: sb.String()}, {SQL: revokeEveryone("FUNCTION", "pg_proc", "proacl, acldefault('f', x.proowner)", "proowner", ref, "regprocedure")}}
	if e := a["execute"]; e != "" {
		out = append(out, Statement{SQL: fmt.Sprintf("GRANT EXECUTE ON FUNCTION %s TO %s;", ref, sqlident.Grantees(strings.Split(e, ", ")))})
	}
	return out
}
