package objects

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// View is a view of a database schema. Its attributes: query (as pg_get_viewdef prints
// it; the desired side is printed so too, from a temporary stand-in), security_invoker
// ("true" or "false") and privileges ("role PRIVILEGE", sorted, ", "-separated). It is
// made with exactly its grants: every privilege on it is revoked (default privileges
// give some), then SELECT granted as declared.
var View = Kind{
	Name: "view",
	Declare: func(f *policy.File, _ *policy.Table) []Declared {
		var out []Declared
		for _, v := range f.Views {
			var privs []string
			for _, r := range sortedRoles(v.Grants) {
				privs = append(privs, r+" SELECT")
			}
			o := &schema.Object{Kind: "view", Schema: v.Schema, Name: v.Name, Attrs: map[string]string{
				"query": v.Query, "security_invoker": fmt.Sprint(v.Invoker), "privileges": strings.Join(privs, ", "),
			}}
			out = append(out, Declared{o, v.Pos})
		}
		return out
	},
	Query: `SELECT n.nspname::text, c.relname::text, jsonb_build_object('query', pg_get_viewdef(c.oid),
			'security_invoker', CASE WHEN EXISTS (SELECT FROM pg_options_to_table(c.reloptions)
				WHERE option_name = 'security_invoker' AND lower(option_value) IN ('true', 'on', '1', 'yes')) THEN 'true' ELSE 'false' END,
			'privileges', coalesce((SELECT string_agg(g, ', ' ORDER BY g COLLATE "C") FROM (SELECT DISTINCT
				CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END || ' ' || a.privilege_type g
				FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) x), '')),
		NULL::text[]
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'v' AND n.nspname = ANY($1)
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY 1, 2`,
	Exprs: []string{"query"},
	StandIn: func(o *schema.Object, name string) string {
		return fmt.Sprintf("CREATE TEMP VIEW %s AS %s;", sqlident.Quote(name), o.Attrs["query"])
	},
	Create: func(_ string, o *schema.Object, _ Where) []Statement { return createView(o) },
	Drop:   func(_ string, o *schema.Object) []Statement { return dropView(o) },
	// A view whose query stays is altered in place: what depends on it (a policy
	// reading it) stays too. A new query makes it anew.
	Alter: func(table string, old, new *schema.Object, anew bool) []Statement {
		if anew || !sqlparse.Equivalent(old.Attrs["query"], new.Attrs["query"]) {
			return append(dropView(old), createView(new)...)
		}
		name := sqlident.Qualified(new.Schema, new.Name)
		var out []Statement
		if old.Attrs["security_invoker"] != new.Attrs["security_invoker"] {
			out = append(out, Statement{SQL: fmt.Sprintf("ALTER VIEW %s SET (security_invoker = %s);", name, new.Attrs["security_invoker"])})
		}
		return append(out, createView(new)[1:]...) // the privileges
	},
	Users: func(o *schema.Object) []string {
		var out []string
		for _, r := range viewReaders(o) {
			if r != "public" {
				out = append(out, r)
			}
		}
		return out
	},
	// A view that runs as its owner reads past the policies of what it reads.
	Hazard: func(old, new *schema.Object) string {
		if new.Attrs["security_invoker"] == "false" && new.Attrs["privileges"] != "" &&
			(old == nil || old.Attrs["security_invoker"] != "false" || old.Attrs["privileges"] != new.Attrs["privileges"]) {
			return "widens-access"
		}
		return ""
	},
	Summary: func(o *schema.Object) string {
		return fmt.Sprintf("VIEW (security_invoker = %s) AS %s; privileges [%s]", o.Attrs["security_invoker"],
			strings.Join(strings.Fields(o.Attrs["query"]), " "), o.Attrs["privileges"])
	},
	// After the tables, columns and functions its query reads; dropped before them.
	CreateAfter:  "trigger.alter",
	DropAfter:    "check.drop",
	DeclaredOnly: true,
}

// createView returns the statements that make view o: the view, then its privileges
// (every one revoked, SELECT granted to its readers).
func createView(o *schema.Object) []Statement {
	name := sqlident.Qualified(o.Schema, o.Name)
	out := []Statement{
		{SQL: fmt.Sprintf("CREATE VIEW %s WITH (security_invoker = %s) AS %s;", name, o.Attrs["security_invoker"], o.Attrs["query"])},
		{SQL: revokeEveryone("TABLE", "pg_class", "relacl", "relowner", name, "regclass")},
	}
	if roles := viewReaders(o); len(roles) > 0 {
		out = append(out, Statement{SQL: fmt.Sprintf("GRANT SELECT ON %s TO %s;", name, sqlident.Grantees(roles))})
	}
	return out
}

func dropView(o *schema.Object) []Statement {
	return []Statement{{SQL: fmt.Sprintf("DROP VIEW %s;", sqlident.Qualified(o.Schema, o.Name))}}
}

// viewReaders returns the roles a view's privileges give SELECT ("public" for PUBLIC).
func viewReaders(o *schema.Object) []string {
	var out []string
	for _, p := range strings.Split(o.Attrs["privileges"], ", ") {
		if role, ok := strings.CutSuffix(p, " SELECT"); ok && role != "" {
			out = append(out, role)
		}
	}
	return out
}
