package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestMergeKeysAndAliasItems: YAML merge keys and aliases used as list items were
// rejected though the README says aliases work.
func TestMergeKeysAndAliasItems(t *testing.T) {
	src := `version: 1
x-id: &id {name: id, type: bigint, identity: by default, primary_key: true}
x-owner: &owner {name: user_id, type: text, not_null: true, default: auth.user_id()}
x-base: &base
  owner: user_id
  policies: owner
  force_rls: true
x-test: &t {as: alice, sql: "select 1", expect: {rows: 1}}
tables:
  - <<: *base
    name: todos
    force_rls: false
    columns: [*id, *owner, {name: task, type: text}]
    tests: [*t]
  - name: notes
    <<: [*base, {owner: other, rls: true}]
    columns:
      - *id
      - *owner
`
	f, err := policy.Parse("schema.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	todos, notes := f.Tables[0], f.Tables[1]
	if todos.Owner != "user_id" || todos.ForceRLS || len(todos.Policies) != 4 || len(todos.Tests) != 1 {
		t.Errorf("todos: owner %q, force_rls %v (the table's own key wins), %d rules, %d tests", todos.Owner, todos.ForceRLS, len(todos.Policies), len(todos.Tests))
	}
	var cols []string
	for _, c := range todos.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	if !slices.Equal(cols, []string{"id bigint", "user_id text", "task text"}) {
		t.Errorf("todos columns: %v", cols)
	}
	if notes.Owner != "user_id" || !notes.ForceRLS || len(notes.Columns) != 2 {
		t.Errorf("notes: owner %q (the first merged mapping wins), force_rls %v, %d columns", notes.Owner, notes.ForceRLS, len(notes.Columns))
	}
	if _, err := policy.Parse("schema.yaml", []byte("version: 1\ntables:\n  - <<: 3\n    name: a\n    columns: [{name: id, type: int}]\n")); err == nil {
		t.Error("a merge of a scalar was accepted")
	}
}

// TestRequiredKeysFromMerges: a key a mapping must hold counts when a merge key brings
// it (a column's type from a shared mapping), as when it is written in place.
func TestRequiredKeysFromMerges(t *testing.T) {
	src := `version: 1
x-text: &text {type: text, not_null: true}
tables:
  - name: notes
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {<<: *text, name: body}
`
	f, err := policy.Parse("schema.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Tables[0].Columns[1]; c.Name != "body" || c.Type != "text" || !c.NotNull {
		t.Errorf("body: %+v, want text, not null, from the merge", c)
	}
}

// TestClaimPath: a claim name holding dots is written with that part in double quotes
// (trust II: Auth0's https://myapp.example.com/role was split at its dots).
func TestClaimPath(t *testing.T) {
	for name, want := range map[string][]string{
		"role":                                {"role"},
		"app.role":                            {"app", "role"},
		`"https://myapp.example.com/role"`:    {"https://myapp.example.com/role"},
		`app."tier.level"`:                    {"app", "tier.level"},
		`"say ""hi"""`:                        {`say "hi"`},
		`"a.b"."c,d"`:                         {"a.b", "c,d"},
		`"https://x.io/claims".roles.primary`: {"https://x.io/claims", "roles", "primary"},
	} {
		got, problem := policy.ClaimPath(name)
		if problem != "" || !slices.Equal(got, want) {
			t.Errorf("ClaimPath(%q) = %q (%s), want %q", name, got, problem, want)
		}
	}
	for _, bad := range []string{"", "a..b", `"open`, `"a"b`, `a"b`, ".a", "a."} {
		if got, problem := policy.ClaimPath(bad); problem == "" {
			t.Errorf("ClaimPath(%q) = %q, want a problem", bad, got)
		}
	}
}

// TestClaimValuesKeepTheirType: a boolean or number claim value compares as that JSON
// value, not as its text (trust II: the string "true" passed for true).
func TestClaimValuesKeepTheirType(t *testing.T) {
	f, err := policy.Parse("schema.yaml", []byte(`version: 1
auth: {provider: claims}
tables:
  - name: t
    columns: [{name: id, type: bigint, primary_key: true}]
    policies:
      select: {claim: {ok: true, n: [1, 2.5], s: "true", plain: admin}}
`))
	if err != nil {
		t.Fatal(err)
	}
	using, _ := f.Tables[0].Policies[0].Conditions(f, f.Tables[0])
	want := `((SELECT auth.session()) -> 'ok') = 'true'::jsonb AND ((SELECT auth.session()) -> 'n') IN ('1'::jsonb, '2.5'::jsonb) AND ((SELECT auth.session()) -> 's') = '"true"'::jsonb AND ((SELECT auth.session()) -> 'plain') = '"admin"'::jsonb`
	if using != want {
		t.Errorf("condition:\n%s\nwant\n%s", using, want)
	}
}

// TestManyTablesAreNotAnAliasBomb: the alias guard counted every node, so a plain
// 50,000-table file was refused as expanding "to over 1000000 nodes through aliases".
// It counts the nodes aliases add now.
func TestManyTablesAreNotAnAliasBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("parses a 50,000-table file")
	}
	var sb strings.Builder
	sb.WriteString("version: 1\ntables:\n")
	for i := range 50000 {
		fmt.Fprintf(&sb, "  - name: t%d\n    columns:\n      - {name: id, type: bigint, primary_key: true}\n", i)
		for _, c := range []string{"a", "b", "c", "d", "e"} {
			fmt.Fprintf(&sb, "      - {name: %s, type: text, not_null: true}\n", c)
		}
	}
	f, err := policy.Parse("schema.yaml", []byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tables) != 50000 {
		t.Fatalf("%d tables read", len(f.Tables))
	}
}

// TestPublicationTablesAreNamedPartByPart: a published table written schema.name was
// held to one name's 63 bytes as a whole, so a table of a 63-byte name could not be
// published (the convergence run found it).
func TestPublicationTablesAreNamedPartByPart(t *testing.T) {
	long := strings.Repeat("t", 63)
	src := "version: 1\npublications:\n  - {name: feed, tables: [public." + long + "]}\ntables:\n  - name: " + long +
		"\n    columns: [{name: id, type: bigint, primary_key: true}]\n"
	f, err := policy.Parse("schema.yaml", []byte(src))
	if err != nil {
		t.Fatalf("a 63-byte table name, published: %v", err)
	}
	if got := f.Publications[0].Tables; len(got) != 1 || got[0] != "public."+long {
		t.Errorf("tables %v", got)
	}
	if _, err := policy.Parse("schema.yaml", []byte(strings.Replace(src, "public."+long, "public."+long+"x", 1))); err == nil {
		t.Error("a 64-byte table name was taken")
	}
}
