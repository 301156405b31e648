package cli

import "testing"

// TestDiffChecks: a CHECK constraint dropped, changed, added, or left unvalidated by
// hand is one finding, whose SQL puts it back.
func TestDiffChecks(t *testing.T) {
	runMutations(t, &baseSchema, "testdata/diff/base.yaml", []mutation{
		{"check dropped", `ALTER TABLE tasks DROP CONSTRAINT tasks_title_not_blank`, "check.create", "public.tasks.tasks_title_not_blank"},
		{"check changed", `ALTER TABLE projects DROP CONSTRAINT projects_budget_not_negative,
			ADD CONSTRAINT projects_budget_not_negative CHECK (budget > -1)`, "check.alter", "public.projects.projects_budget_not_negative"},
		{"extra check", `ALTER TABLE tasks ADD CONSTRAINT by_hand CHECK (done OR NOT done)`, "check.drop", "public.tasks.by_hand"},
		{"check left unvalidated", `ALTER TABLE tasks DROP CONSTRAINT tasks_title_not_blank,
			ADD CONSTRAINT tasks_title_not_blank CHECK (length(btrim(title)) > 0 AND title <> 'none') NOT VALID`,
			"check.alter", "public.tasks.tasks_title_not_blank"},
	})
}

// TestDiffRebuildsChecksAroundTypeChanges: ALTER TYPE stores a column's checks anew, with
// casts from the type it had; the fix rebuilds the check around the type change, and
// the next diff is empty.
func TestDiffRebuildsChecksAroundTypeChanges(t *testing.T) {
	baseSchema.build(t, "testdata/diff/base.yaml")
	runMutation(t, &baseSchema, `ALTER TABLE tasks ALTER title TYPE varchar(50)`,
		"column.type public.tasks.title", "check.alter public.tasks.tasks_title_not_blank")
}
