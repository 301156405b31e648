package cli

import "testing"

func TestDiffIndexes(t *testing.T) {
	runMutations(t, &baseSchema, "testdata/diff/base.yaml", []mutation{
		{"owner index dropped", `DROP INDEX tasks_user_id_idx`, "index.create", "public.tasks.tasks_user_id_idx"},
		{"declared index dropped", `DROP INDEX tasks_project_id_idx`, "index.create", "public.tasks.tasks_project_id_idx"},
		{"extra index", `CREATE INDEX tasks_title_idx ON tasks (title)`, "index.drop", "public.tasks.tasks_title_idx"},
	})
}
