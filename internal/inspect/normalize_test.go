package inspect

import (
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// TestStandInIsOneStatementEach: the stand-in of a table with hostile names is one
// CREATE TEMP TABLE and one CREATE POLICY per policy, each a single statement that
// PostgreSQL's parser reads, naming the stand-in and never the real table.
func TestStandInIsOneStatementEach(t *testing.T) {
	tb := &schema.Table{Schema: "app", Name: "x); DROP TABLE users; --",
		Columns: []*schema.Column{{Name: "id", Type: "bigint", Identity: "always"}, {Name: `a"b`, Type: "text", Default: "'v'"}},
		Policies: []*schema.Policy{{Command: "select", Using: `app."x); DROP TABLE users; --"."a""b" = 'v'`},
			{Command: "insert", Check: "true"}}}
	stmts := standIn("rlsmigrate_n0", tb)
	if len(stmts) != 3 {
		t.Fatalf("%d statements: %q", len(stmts), stmts)
	}
	for _, s := range stmts {
		if _, err := sqlparse.ParseStatement(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		if strings.Contains(s, "app.") {
			t.Errorf("names the real table: %s", s)
		}
	}
}

// TestShapeKey: tables that differ only in name share a stand-in; a different policy
// condition or column type does not.
func TestShapeKey(t *testing.T) {
	mk := func(name, typ, using string) *schema.Table {
		return &schema.Table{Schema: "public", Name: name, Columns: []*schema.Column{{Name: "id", Type: typ}},
			Policies: []*schema.Policy{{Command: "select", Using: using}}}
	}
	a, b := shapeKey(mk("a", "bigint", "true")), shapeKey(mk("b", "bigint", "true"))
	if a != b {
		t.Errorf("same shape, different keys:\n%s\n%s", a, b)
	}
	for _, other := range []*schema.Table{mk("a", "int", "true"), mk("a", "bigint", "false")} {
		if shapeKey(other) == a {
			t.Errorf("different shape, same key: %s", shapeKey(other))
		}
	}
}
