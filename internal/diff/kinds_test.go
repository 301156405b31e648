package diff

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestEveryKindIsDescribed reads diff.go's Kind constants, and the kinds of every object
// kind's changes, and holds each to exactly one descriptor in kinds, and each descriptor's inverse to a kind that has one: a kind added
// without its descriptor fails here, not at run time.
func TestEveryKindIsDescribed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "diff.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[Kind]bool{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
				continue
			}
			for _, v := range vs.Values {
				s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				declared[Kind(s)] = true
			}
		}
	}
	if len(declared) < 50 {
		t.Fatalf("read only %d Kind constants from diff.go", len(declared))
	}
	for _, k := range objects.Kinds {
		for _, op := range []ObjectOp{ObjectCreate, ObjectDrop, ObjectAlter} {
			declared[ObjectKind(k, op)] = true
		}
	}
	seen := map[Kind]bool{}
	for _, d := range kinds {
		if seen[d.kind] {
			t.Errorf("%s is described twice", d.kind)
		}
		seen[d.kind] = true
		if !declared[d.kind] {
			t.Errorf("%s is described but not a Kind constant of diff.go", d.kind)
		}
		if d.inverse != "" {
			if _, ok := byKind[d.inverse]; !ok {
				t.Errorf("%s: inverse %s has no descriptor", d.kind, d.inverse)
			}
		}
		if d.step && (d.inverse != "" || d.security != nil || d.was != nil || d.left != nil) {
			t.Errorf("%s is a statement step but describes a change", d.kind)
		}
	}
	for k := range declared {
		if !seen[k] {
			t.Errorf("Kind constant %s has no descriptor in kinds", k)
		}
	}
}

// TestRenamesNameWhatTheyWere: every kind whose inverse is itself and whose name ends
// in .rename says the name it had.
func TestRenamesNameWhatTheyWere(t *testing.T) {
	for _, d := range kinds {
		if isRename := len(d.kind) > 7 && d.kind[len(d.kind)-7:] == ".rename"; isRename != (d.was != nil) {
			t.Errorf("%s: rename %v, old name known %v", d.kind, isRename, d.was != nil)
		}
	}
}

// TestSequenceFindingsNameTheirRole: privileges on a table's sequence held by three
// roles were three findings printed alike; each names its role.
func TestSequenceFindingsNameTheirRole(t *testing.T) {
	tb := &schema.Table{Schema: "public", Name: "channels", RLS: true}
	access := &schema.Access{Tables: map[string]*schema.TableAccess{"public.channels": {SequenceGrants: []*schema.SequenceGrant{
		{Sequence: "channels_id_seq", Role: "anon", Privileges: []string{"usage"}},
		{Sequence: "channels_id_seq", Role: "authenticated", Privileges: []string{"usage"}},
		{Sequence: "channels_id_seq", Role: "service_role", Privileges: []string{"usage"}},
	}}}}
	from := &schema.Schema{Tables: []*schema.Table{tb}}
	to := &schema.Schema{Tables: []*schema.Table{tb}}
	seen := map[string]bool{}
	for _, c := range Database(from, access, to, nil) {
		if c.Kind != SequenceRevoke {
			continue
		}
		if seen[c.Object()] {
			t.Errorf("two findings named %s", c.Object())
		}
		seen[c.Object()] = true
	}
	if len(seen) != 3 || !seen["public.channels.channels_id_seq.anon"] {
		t.Errorf("sequence findings: %v", seen)
	}
}

// TestExternalTablesAreCheckedOnlyOnDatabases: an external table the database lacks is
// one finding; generate (no database) never reports one, since no migration builds it.
func TestExternalTablesAreCheckedOnlyOnDatabases(t *testing.T) {
	users := &schema.Table{Schema: "auth", Name: "users", Columns: []*schema.Column{{Name: "id", Type: "uuid"}}}
	want := &schema.Schema{External: []*schema.Table{users}}
	if got := Diff(&schema.Schema{}, want); len(got) != 0 {
		t.Errorf("Diff (generate) reports %v", got)
	}
	got := Database(&schema.Schema{}, &schema.Access{}, want, nil)
	if len(got) != 1 || got[0].Kind != ExternalMissing || got[0].Object() != "auth.users" || got[0].Owned() {
		t.Errorf("Database on a database without auth.users: %v", got)
	}
	have := &schema.Schema{External: []*schema.Table{{Schema: "auth", Name: "users", Columns: []*schema.Column{{Name: "id", Type: "uuid"}, {Name: "email", Type: "text"}}}}}
	if got := Database(have, &schema.Access{}, want, nil); len(got) != 0 {
		t.Errorf("Database with auth.users as declared (and more columns): %v", got)
	}
}
