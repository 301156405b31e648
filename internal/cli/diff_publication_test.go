package cli

import "testing"

var publicationSchema built

// TestDiffPublications: a declared publication whose tables changed by hand, or that
// is gone, is one finding whose SQL puts it back.
func TestDiffPublications(t *testing.T) {
	runMutations(t, &publicationSchema, "testdata/diff/publications.yaml", []mutation{
		{"table taken out", `ALTER PUBLICATION supabase_realtime DROP TABLE messages`, "publication.alter", "supabase_realtime"},
		{"table added", `ALTER PUBLICATION supabase_realtime ADD TABLE channels`, "publication.alter", "supabase_realtime"},
		{"dropped", `DROP PUBLICATION supabase_realtime`, "publication.create", "supabase_realtime"},
	})
}
