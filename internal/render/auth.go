package render

import (
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// fallbackFunctions creates schema.IdentityFunctions: SQL functions with the names and
// fallback semantics of pg_session_jwt's.
func fallbackFunctions() string {
	var sb strings.Builder
	sb.WriteString("CREATE SCHEMA IF NOT EXISTS auth;\nGRANT USAGE ON SCHEMA auth TO PUBLIC;")
	for _, f := range schema.IdentityFunctions {
		fmt.Fprintf(&sb, "\nCREATE OR REPLACE FUNCTION %s RETURNS %s LANGUAGE sql STABLE\n  AS $f$%s$f$;", f.Signature, f.Returns, f.Body)
	}
	return sb.String()
}

// notice is raised where pg_session_jwt is not offered, so the fallback is never silent.
const notice = "pg_session_jwt is not available on this server: created SQL functions auth.session() and auth.user_id() that read the claims JSON from the setting request.jwt.claims"

func (r *renderer) auth(c *diff.Change) {
	a := c.New.Auth
	if a == nil {
		return
	}
	switch a.Provider {
	case "pg_session_jwt":
		r.block(c.Kind, c, objects.LockNone, fmt.Sprintf(`BEGIN
  IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_session_jwt') THEN
    CREATE EXTENSION IF NOT EXISTS pg_session_jwt;
    CREATE SCHEMA IF NOT EXISTS auth;
    GRANT USAGE ON SCHEMA auth TO PUBLIC;
  ELSE
%s
    RAISE NOTICE %s;
  END IF;
END`, indent(fallbackFunctions(), "    "), sqlident.Literal(notice)))
	case "claims":
		r.block(c.Kind, c, objects.LockNone, "BEGIN\n"+indent(fallbackFunctions(), "  ")+"\nEND")
	case "supabase":
		// The platform owns schema auth and its functions: a database without them is
		// not Supabase's, which the migration says before a policy calls one.
		sig := a.UserID
		if c.Kind == diff.FunctionMissing {
			sig = c.Name
		}
		// goose's version table, made in public before the first migration, got the
		// platform's default privileges: the API's roles could read and write it.
		r.block(c.Kind, c, objects.LockNone, fmt.Sprintf(`BEGIN
  IF to_regprocedure(%s) IS NULL THEN
    RAISE EXCEPTION %s;
  END IF;
  IF to_regclass('goose_db_version') IS NOT NULL THEN
    REVOKE ALL ON TABLE goose_db_version FROM PUBLIC, anon, authenticated, service_role;
  END IF;
END`, sqlident.Literal(sig), sqlident.Literal(sig+" does not exist: schema.yaml says auth.provider: supabase, and this database is not a Supabase database (locally: supabase start)")))
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
