package cli

import (
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

var routineSchema built

// TestDiffRoutinesAndTriggers: a declared function or trigger changed, dropped or added
// by hand is one finding whose SQL puts it back; a trigger's condition compares by
// meaning, in the form PostgreSQL stores it.
func TestDiffRoutinesAndTriggers(t *testing.T) {
	runMutations(t, &routineSchema, "testdata/diff/functions.yaml", []mutation{
		{"body changed", `CREATE OR REPLACE FUNCTION note_count(p_user text) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT 0::bigint'`,
			"routine.alter", "public.note_count(text)"},
		{"execute granted", `GRANT EXECUTE ON FUNCTION touch() TO authenticated`, "routine.alter", "public.touch()"},
		{"execute left to public", `GRANT EXECUTE ON FUNCTION note_count(text) TO PUBLIC`, "routine.alter", "public.note_count(text)"},
		{"made invoker", `ALTER FUNCTION touch() SECURITY INVOKER`, "routine.alter", "public.touch()"},
		{"search_path dropped", `ALTER FUNCTION touch() RESET search_path`, "routine.alter", "public.touch()"},
		{"trigger dropped", `DROP TRIGGER notes_touch ON notes`, "trigger.create", "public.notes.notes_touch"},
		{"trigger condition changed", `DROP TRIGGER notes_touch ON notes;
			CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW WHEN (OLD.updated_at IS NULL) EXECUTE FUNCTION touch()`,
			"trigger.alter", "public.notes.notes_touch"},
	})
}

// TestDiffLeavesHandWrittenRoutinesAlone: functions and triggers schema.yaml never
// declared are the app's own (a hand-written migration's, an extension's): diff does not
// propose to drop them; what they let a role past is reported as exposures.
func TestDiffLeavesHandWrittenRoutinesAlone(t *testing.T) {
	routineSchema.build(t, "testdata/diff/functions.yaml")
	dbURL := routineSchema.database(t)
	pgtest.MustExec(t, pgtest.Connect(t, dbURL), `CREATE FUNCTION by_hand() RETURNS int LANGUAGE sql AS 'SELECT 1';
		CREATE TRIGGER by_hand AFTER DELETE ON notes FOR EACH STATEMENT EXECUTE FUNCTION touch()`)
	if rep, r := diffReport(t, routineSchema.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("diff with a hand-written function and trigger:\n%s", r)
	}
}
