package compile

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestThroughFunctionNamesInjective draws through rules from a small alphabet rich in
// "_" (where joining parts with "_" meets itself most often): two rules that differ in
// group, schema, table, group column or returned column never share a function name.
func TestThroughFunctionNamesInjective(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	part := func() string {
		const alphabet = "ab_"
		n := 1 + rng.IntN(4)
		var sb strings.Builder
		for range n {
			sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	seen := map[string][5]string{}
	for range 50000 {
		def := [5]string{part(), part(), part(), part(), part()}
		name := policy.ThroughFunction(def[0], &policy.Through{Schema: def[1], Table: def[2], Column: def[3]}, def[4])
		if len(name) > 63 {
			t.Fatalf("%v: name %q is over 63 bytes", def, name)
		}
		if prev, ok := seen[name]; ok && prev != def {
			t.Fatalf("%v and %v share the function name %q", prev, def, name)
		}
		seen[name] = def
	}
	if len(seen) < 10000 {
		t.Fatalf("only %d distinct definitions drawn", len(seen))
	}
}

// TestTwoThroughRulesTwoFunctions is the vendor case: invoices reach the group through
// projects.client_org_id, internal notes through projects.org_id. Each gets its own
// function, whose body reads its own column.
func TestTwoThroughRulesTwoFunctions(t *testing.T) {
	f, err := policy.Parse("schema.yaml", []byte(vendorYAML("team")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{}
	for _, fn := range s.Routines {
		bodies[fn.Name] = fn.Body
	}
	client := policy.ThroughFunction("team", &policy.Through{Table: "projects", Column: "client_org_id"}, "id")
	vendor := policy.ThroughFunction("team", &policy.Through{Table: "projects", Column: "org_id"}, "id")
	if client == vendor {
		t.Fatalf("both through rules are served by %s", client)
	}
	if !strings.Contains(bodies[client], "WHERE client_org_id = ANY") || !strings.Contains(bodies[vendor], "WHERE org_id = ANY") {
		t.Fatalf("functions %v: want %s over client_org_id and %s over org_id", bodies, client, vendor)
	}
}

// TestGroupNamedLikeThroughFunction: a group whose name is the name of another group's
// through function is refused at the through rule, naming the group's line; before, the
// two merged into one function.
func TestGroupNamedLikeThroughFunction(t *testing.T) {
	clash := policy.ThroughFunction("team", &policy.Through{Table: "projects", Column: "org_id"}, "id")
	doc := strings.Replace(vendorYAML("team"), "groups:\n", "groups:\n  "+clash+": {table: memberships, group: org_id, user: user_id}\n", 1)
	f, err := policy.Parse("schema.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(f)
	want := "schema.yaml:34:59: the function of this rule would be named rls." + clash + ", like a different function made at line 4; rename the group"
	if err == nil || err.Error() != want {
		t.Fatalf("compile: %v\nwant %s", err, want)
	}
}

func vendorYAML(group string) string {
	return `version: 1
auth: {provider: claims, roles: [authenticated]}
groups:
  ` + group + `: {table: memberships, group: org_id, user: user_id}
tables:
  - name: orgs
    columns:
      - {name: id, type: bigint, primary_key: true}
  - name: memberships
    columns:
      - {name: org_id, type: bigint, primary_key: true, references: {table: orgs}}
      - {name: user_id, type: text, primary_key: true}
    policies:
      select: {member: ` + group + `}
  - name: projects
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: org_id, type: bigint, not_null: true, references: {table: orgs}}
      - {name: client_org_id, type: bigint, not_null: true, references: {table: orgs}}
    policies:
      select: {member: ` + group + `}
  - name: invoices
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: project_id, type: bigint, not_null: true, references: {table: projects}}
    policies:
      select: {member: ` + group + `, column: project_id, through: {table: projects, column: client_org_id}}
  - name: internal_notes
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: project_id, type: bigint, not_null: true, references: {table: projects}}
    policies:
      select: {member: ` + group + `, column: project_id, through: {table: projects, column: org_id}}
`
}
