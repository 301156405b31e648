package cli

import "testing"

func TestDiffPolicies(t *testing.T) {
	runMutations(t, &baseSchema, "testdata/diff/base.yaml", []mutation{
		{"body changed", `ALTER POLICY tasks_select_owner ON tasks USING (true)`, "policy.alter", "public.tasks.tasks_select_owner"},
		{"check changed", `ALTER POLICY tasks_update_owner ON tasks WITH CHECK (true)`, "policy.alter", "public.tasks.tasks_update_owner"},
		{"role added", `ALTER POLICY tasks_select_owner ON tasks TO authenticated, anonymous`, "policy.alter", "public.tasks.tasks_select_owner"},
		{"role replaced by public", `ALTER POLICY tasks_delete_owner ON tasks TO public`, "policy.alter", "public.tasks.tasks_delete_owner"},
		{"dropped", `DROP POLICY tasks_delete_owner ON tasks`, "policy.create", "public.tasks.tasks_delete_owner"},
		{"extra", `CREATE POLICY sneaky ON tasks FOR SELECT TO authenticated USING (true)`, "policy.drop", "public.tasks.sneaky"},
		{"permissive to restrictive", `DROP POLICY tasks_insert_owner ON tasks;
			CREATE POLICY tasks_insert_owner ON tasks AS RESTRICTIVE FOR INSERT TO authenticated WITH CHECK ((select auth.user_id()) = user_id)`,
			"policy.alter", "public.tasks.tasks_insert_owner"},
		{"restrictive to permissive", `DROP POLICY projects_frozen ON projects;
			CREATE POLICY projects_frozen ON projects FOR UPDATE TO authenticated USING (budget < 1000)`,
			"policy.alter", "public.projects.projects_frozen"},
		{"command changed", `DROP POLICY tasks_update_owner ON tasks;
			CREATE POLICY tasks_update_owner ON tasks FOR ALL TO authenticated USING ((select auth.user_id()) = user_id)`,
			"policy.alter", "public.tasks.tasks_update_owner"},
		{"per-row identity call", `ALTER POLICY projects_select_owner ON projects USING (auth.user_id() = owner_id)`, "policy.alter", "public.projects.projects_select_owner"},
	})
}
