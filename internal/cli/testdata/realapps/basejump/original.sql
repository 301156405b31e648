-- The access rules of Basejump's multi-tenant accounts (usebasejump/basejump,
-- supabase/migrations 20240414161707_basejump-setup.sql and
-- 20240414161947_basejump-accounts.sql, read at 4b6cbcf), restated as plain SQL for the
-- behaviour comparison: its settings, accounts and account members, with their
-- functions, triggers, grants and policies. Adapted to run on the test's Supabase
-- stand-in: ids are drawn with gen_random_uuid() (the stand-in has no extensions
-- schema), and automatic personal accounts are switched on in the config row (the
-- shipped row switches them off; the comparison loads its own accounts either way).
-- Left out, here and in schema.yaml: invitations and billing (the later migrations),
-- and the functions that read them.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated;
CREATE SCHEMA basejump;
GRANT USAGE ON SCHEMA basejump TO authenticated, service_role;

CREATE TABLE basejump.config (
  enable_team_accounts boolean DEFAULT true,
  enable_personal_account_billing boolean DEFAULT true,
  enable_team_account_billing boolean DEFAULT true,
  enable_automatic_personal_team boolean DEFAULT true,
  billing_provider text DEFAULT 'stripe'
);
INSERT INTO basejump.config (enable_team_accounts, enable_personal_account_billing, enable_team_account_billing, enable_automatic_personal_team)
  VALUES (true, true, true, true);
GRANT SELECT ON basejump.config TO authenticated, service_role;
ALTER TABLE basejump.config ENABLE ROW LEVEL SECURITY;
CREATE POLICY config_read ON basejump.config FOR SELECT TO authenticated USING (true);

