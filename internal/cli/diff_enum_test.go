package cli

import "testing"

var enumSchema built

// TestDiffEnums: an enum changed, dropped or added by hand is one finding, whose SQL
// puts it back: a value added by hand makes the type anew (converting the column under
// a policy and a trigger that read it; the trigger failed it before they were lifted).
func TestDiffEnums(t *testing.T) {
	runMutations(t, &enumSchema, "testdata/diff/enums.yaml", []mutation{
		{"value added", `ALTER TYPE task_status ADD VALUE 'by hand'`, "enum.alter", "public.task_status"},
		{"values reordered", `ALTER TABLE tasks ALTER status DROP DEFAULT;
			DROP POLICY open_only ON tasks;
			DROP TRIGGER status_changed ON tasks;
			ALTER TYPE task_status RENAME TO old_status;
			CREATE TYPE task_status AS ENUM ('done', 'open');
			ALTER TABLE tasks ALTER status TYPE task_status USING status::text::task_status;
			ALTER TABLE tasks ALTER status SET DEFAULT 'open';
			CREATE POLICY open_only ON tasks AS RESTRICTIVE FOR UPDATE TO authenticated USING (status <> 'done');
			CREATE TRIGGER status_changed BEFORE UPDATE OF status ON tasks FOR EACH ROW
				WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION touch();
			DROP TYPE old_status`, "enum.alter", "public.task_status"},
		{"enum dropped", `DROP TYPE app.unused_kind`, "enum.create", "app.unused_kind"},
		{"extra enum", `CREATE TYPE by_hand AS ENUM ('x')`, "enum.drop", "public.by_hand"},
	})
}
