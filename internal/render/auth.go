package render

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// fallbackFunctions define auth.session() and auth.user_id() in SQL with the fallback
// semantics of pg_session_jwt: the claims JSON comes from the setting request.jwt.claims,
// which a trusted backend sets per transaction; user_id() is its "sub" as text; both are
// NULL when the setting is unset, so ownership policies fail closed.
const fallbackFunctions = `CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO PUBLIC;
CREATE OR REPLACE FUNCTION auth.session() RETURNS jsonb LANGUAGE sql STABLE
  AS $f$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb $f$;
CREATE OR REPLACE FUNCTION auth.user_id() RETURNS text LANGUAGE sql STABLE
  AS $f$ SELECT auth.session() ->> 'sub' $f$;`

// notice is raised where pg_session_jwt is not offered, so the fallback is never silent.
const notice = "pg_session_jwt is not available on this server: created SQL functions auth.session() and auth.user_id() that read the claims JSON from the setting request.jwt.claims"

func (r *renderer) auth(c *diff.Change) {
	a := c.New.Auth
	if a == nil {
		return
	}
	switch a.Provider {
	case "pg_session_jwt":
		r.block(c.Kind, c, fmt.Sprintf(`BEGIN
  IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_session_jwt') THEN
    CREATE EXTENSION IF NOT EXISTS pg_session_jwt;
    CREATE SCHEMA IF NOT EXISTS auth;
    GRANT USAGE ON SCHEMA auth TO PUBLIC;
  ELSE
%s
    RAISE NOTICE %s;
  END IF;
END`, indent(fallbackFunctions, "    "), sqlident.Literal(notice)))
	case "claims":
		r.block(c.Kind, c, "BEGIN\n"+indent(fallbackFunctions, "  ")+"\nEND")
	}
}

func createRole(role string) string {
	return fmt.Sprintf(`BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN
    CREATE ROLE %s NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- created meanwhile by another database's migration
END`, sqlident.Literal(role), sqlident.Quote(role))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
