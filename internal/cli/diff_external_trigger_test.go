package cli

import (
	"context"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

var externalTriggerSchema = built{setup: schemagen.UsersTableSQL}

// TestDiffExternalTriggers: a trigger on auth.users (declared external) that schema.yaml
// declares is made by up, and dropped or changed by hand is one finding whose SQL puts
// it back; a trigger schema.yaml never declared is left alone.
func TestDiffExternalTriggers(t *testing.T) {
	runMutations(t, &externalTriggerSchema, "testdata/diff/external_trigger.yaml", []mutation{
		{"trigger dropped", `DROP TRIGGER on_auth_user_created ON auth.users`, "external_trigger.create", "public.auth.users.on_auth_user_created"},
		{"trigger changed", `DROP TRIGGER "on email; change" ON auth.users;
			CREATE TRIGGER "on email; change" BEFORE UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION handle_new_user()`,
			"external_trigger.alter", "public.auth.users.on email; change"},
	})
}

// TestExternalTriggerRuns: the sign-up trigger up made runs: a user added to auth.users
// gets a profile, and a trigger and function made by hand beside them are no finding.
func TestExternalTriggerRuns(t *testing.T) {
	t.Parallel()
	externalTriggerSchema.build(t, "testdata/diff/external_trigger.yaml")
	dbURL := externalTriggerSchema.database(t)
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, `INSERT INTO auth.users (id, email) VALUES ('a11ce000-0000-4000-8000-000000000001', 'alice@example.com');
		CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
		CREATE TRIGGER by_hand AFTER DELETE ON auth.users FOR EACH ROW EXECUTE FUNCTION audit()`)
	var email string
	if err := conn.QueryRow(context.Background(), `SELECT email FROM profiles`).Scan(&email); err != nil || email != "alice@example.com" {
		t.Fatalf("the profile made on sign-up: %q, %v", email, err)
	}
	if rep, r := diffReport(t, externalTriggerSchema.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("diff after a trigger and its function were made by hand, which schema.yaml never declared:\n%s", r)
	}
}
