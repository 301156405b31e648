-- The access rules of Neon's social network with Drizzle RLS
-- (neondatabase-labs/social-network-drizzle-rls, schema.ts and the migration drizzle-kit
-- wrote from it, drizzle/0000_useful_the_fallen.sql, read at 02c37d6), restated as plain
-- SQL for the behaviour comparison. Adapted to run at all:
--   - pg_session_jwt's auth.user_id() is the SQL function rlsmigrate's fallback makes
--     (the sub claim of request.jwt.claims); roles authenticated and anonymous are
--     made by the test, and the grants Neon's RLS guide has you run are given below;
--   - the written SQL names columns user_id, chat_id and owner_id where the tables have
--     "userId", "chatId" and "ownerId" (drizzle's casing), and creates the view after
--     the policies that read it: as published, CREATE POLICY fails. The names are
--     corrected and the view comes first;
--   - policies drizzle wrote without USING or WITH CHECK (crudPolicy's modify: null)
--     are kept: PostgreSQL takes them as letting nothing through.
CREATE SCHEMA IF NOT EXISTS auth;
CREATE FUNCTION auth.session() RETURNS jsonb LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb $$;
CREATE FUNCTION auth.user_id() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT auth.session() ->> 'sub' $$;
GRANT USAGE ON SCHEMA auth TO PUBLIC;

CREATE TABLE users (
  "userId" text PRIMARY KEY,
  email text NOT NULL UNIQUE,
  "createdAt" timestamp NOT NULL DEFAULT now(),
  "updatedAt" timestamp NOT NULL DEFAULT now()
);
CREATE TABLE user_profiles ("userId" text UNIQUE REFERENCES users, name text);
CREATE TABLE chats (id text PRIMARY KEY, title text NOT NULL, "ownerId" text REFERENCES users);
CREATE TABLE chat_messages (
  id text PRIMARY KEY,
  message text NOT NULL,
  "chatId" text REFERENCES chats,
  sender text NOT NULL REFERENCES users ON DELETE CASCADE
);
CREATE TABLE chat_participants (
  "chatId" text REFERENCES chats,
  "userId" text REFERENCES users,
  PRIMARY KEY ("chatId", "userId")
);
CREATE TABLE posts (id text PRIMARY KEY, title text NOT NULL, content text NOT NULL, "userId" text REFERENCES users);
CREATE TABLE comments (id text PRIMARY KEY, "postId" text REFERENCES posts, content text, "userId" text REFERENCES users);
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE chats ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;

-- The participants of the caller's chats, read past chat_participants' policies (a
-- view runs as its owner): the policies below cannot read the table they guard.
CREATE VIEW my_chats_participants AS
  SELECT "chatId", "userId" FROM chat_participants
  WHERE "chatId" IN (SELECT "chatId" FROM chat_participants WHERE "userId" = auth.user_id());

CREATE POLICY "crud-authenticated-policy-select" ON chat_messages FOR SELECT TO authenticated
  USING ((select auth.user_id()) IN (SELECT "userId" FROM my_chats_participants WHERE "chatId" = chat_messages."chatId"));
CREATE POLICY "chats-policy-insert" ON chat_messages FOR INSERT TO authenticated
  WITH CHECK ((select auth.user_id()) = sender AND (select auth.user_id()) IN (SELECT "userId" FROM my_chats_participants WHERE "chatId" = chat_messages."chatId"));
CREATE POLICY "crud-authenticated-policy-insert" ON chat_messages FOR INSERT TO authenticated;
CREATE POLICY "crud-authenticated-policy-update" ON chat_messages FOR UPDATE TO authenticated;
CREATE POLICY "crud-authenticated-policy-delete" ON chat_messages FOR DELETE TO authenticated;

CREATE POLICY "crud-authenticated-policy-select" ON chat_participants FOR SELECT TO authenticated USING (false);
CREATE POLICY "crud-authenticated-policy-insert" ON chat_participants FOR INSERT TO authenticated
  WITH CHECK ((select auth.user_id() = (SELECT "ownerId" FROM chats WHERE id = chat_participants."chatId")));
CREATE POLICY "crud-authenticated-policy-update" ON chat_participants FOR UPDATE TO authenticated
  USING ((select auth.user_id() = (SELECT "ownerId" FROM chats WHERE id = chat_participants."chatId")))
  WITH CHECK ((select auth.user_id() = (SELECT "ownerId" FROM chats WHERE id = chat_participants."chatId")));
CREATE POLICY "crud-authenticated-policy-delete" ON chat_participants FOR DELETE TO authenticated
  USING ((select auth.user_id() = (SELECT "ownerId" FROM chats WHERE id = chat_participants."chatId")));

CREATE POLICY "crud-authenticated-policy-select" ON chats FOR SELECT TO authenticated
  USING ((select auth.user_id()) = "ownerId" OR (select auth.user_id()) IN (SELECT "userId" FROM my_chats_participants WHERE "chatId" = chats.id));
CREATE POLICY "crud-authenticated-policy-insert" ON chats FOR INSERT TO authenticated WITH CHECK ((select auth.user_id() = "ownerId"));
CREATE POLICY "crud-authenticated-policy-update" ON chats FOR UPDATE TO authenticated
  USING ((select auth.user_id() = "ownerId")) WITH CHECK ((select auth.user_id() = "ownerId"));
CREATE POLICY "crud-authenticated-policy-delete" ON chats FOR DELETE TO authenticated USING ((select auth.user_id() = "ownerId"));

-- posts, comments and user_profiles: everyone reads; the author writes.
CREATE POLICY "crud-anonymous-policy-select" ON posts FOR SELECT TO anonymous USING (true);
CREATE POLICY "crud-anonymous-policy-insert" ON posts FOR INSERT TO anonymous;
CREATE POLICY "crud-anonymous-policy-update" ON posts FOR UPDATE TO anonymous;
CREATE POLICY "crud-anonymous-policy-delete" ON posts FOR DELETE TO anonymous;
CREATE POLICY "crud-authenticated-policy-select" ON posts FOR SELECT TO authenticated USING (true);
CREATE POLICY "crud-authenticated-policy-insert" ON posts FOR INSERT TO authenticated WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-update" ON posts FOR UPDATE TO authenticated
  USING ((select auth.user_id() = "userId")) WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-delete" ON posts FOR DELETE TO authenticated USING ((select auth.user_id() = "userId"));

CREATE POLICY "crud-anonymous-policy-select" ON comments FOR SELECT TO anonymous USING (true);
CREATE POLICY "crud-anonymous-policy-insert" ON comments FOR INSERT TO anonymous;
CREATE POLICY "crud-anonymous-policy-update" ON comments FOR UPDATE TO anonymous;
CREATE POLICY "crud-anonymous-policy-delete" ON comments FOR DELETE TO anonymous;
CREATE POLICY "crud-authenticated-policy-select" ON comments FOR SELECT TO authenticated USING (true);
CREATE POLICY "crud-authenticated-policy-insert" ON comments FOR INSERT TO authenticated WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-update" ON comments FOR UPDATE TO authenticated
  USING ((select auth.user_id() = "userId")) WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-delete" ON comments FOR DELETE TO authenticated USING ((select auth.user_id() = "userId"));

CREATE POLICY "crud-anonymous-policy-select" ON user_profiles FOR SELECT TO anonymous USING (true);
CREATE POLICY "crud-anonymous-policy-insert" ON user_profiles FOR INSERT TO anonymous;
CREATE POLICY "crud-anonymous-policy-update" ON user_profiles FOR UPDATE TO anonymous;
CREATE POLICY "crud-anonymous-policy-delete" ON user_profiles FOR DELETE TO anonymous;
CREATE POLICY "crud-authenticated-policy-select" ON user_profiles FOR SELECT TO authenticated USING (true);
CREATE POLICY "crud-authenticated-policy-insert" ON user_profiles FOR INSERT TO authenticated WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-update" ON user_profiles FOR UPDATE TO authenticated
  USING ((select auth.user_id() = "userId")) WITH CHECK ((select auth.user_id() = "userId"));
CREATE POLICY "crud-authenticated-policy-delete" ON user_profiles FOR DELETE TO authenticated USING ((select auth.user_id() = "userId"));

-- What Neon's RLS guide has you grant the two roles.
GRANT USAGE ON SCHEMA public TO authenticated, anonymous;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO authenticated, anonymous;
