package pull

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestPullWritesEveryKind fails when package objects holds a kind that pull neither
// writes (tableKinds, schemaKinds) nor says it leaves out (notPulled): a new kind must
// be read back too.
func TestPullWritesEveryKind(t *testing.T) {
	for _, k := range objects.Kinds {
		written := slices.ContainsFunc(tableKinds, func(tk tableKind) bool { return tk.kind == k.Name }) ||
			slices.Contains(columnKinds, k.Name) ||
			slices.ContainsFunc(schemaKinds, func(sk schemaKind) bool { return slices.Contains(sk.kinds, k.Name) })
		if _, left := notPulled[k.Name]; written == left {
			t.Errorf("object kind %s: written by pull %v, listed in notPulled %v; want exactly one", k.Name, written, left)
		}
	}
}

// TestClaimNameReadsBack: the names pull writes for claim paths read back as the same
// path (dots and double quotes inside a key are quoted).
func TestClaimNameReadsBack(t *testing.T) {
	for _, path := range [][]string{{"role"}, {"app_metadata", "role"}, {"https://example.com/role"}, {`a"b`, "c.d"}} {
		name := claimName(path)
		if got, problem := policy.ClaimPath(name); problem != "" || !slices.Equal(got, path) {
			t.Errorf("claimName(%q) = %q, which reads back as %q (%s)", path, name, got, problem)
		}
	}
}

// TestPullFallsBackToCustomRules: a reading that makes a file that does not compile
// gives way to every policy kept as a custom rule, with the reason in the report. The
// model is made to break it (an integer owner column against Supabase's uuid identity,
// which no database would accept); the custom reading keeps the SQL as it is.
func TestPullFallsBackToCustomRules(t *testing.T) {
	s := &schema.Schema{Tables: []*schema.Table{{
		Schema: "public", Name: "notes", RLS: true, PrimaryKey: []string{"id"}, PKName: "notes_pkey",
		Columns:  []*schema.Column{{Name: "id", Type: "bigint", NotNull: true}, {Name: "user_id", Type: "integer", NotNull: true}},
		Policies: []*schema.Policy{{Name: "p", Command: "select", Roles: []string{"authenticated"}, Using: "(auth.uid() = user_id)"}},
	}}}
	res, err := Pull(Input{Schema: s, Provider: "supabase"})
	if err != nil {
		t.Fatal(err)
	}
	var note bool
	for _, f := range res.Findings {
		note = note || (f.Kind == FindNote && strings.Contains(f.Text, "every policy is kept as a custom rule"))
	}
	if !note || !strings.Contains(string(res.YAML), "using:") {
		t.Errorf("no fallback to custom rules:\n%s\n%v", res.YAML, res.Findings)
	}
}

// FuzzStringsReadBack: any string pull writes into schema.yaml (a comment, a body, a
// name from the database) reads back as itself: nothing in it can end the scalar and
// start a key, a document or an alias.
func FuzzStringsReadBack(f *testing.F) {
	// A body on lines of its own and indented lost its indentation in a literal block.
	for _, s := range []string{"\n  SELECT 1\n", "BEGIN\n  RETURN NEW;\nEND", "  lead", "trail  ", "a\n\n\nb", "\n\n  x",
		"true", "50", "- x", "a: b\n- c", "*x", "&y z", "--- \n...", "'\"", "\t\ty\n", "#c", "é\u2028f", "\r\n", strings.Repeat("long ", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("PostgreSQL's text is valid UTF-8")
		}
		n := str(s)
		data, err := yaml.Marshal(n)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		var back string
		if err := yaml.Unmarshal(data, &back); err != nil || back != s {
			t.Fatalf("%q written as\n%s\nreads back as %q (%v)", s, data, back, err)
		}
	})
}
