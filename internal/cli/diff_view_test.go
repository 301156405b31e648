package cli

import "testing"

var viewSchema built

// TestDiffViews: a declared view changed, opened or dropped by hand is one finding
// whose SQL puts it back; its query compares as PostgreSQL prints it.
func TestDiffViews(t *testing.T) {
	runMutations(t, &viewSchema, "testdata/diff/views.yaml", []mutation{
		{"query changed", `CREATE OR REPLACE VIEW my_open_notes AS SELECT id, body FROM notes WHERE done`, "view.alter", "public.my_open_notes"},
		{"runs as its owner", `ALTER VIEW my_open_notes SET (security_invoker = false)`, "view.alter", "public.my_open_notes"},
		{"readable by another role", `GRANT SELECT ON my_open_notes TO anonymous`, "view.alter", "public.my_open_notes"},
		{"writable", `GRANT INSERT ON my_open_notes TO authenticated`, "view.alter", "public.my_open_notes"},
		{"dropped", `DROP VIEW my_open_notes`, "view.create", "public.my_open_notes"},
	})
}

var viewReadByPolicySchema built

// TestDiffViewReadByPolicy: a view whose privileges were widened by hand, while a
// policy reads it, was put back by dropping and making it anew, which PostgreSQL
// refuses (the policy depends on it); privileges and security_invoker are now set in
// place.
func TestDiffViewReadByPolicy(t *testing.T) {
	runMutations(t, &viewReadByPolicySchema, "testdata/diff/view_read_by_policy.yaml", []mutation{
		{"writable", `GRANT INSERT ON my_notes TO authenticated`, "view.alter", "public.my_notes"},
		{"runs as its owner", `ALTER VIEW my_notes SET (security_invoker = false)`, "view.alter", "public.my_notes"},
	})
}
