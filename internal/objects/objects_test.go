package objects

import (
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestEveryKindIsComplete holds each kind to what the stages call: a kind missing a
// part fails here, not in a migration.
func TestEveryKindIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds {
		if k.Name == "" || strings.Contains(k.Name, ".") || seen[k.Name] {
			t.Errorf("kind %q: a name must be set, unique, without dots", k.Name)
		}
		seen[k.Name] = true
		if k.Declare == nil || k.Create == nil || k.Drop == nil || k.Summary == nil {
			t.Errorf("%s: Declare, Create, Drop and Summary must all be set", k.Name)
		}
		if k.CreateAfter == "" || k.DropAfter == "" {
			t.Errorf("%s: CreateAfter and DropAfter place its changes; both must be set", k.Name)
		}
		switch {
		case (k.Query == "") == (k.Rows == nil):
			t.Errorf("%s: its objects are read from the catalog (Query) or from a table's rows (Rows): exactly one", k.Name)
		case k.Rows != nil && !k.OnTable:
			t.Errorf("%s: rows are read from a table: the kind must be on tables", k.Name)
		case k.Query != "" && strings.Count(k.Query, "%s") != map[bool]int{true: 1, false: 0}[k.OnTable]:
			t.Errorf("%s: a query on tables takes the tables' oids as one %%s; one outside tables takes none", k.Name)
		}
	}
}

// TestSameComparesExpressionsByMeaning: expressions compare by parse tree, every other
// attribute and the items as text, and an attribute one side lacks is a difference.
func TestSameComparesExpressionsByMeaning(t *testing.T) {
	check := func(attrs map[string]string, items ...string) *schema.Object {
		return &schema.Object{Kind: Check.Name, Name: "c", Attrs: attrs, Items: items}
	}
	for _, c := range []struct {
		a, b *schema.Object
		same bool
	}{
		{check(map[string]string{"expr": "price > 0"}), check(map[string]string{"expr": "((PRICE > 0))"}), true},
		{check(map[string]string{"expr": "price > 0"}), check(map[string]string{"expr": "price >= 0"}), false},
		{check(map[string]string{"expr": "price > 0"}), check(map[string]string{"expr": "price > 0", "not_valid": "true"}), false},
		{check(map[string]string{"expr": "a", "other": "x"}), check(map[string]string{"expr": "a", "other": "X"}), false},
		{check(nil, "a", "b"), check(nil, "a", "b"), true},
		{check(nil, "a", "b"), check(nil, "b", "a"), false},
	} {
		if got := Same(c.a, c.b); got != c.same {
			t.Errorf("Same(%v %v, %v %v) = %v, want %v", c.a.Attrs, c.a.Items, c.b.Attrs, c.b.Items, got, c.same)
		}
	}
}

// TestCheckStatements: on a new table a check is added as it is; on one that may hold
// rows, NOT VALID, then validated online; in one transaction, added valid, reading
// the rows under its lock.
func TestCheckStatements(t *testing.T) {
	o := &schema.Object{Kind: "check", Name: "price positive", Attrs: map[string]string{"expr": "price > 0"}}
	got := func(where Where) string {
		var out []string
		for _, st := range Check.Create("public.items", o, where) {
			s := st.SQL
			if st.Online {
				s = "online: " + s
			}
			out = append(out, s)
		}
		return strings.Join(out, "\n")
	}
	for where, want := range map[Where]string{
		NewTable:      `ALTER TABLE public.items ADD CONSTRAINT "price positive" CHECK (price > 0);`,
		InTransaction: `ALTER TABLE public.items ADD CONSTRAINT "price positive" CHECK (price > 0);`,
		Online: `ALTER TABLE public.items ADD CONSTRAINT "price positive" CHECK (price > 0) NOT VALID;` + "\n" +
			`online: ALTER TABLE public.items VALIDATE CONSTRAINT "price positive";`,
	} {
		if g := got(where); g != want {
			t.Errorf("where %d:\n%s\nwant\n%s", where, g, want)
		}
	}
	if l := Check.Create("public.items", o, InTransaction)[0].Lock; l != LockScan {
		t.Errorf("a check added valid to a table with rows takes %v, want LockScan", l)
	}
}

// TestEnumAlterations: labels added anywhere, in order, are added in place, each placed
// by its neighbour; a label removed or moved makes the type anew, a hazard.
func TestEnumAlterations(t *testing.T) {
	enum := func(labels ...string) *schema.Object {
		return &schema.Object{Kind: "enum", Schema: "public", Name: "status", Items: labels}
	}
	for _, c := range []struct {
		old, new *schema.Object
		want     string
		hazard   string
	}{
		{enum("a", "b"), enum("a", "x", "b", "y"), "ALTER TYPE public.status ADD VALUE 'x' AFTER 'a';\nALTER TYPE public.status ADD VALUE 'y' AFTER 'b';", ""},
		{enum("a", "b"), enum("it's", "a", "b"), "ALTER TYPE public.status ADD VALUE 'it''s' BEFORE 'a';", ""},
		{enum("a", "b"), enum("a"), "DO $rls$", "deletes-data"},
		{enum("a", "b"), enum("b", "a"), "DO $rls$", "deletes-data"},
		{enum("a"), enum("b"), "DO $rls$", "deletes-data"},
	} {
		var got []string
		for _, st := range Enum.Alter("", c.old, c.new, false) {
			got = append(got, st.SQL)
		}
		if s := strings.Join(got, "\n"); !strings.HasPrefix(s, c.want) {
			t.Errorf("%v to %v:\n%s\nwant %s", c.old.Items, c.new.Items, s, c.want)
		}
		if h := Enum.Hazard(c.old, c.new); h != c.hazard {
			t.Errorf("%v to %v: hazard %q, want %q", c.old.Items, c.new.Items, h, c.hazard)
		}
	}
	if h := Enum.Hazard(nil, enum("a")); h != "" {
		t.Errorf("creating an enum: hazard %q", h)
	}
	// Made anew when asked: a rollback, or a default using an added label.
	if st := Enum.Alter("", enum("a"), enum("a", "b"), true); len(st) != 1 || !strings.HasPrefix(st[0].SQL, "DO $rls$") {
		t.Errorf("an enum made anew: %v", st)
	}
	to := &schema.Schema{Tables: []*schema.Table{{Columns: []*schema.Column{{Name: "s", Type: "status", Default: "'b'::status"}}}}}
	if !Enum.Anew(enum("a"), enum("a", "b"), to) || Enum.Anew(enum("a"), enum("a", "c"), to) {
		t.Error("Anew: a default naming an added label needs the type made anew, one naming none does not")
	}
}
