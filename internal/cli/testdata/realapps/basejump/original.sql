-- The access rules of Basejump's multi-tenant accounts (usebasejump/basejump,
-- supabase/migrations 20240414161707_basejump-setup.sql and
-- 20240414161947_basejump-accounts.sql, read at 4b6cbcf), restated as plain SQL for the
-- behaviour comparison: its settings, accounts and account members, with their
-- functions, triggers, grants and policies. Adapted to run on the test's Supabase
-- stand-in: ids are drawn with gen_random_uuid() (the stand-in has no extensions
-- schema), and automatic personal accounts are switched on in the config row (the
-- shipped row switches them off; the comparison loads its own accounts either way).
-- With the invitations of 20240414162100_basejump-invitations.sql (their tokens drawn
-- from gen_random_uuid(): the stand-in has no pgcrypto) and the billing tables of
-- 20240414162131_basejump-billing.sql. The API functions the comparison does not call
-- (it tries the tables) are declared in schema.yaml and left out here.
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

-- Invitations to join an account, with the role the invitee gets.
CREATE TYPE basejump.invitation_type AS ENUM ('one_time', '24_hour');
CREATE FUNCTION basejump.generate_token(length int) RETURNS text LANGUAGE sql AS $$
  SELECT left(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), length)
$$;
GRANT EXECUTE ON FUNCTION basejump.generate_token(int) TO authenticated;
CREATE TABLE basejump.invitations (
  id uuid UNIQUE NOT NULL DEFAULT gen_random_uuid(),
  account_role basejump.account_role NOT NULL,
  account_id uuid NOT NULL REFERENCES basejump.accounts (id) ON DELETE CASCADE,
  token text UNIQUE NOT NULL DEFAULT basejump.generate_token(30),
  invited_by_user_id uuid NOT NULL REFERENCES auth.users,
  account_name text,
  updated_at timestamptz,
  created_at timestamptz,
  invitation_type basejump.invitation_type NOT NULL,
  PRIMARY KEY (id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON basejump.invitations TO authenticated, service_role;
CREATE TRIGGER basejump_set_invitations_timestamp BEFORE INSERT OR UPDATE ON basejump.invitations
  FOR EACH ROW EXECUTE FUNCTION basejump.trigger_set_timestamps();
-- The inviter and the account's name: set by the database, never by the caller.
CREATE FUNCTION basejump.trigger_set_invitation_details() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.invited_by_user_id := auth.uid();
  NEW.account_name := (SELECT name FROM basejump.accounts WHERE id = NEW.account_id);
  RETURN NEW;
END $$;
CREATE TRIGGER basejump_trigger_set_invitation_details BEFORE INSERT ON basejump.invitations
  FOR EACH ROW EXECUTE FUNCTION basejump.trigger_set_invitation_details();
ALTER TABLE basejump.invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY owners_read_invitations ON basejump.invitations FOR SELECT TO authenticated
  USING (created_at > now() - interval '24 hours' AND basejump.has_role_on_account(account_id, 'owner') = true);
CREATE POLICY owners_invite ON basejump.invitations FOR INSERT TO authenticated
  WITH CHECK (basejump.is_set('enable_team_accounts') = true
    AND (SELECT personal_account FROM basejump.accounts WHERE id = account_id) = false
    AND basejump.has_role_on_account(account_id, 'owner') = true);
CREATE POLICY owners_delete_invitations ON basejump.invitations FOR DELETE TO authenticated
  USING (basejump.has_role_on_account(account_id, 'owner') = true);

-- Taking an invitation up: the caller joins the account with its role.
CREATE FUNCTION public.accept_invitation(lookup_invitation_token text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, basejump AS $$
DECLARE account uuid; role basejump.account_role; account_slug text;
BEGIN
  SELECT i.account_id, i.account_role, a.slug INTO account, role, account_slug
  FROM basejump.invitations i JOIN basejump.accounts a ON a.id = i.account_id
  WHERE i.token = lookup_invitation_token AND i.created_at > now() - interval '24 hours';
  IF account IS NULL THEN
    RAISE EXCEPTION 'Invitation not found';
  END IF;
  INSERT INTO basejump.account_user (account_id, user_id, account_role) VALUES (account, auth.uid(), role);
  DELETE FROM basejump.invitations WHERE token = lookup_invitation_token AND invitation_type = 'one_time';
  RETURN json_build_object('account_id', account, 'account_role', role, 'slug', account_slug);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'You are already a member of this account';
END $$;
GRANT EXECUTE ON FUNCTION public.accept_invitation(text) TO authenticated;
CREATE FUNCTION public.create_invitation(account_id uuid, account_role basejump.account_role, invitation_type basejump.invitation_type)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE made basejump.invitations;
BEGIN
  INSERT INTO basejump.invitations (account_id, account_role, invitation_type, invited_by_user_id)
    VALUES (account_id, account_role, invitation_type, auth.uid()) RETURNING * INTO made;
  RETURN json_build_object('token', made.token);
END $$;
GRANT EXECUTE ON FUNCTION public.create_invitation(uuid, basejump.account_role, basejump.invitation_type) TO authenticated;

-- Billing: written by the backend (service_role), read by the account's members.
CREATE TYPE basejump.subscription_status AS ENUM ('trialing', 'active', 'canceled', 'incomplete', 'incomplete_expired', 'past_due', 'unpaid');
CREATE TABLE basejump.billing_customers (
  account_id uuid NOT NULL REFERENCES basejump.accounts (id) ON DELETE CASCADE,
  id text PRIMARY KEY,
  email text,
  active boolean,
  provider text
);
GRANT SELECT, INSERT, UPDATE, DELETE ON basejump.billing_customers TO service_role;
GRANT SELECT ON basejump.billing_customers TO authenticated;
ALTER TABLE basejump.billing_customers ENABLE ROW LEVEL SECURITY;
CREATE TABLE basejump.billing_subscriptions (
  id text PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES basejump.accounts (id) ON DELETE CASCADE,
  billing_customer_id text NOT NULL REFERENCES basejump.billing_customers (id) ON DELETE CASCADE,
  status basejump.subscription_status,
  metadata jsonb,
  price_id text,
  plan_name text,
  quantity integer,
  cancel_at_period_end boolean,
  created timestamptz NOT NULL DEFAULT timezone('utc', now()),
  current_period_start timestamptz NOT NULL DEFAULT timezone('utc', now()),
  current_period_end timestamptz NOT NULL DEFAULT timezone('utc', now()),
  ended_at timestamptz DEFAULT timezone('utc', now()),
  cancel_at timestamptz DEFAULT timezone('utc', now()),
  canceled_at timestamptz DEFAULT timezone('utc', now()),
  trial_start timestamptz DEFAULT timezone('utc', now()),
  trial_end timestamptz DEFAULT timezone('utc', now()),
  provider text
);
GRANT SELECT, INSERT, UPDATE, DELETE ON basejump.billing_subscriptions TO service_role;
GRANT SELECT ON basejump.billing_subscriptions TO authenticated;
ALTER TABLE basejump.billing_subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read_customers ON basejump.billing_customers FOR SELECT USING (basejump.has_role_on_account(account_id) = true);
CREATE POLICY members_read_subscriptions ON basejump.billing_subscriptions FOR SELECT USING (basejump.has_role_on_account(account_id) = true);
