package render

import (
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/golden"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestReportGolden renders one report of every shape a finding takes (security first,
// missing, extra and different, hazards, a source line, objects outside tables, pending
// migrations) in text, JSON and Markdown, and a migration with an online part, and
// compares them with testdata/report.golden (-update rewrites it).
func TestReportGolden(t *testing.T) {
	todos := &schema.Table{Schema: "public", Name: "todos", RLS: true,
		Columns: []*schema.Column{{Name: "id", Type: "bigint", NotNull: true}, {Name: "user_id", Type: "text", NotNull: true}}}
	wide := &schema.Policy{Name: "todos_select_owner", Command: "select", Roles: []string{"authenticated"}, Using: "true"}
	owner := &schema.Policy{Name: "todos_select_owner", Command: "select", Roles: []string{"authenticated"}, Using: "(( SELECT auth.user_id() AS user_id) = user_id)"}
	ix := &schema.Index{Name: "todos_user_id_idx", Columns: []string{"user_id"}}
	extra := &schema.Column{Name: "extra", Type: "integer"}
	changes := []*diff.Change{
		{Kind: diff.RoleBypass, Name: "authenticated", Old: diff.Side{Role: "bypassrls"}},
		{Kind: diff.ColumnDrop, Schema: "public", Table: "todos", Name: "extra", OldTable: todos, Old: diff.Side{Column: extra}, Hazards: []diff.Hazard{diff.DeletesData}},
		{Kind: diff.IndexCreate, Schema: "public", Table: "todos", Name: ix.Name, OldTable: todos, NewTable: todos, New: diff.Side{Index: ix}},
		{Kind: diff.PolicyAlter, Schema: "public", Table: "todos", Name: wide.Name, OldTable: todos, NewTable: todos,
			Old: diff.Side{Policy: wide}, New: diff.Side{Policy: owner}, Hazards: []diff.Hazard{diff.ChangesAccess}},
	}
	at := func(c *diff.Change) string {
		if c.Table == "" {
			return ""
		}
		return "schema.yaml:13:5"
	}
	r := &Report{Findings: FindingsAt(diff.Sorted(changes), at), Goose: &GooseStatus{DatabaseVersion: 3, LatestVersion: 4, Pending: 1}}
	main, online := Migration(changes[1:], diff.Invert(changes[1:]), "2s")
	got := "== text\n" + Text(r) + "== json\n" + JSON(r) + "== markdown\n" + Markdown(r) +
		"== migration\n" + main + "== online\n" + online
	golden.Compare(t, "testdata/report.golden", got)
}