-- Whether a boolean setting is on.
CREATE FUNCTION basejump.is_set(field_name text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE on_ boolean;
BEGIN
  EXECUTE format('SELECT %I FROM basejump.config LIMIT 1', field_name) INTO on_;
  RETURN on_;
END $$;
GRANT EXECUTE ON FUNCTION basejump.is_set(text) TO authenticated;

-- created_at and updated_at, created_by and updated_by: set by the database, never by
-- the caller.
CREATE FUNCTION basejump.trigger_set_timestamps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.created_at := now(); NEW.updated_at := now();
  ELSE
    NEW.updated_at := now(); NEW.created_at := OLD.created_at;
  END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION basejump.trigger_set_user_tracking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.created_by := auth.uid(); NEW.updated_by := auth.uid();
  ELSE
    NEW.updated_by := auth.uid(); NEW.created_by := OLD.created_by;
  END IF;
  RETURN NEW;
END $$;

CREATE TYPE basejump.account_role AS ENUM ('owner', 'member');
CREATE TABLE basejump.accounts (
  id uuid UNIQUE NOT NULL DEFAULT gen_random_uuid(),
  primary_owner_user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users,
  name text,
  slug text UNIQUE,
  personal_account boolean NOT NULL DEFAULT false,
  updated_at timestamptz,
  created_at timestamptz,
  created_by uuid REFERENCES auth.users,
  updated_by uuid REFERENCES auth.users,
  private_metadata jsonb DEFAULT '{}',
  public_metadata jsonb DEFAULT '{}',
  PRIMARY KEY (id),
  CONSTRAINT basejump_accounts_slug_null_if_personal_account_true CHECK (
    (personal_account = true AND slug IS NULL) OR (personal_account = false AND slug IS NOT NULL))
);
GRANT SELECT, INSERT, UPDATE, DELETE ON basejump.accounts TO authenticated, service_role;

-- Callers may not change an account's id, kind or primary owner.
CREATE FUNCTION basejump.protect_account_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user IN ('authenticated', 'anon') AND (NEW.id <> OLD.id OR NEW.personal_account <> OLD.personal_account
      OR NEW.primary_owner_user_id <> OLD.primary_owner_user_id) THEN
    RAISE EXCEPTION 'You do not have permission to update this field';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER basejump_protect_account_fields BEFORE UPDATE ON basejump.accounts
  FOR EACH ROW EXECUTE FUNCTION basejump.protect_account_fields();
CREATE FUNCTION basejump.slugify_account_slug() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.slug IS NOT NULL THEN
    NEW.slug := lower(regexp_replace(NEW.slug, '[^a-zA-Z0-9-]+', '-', 'g'));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER basejump_slugify_account_slug BEFORE INSERT OR UPDATE ON basejump.accounts
  FOR EACH ROW EXECUTE FUNCTION basejump.slugify_account_slug();
ALTER TABLE basejump.accounts ENABLE ROW LEVEL SECURITY;
CREATE TRIGGER basejump_set_accounts_timestamp BEFORE INSERT OR UPDATE ON basejump.accounts
  FOR EACH ROW EXECUTE FUNCTION basejump.trigger_set_timestamps();
CREATE TRIGGER basejump_set_accounts_user_tracking BEFORE INSERT OR UPDATE ON basejump.accounts
  FOR EACH ROW EXECUTE FUNCTION basejump.trigger_set_user_tracking();

CREATE TABLE basejump.account_user (
  user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
  account_id uuid NOT NULL REFERENCES basejump.accounts ON DELETE CASCADE,
  account_role basejump.account_role NOT NULL,
  CONSTRAINT account_user_pkey PRIMARY KEY (user_id, account_id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON basejump.account_user TO authenticated, service_role;
ALTER TABLE basejump.account_user ENABLE ROW LEVEL SECURITY;

-- The creator of an account becomes its first owner.
CREATE FUNCTION basejump.add_current_user_to_new_account() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF NEW.primary_owner_user_id = auth.uid() THEN
    INSERT INTO basejump.account_user (account_id, user_id, account_role) VALUES (NEW.id, auth.uid(), 'owner');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER basejump_add_current_user_to_new_account AFTER INSERT ON basejump.accounts
  FOR EACH ROW EXECUTE FUNCTION basejump.add_current_user_to_new_account();

-- On sign-up, a personal account, owned.
CREATE FUNCTION basejump.run_new_user_setup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE account uuid; username text;
BEGIN
  IF basejump.is_set('enable_automatic_personal_team') THEN
    IF NEW.email IS NOT NULL THEN
      username := split_part(NEW.email, '@', 1);
    END IF;
    INSERT INTO basejump.accounts (name, primary_owner_user_id, personal_account, id)
      VALUES (username, NEW.id, true, NEW.id) RETURNING id INTO account;
    INSERT INTO basejump.account_user (account_id, user_id, account_role) VALUES (account, NEW.id, 'owner');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION basejump.run_new_user_setup();

-- Whether the caller is a member of an account (with the role, when one is given).
CREATE FUNCTION basejump.has_role_on_account(account_id uuid, account_role basejump.account_role DEFAULT NULL) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  SELECT EXISTS (SELECT FROM basejump.account_user wu WHERE wu.user_id = auth.uid()
    AND wu.account_id = has_role_on_account.account_id
    AND (wu.account_role = has_role_on_account.account_role OR has_role_on_account.account_role IS NULL))
$$;
GRANT EXECUTE ON FUNCTION basejump.has_role_on_account(uuid, basejump.account_role) TO authenticated;

CREATE POLICY own_membership ON basejump.account_user FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY teammates ON basejump.account_user FOR SELECT TO authenticated USING (basejump.has_role_on_account(account_id) = true);
CREATE POLICY owners_remove_members ON basejump.account_user FOR DELETE TO authenticated
  USING (basejump.has_role_on_account(account_id, 'owner') = true
    AND user_id <> (SELECT primary_owner_user_id FROM basejump.accounts WHERE account_id = accounts.id));
CREATE POLICY members_read ON basejump.accounts FOR SELECT TO authenticated USING (basejump.has_role_on_account(id) = true);
CREATE POLICY primary_owner_reads ON basejump.accounts FOR SELECT TO authenticated USING (primary_owner_user_id = auth.uid());
CREATE POLICY team_accounts_created ON basejump.accounts FOR INSERT TO authenticated
  WITH CHECK (basejump.is_set('enable_team_accounts') = true AND personal_account = false);
CREATE POLICY owners_edit ON basejump.accounts FOR UPDATE TO authenticated USING (basejump.has_role_on_account(id, 'owner') = true);

-- What the API calls.
CREATE FUNCTION public.get_account_id(slug text) RETURNS uuid LANGUAGE sql AS $$
  SELECT id FROM basejump.accounts WHERE slug = get_account_id.slug
$$;
GRANT EXECUTE ON FUNCTION public.get_account_id(text) TO authenticated, service_role;
CREATE FUNCTION public.remove_account_member(account_id uuid, user_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF basejump.has_role_on_account(remove_account_member.account_id, 'owner') <> true THEN
    RAISE EXCEPTION 'Only account owners can access this function';
  END IF;
  DELETE FROM basejump.account_user wu WHERE wu.account_id = remove_account_member.account_id AND wu.user_id = remove_account_member.user_id;
END $$;
GRANT EXECUTE ON FUNCTION public.remove_account_member(uuid, uuid) TO authenticated;
