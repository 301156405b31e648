package pgtest

import "testing"

// SupabaseSQL turns a fresh database into a stand-in for a Supabase project's, as far as
// rlsmigrate can tell: what Supabase's published init scripts (supabase/postgres,
// migrations/db/init-scripts: 00000000000000-initial-schema.sql and
// 00000000000001-auth-schema.sql) and its auth server's migrations set up.
//
//   - Roles anon, authenticated (NOLOGIN NOINHERIT) and service_role (NOLOGIN
//     NOINHERIT BYPASSRLS). Roles are the cluster's, so they are made only where
//     missing.
//   - USAGE on schema public for the three, and default privileges that give them ALL
//     on the tables, sequences and functions the connecting role creates in public.
//   - Schema auth with auth.users (id uuid primary key, and a few of its columns),
//     auth.uid() (the sub claim as uuid, from request.jwt.claim.sub or the claims JSON in
//     request.jwt.claims), auth.role() and auth.jwt() (the claims as jsonb), usable by
//     the three roles.
//
// It leaves out what rlsmigrate never touches: storage, realtime, the extensions schema,
// the platform's admin roles and authenticator, the login role the API connects as.
const SupabaseSQL = `
DO $$
DECLARE
  r text[];
BEGIN
  -- One role at a time: another test's database may make one meanwhile, and a failed
  -- creation must not undo the others.
  FOREACH r SLICE 1 IN ARRAY ARRAY[['anon', 'NOLOGIN NOINHERIT'], ['authenticated', 'NOLOGIN NOINHERIT'],
      ['service_role', 'NOLOGIN NOINHERIT BYPASSRLS']] LOOP
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r[1]) THEN
        EXECUTE format('CREATE ROLE %I %s', r[1], r[2]);
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- made meanwhile for another test's database
    END;
  END LOOP;
END $$;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;

CREATE SCHEMA auth;
CREATE TABLE auth.users (
  instance_id uuid,
  id uuid NOT NULL PRIMARY KEY,
  aud varchar(255),
  role varchar(255),
  email varchar(255) UNIQUE,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  created_at timestamptz,
  updated_at timestamptz
);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
    (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')), '')::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(current_setting('request.jwt.claim.role', true),
    (current_setting('request.jwt.claims', true)::jsonb ->> 'role')), '')::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
`

// NewSupabaseDB returns a fresh database set up by SupabaseSQL.
func NewSupabaseDB(t testing.TB) string {
	t.Helper()
	dbURL := NewDB(t)
	MustExec(t, Connect(t, dbURL), SupabaseSQL)
	return dbURL
}
