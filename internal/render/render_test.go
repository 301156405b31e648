package render

import (
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestEveryKindRenders builds a change of every kind and checks that each renders to SQL
// and is described in reports, so no kind can reach the renderer unhandled.
func TestEveryKindRenders(t *testing.T) {
	col := &schema.Column{Name: "owner", Type: "text", NotNull: true, Default: "auth.user_id()", Unique: true,
		References: &schema.ForeignKey{Schema: "public", Table: "users", Column: "id"}}
	old := &schema.Column{Name: "owner_old", Type: "varchar(10)", Identity: "always", Unique: true,
		References: &schema.ForeignKey{Schema: "public", Table: "people", Column: "id", OnDelete: "cascade"}}
	tbl := &schema.Table{Schema: "public", Name: "todos", Columns: []*schema.Column{col}, PrimaryKey: []string{"owner"}, RLS: true,
		Policies: []*schema.Policy{{Name: "p", Command: "select", Roles: []string{"authenticated"}, Using: "true"}},
		Grants:   []*schema.Grant{{Role: "authenticated", Privileges: []string{"select"}}}}
	pol := &schema.Policy{Name: "p", Command: "update", Roles: []string{"public"}, Using: "true", Check: "true"}
	oldPol := &schema.Policy{Name: "p_old", Command: "select", Restrictive: true, Roles: []string{"authenticated"}, Using: "false"}
	ix := &schema.Index{Name: "i", Columns: []string{"owner"}}
	for _, k := range diff.Kinds() {
		c := &diff.Change{Kind: k, Schema: "public", Table: "todos", Name: "x", Role: "authenticated", OldTable: tbl, NewTable: tbl}
		if ok, _ := c.ObjectChange(); ok != nil {
			o := &schema.Object{Kind: ok.Name, Schema: "public", Table: "todos", Name: "x", Attrs: map[string]string{}, Items: []string{"public.todos"}}
			for _, key := range ok.Exprs {
				o.Attrs[key] = "true"
			}
			old := *o
			old.Items = []string{"public.other"}
			c.Old.Object, c.New.Object = &old, o
		}
		switch {
		case k == diff.ViewInvoker || k == diff.MatviewReadable || k == diff.FunctionDefiner || k == diff.TableExposes:
			c.Old.Exposure = &schema.Exposure{Kind: "view", Schema: "public", Name: "feed(integer)", Reads: []string{"public.todos"}, Roles: []string{"authenticated"}}
		case strings.HasPrefix(string(k), "column"):
			c.Old.Column, c.New.Column = old, col
		case strings.HasPrefix(string(k), "policy"):
			c.Old.Policy, c.New.Policy = oldPol, pol
		case strings.HasPrefix(string(k), "index"):
			c.Old.Index, c.New.Index = ix, ix
		case k == diff.GrantAdd || k == diff.GrantRevoke:
			c.Old.Privileges, c.New.Privileges = []string{"delete"}, []string{"insert"}
		case strings.HasPrefix(string(k), "function.") && k != diff.FunctionMissing && k != diff.FunctionAlter:
			fn := &schema.Function{Schema: "rls", Name: "g", Returns: "bigint[]", Language: "sql", Volatility: "s", Body: "SELECT '{}'::bigint[]", Execute: []string{"authenticated"}}
			c.Old.Function, c.New.Function = fn, &schema.Function{Schema: "rls", Name: "g", Returns: "bigint[]", Language: "sql", Volatility: "s", Body: "SELECT ARRAY[1]"}
		case k == diff.DefaultPrivilege:
			c.Old.Default = &schema.DefaultPrivilege{Owner: "postgres", ObjectType: "TABLES", Grantee: "authenticated", Privileges: []string{"select"}}
		case k == diff.GrantOptionDrop || k == diff.SequenceRevoke:
			c.Old.Privileges = []string{"select"}
		case k == diff.AuthSetup || k == diff.FunctionMissing || k == diff.FunctionAlter:
			c.New.Auth = &schema.Auth{Provider: "claims", UserID: "auth.user_id()"}
		}
		stmts := Statements([]*diff.Change{c})
		if len(stmts) == 0 || stmts[0].SQL == "" {
			t.Errorf("%s renders no SQL", k)
		}
		if f := Findings([]*diff.Change{c}); len(f) != 1 || f[0].Kind != string(k) {
			t.Errorf("%s: findings %+v", k, f)
		}
	}
}

// TestMarkdownEscapesBackticks: a backtick or a code fence in a name broke --format
// markdown out of its code spans and SQL block.
func TestMarkdownEscapesBackticks(t *testing.T) {
	for in, want := range map[string]string{
		"plain":    "`plain`",
		"a`b":      "``a`b``",
		"```x":     "```` ```x ````",
		"p|q\nr":   "`p\\|q\\nr`",
		"":         "",
		"ends in`": "`` ends in` ``",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
	r := &Report{Findings: []Finding{{Kind: "table.create", Change: "missing", Object: "public.x```y", Table: "public.x```y",
		SQL: []string{"CREATE TABLE public.\"x```y\" ();"}}}}
	md := Markdown(r)
	if !strings.Contains(md, "\n````sql\nCREATE TABLE public.\"x```y\" ();\n````\n") {
		t.Errorf("the SQL block is not fenced longer than its content:\n%s", md)
	}
	if !strings.Contains(md, "#### ````public.x```y````") {
		t.Errorf("the table heading is not one code span:\n%s", md)
	}
}

// TestLocksFollowTheStatementNotItsText: locks were once recovered from the rendered
// SQL, so a quoted name holding a space hid a UNIQUE constraint's index build, and a
// column named like a type change made a default look like a rewrite; an identity
// column added to a table was labelled brief, where PostgreSQL rewrites the table to
// number its rows; a default calling a user's function (volatile unless declared
// otherwise) was labelled brief, and a string holding "random" a rewrite.
func TestLocksFollowTheStatementNotItsText(t *testing.T) {
	col := &schema.Column{Name: "Mixed c2", Type: "text", Unique: true}
	odd := &schema.Column{Name: "x ALTER COLUMN y TYPE z", Type: "text", Default: "'a'"}
	bare := &schema.Column{Name: "x ALTER COLUMN y TYPE z", Type: "text"}
	tbl := &schema.Table{Schema: "public", Name: "select1", Columns: []*schema.Column{col, odd}}
	for _, tc := range []struct {
		change *diff.Change
		lock   string
	}{
		{&diff.Change{Kind: diff.UniqueAdd, New: diff.Side{Column: col}, Old: diff.Side{Column: &schema.Column{Name: "Mixed c2", Type: "text"}}},
			"ACCESS EXCLUSIVE on public.select1, while its index builds"},
		{&diff.Change{Kind: diff.ColumnDefault, New: diff.Side{Column: odd}, Old: diff.Side{Column: bare}},
			"ACCESS EXCLUSIVE on public.select1 (brief)"},
		{&diff.Change{Kind: diff.ColumnAdd, New: diff.Side{Column: &schema.Column{Name: "at", Type: "timestamptz", Default: "clock_timestamp()"}}},
			"ACCESS EXCLUSIVE on public.select1, while it rewrites the table"},
		{&diff.Change{Kind: diff.ColumnAdd, New: diff.Side{Column: &schema.Column{Name: "n", Type: "bigint", NotNull: true, Identity: "always"}}},
			"ACCESS EXCLUSIVE on public.select1, while it rewrites the table"},
		{&diff.Change{Kind: diff.ColumnAdd, New: diff.Side{Column: &schema.Column{Name: "n", Type: "text", Default: "public.next_code()"}}},
			"ACCESS EXCLUSIVE on public.select1, while it rewrites the table"},
		{&diff.Change{Kind: diff.ColumnAdd, New: diff.Side{Column: &schema.Column{Name: "at", Type: "timestamptz", Default: "now()"}}},
			"ACCESS EXCLUSIVE on public.select1 (brief)"},
		{&diff.Change{Kind: diff.ColumnAdd, New: diff.Side{Column: &schema.Column{Name: "random_uuid_note", Type: "text", Default: "'random uuid'"}}},
			"ACCESS EXCLUSIVE on public.select1 (brief)"},
		{&diff.Change{Kind: diff.GrantAdd, Role: "authenticated", New: diff.Side{Privileges: []string{"select"}}}, ""},
	} {
		c := tc.change
		c.Schema, c.Table, c.OldTable, c.NewTable = "public", "select1", tbl, tbl
		stmts := Statements([]*diff.Change{c})
		if lock, _ := Locking(stmts[0]); lock != tc.lock {
			t.Errorf("%s: lock %q, want %q", stmts[0].SQL, lock, tc.lock)
		}
	}
}
