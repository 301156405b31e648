package sqlparse

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseExprAcceptsOneExpression(t *testing.T) {
	for _, s := range []string{
		"(select auth.user_id()) = user_id",
		"'a;b'",
		"'-- not a comment'",
		"$$x /* y */$$",
		"exists (select 1 from memberships m where m.org_id = org_id)",
		"org_id = any ((select rls.org_member())::bigint[])",
		"now()",
		"published and deleted_at is null",
	} {
		if _, err := ParseExpr(s); err != nil {
			t.Errorf("ParseExpr(%q): %v", s, err)
		}
	}
}

// TestParseExprRefusesSmuggledClauses: each of these, placed verbatim in USING (...) or
// DEFAULT ..., would carry a clause or a statement of its own.
func TestParseExprRefusesSmuggledClauses(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{"(select auth.user_id()) = user_id) WITH CHECK (true", "syntax error at or near \")\""},
		{"1, DISABLE ROW LEVEL SECURITY", "syntax error"},
		{"1, 2", "exactly one SQL expression"},
		{"true FROM pg_class", "exactly one SQL expression"},
		{"true; DROP TABLE todos", "would end the statement"},
		{"true --", "comments"},
		{"true;", "\";\""},
		{"true /* x */", "comments"},
		{"1 AS x", "without an alias"},
		{"*", "not *"},
		{"true UNION SELECT false", "exactly one SQL expression"},
		{"", "must not be empty"},
		{"   ", "must not be empty"},
	} {
		_, err := ParseExpr(c.in)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseExpr(%q) = %v, want an error containing %q", c.in, err, c.msg)
		}
	}
}

func TestParseExprErrorOffset(t *testing.T) {
	_, err := ParseExpr("a = = b")
	e, ok := err.(*Error)
	if !ok || e.Offset != 4 {
		t.Fatalf("ParseExpr error = %#v, want offset 4", err)
	}
	_, err = ParseExpr("'é' = = b")
	if e, ok := err.(*Error); !ok || e.Offset != 7 {
		t.Fatalf("ParseExpr error = %#v, want byte offset 7 after a two-byte letter", err)
	}
}

func TestAlwaysTrue(t *testing.T) {
	for s, want := range map[string]bool{
		"true": true, "TRUE": true, "(true)": true, "((true))": true, "1 = 1": true,
		"x OR true": true, "'t'::boolean": true, "'yes'::bool": true, "NOT false": true,
		"true AND 2 > 1": true, "'a' = 'a'": true, "1.0 = 1": true, "null is null": true,
		"false": false, "x": false, "x AND true": false, "1 = 2": false, "user_id = user_id": false,
		"(select auth.user_id()) = user_id": false, "'a' = 'b'": false, "x or false": false,
		// Spellings an attack used (trust II): folded too.
		"1 IN (1)": true, "true IS TRUE": true, "(select true)": true, "1 NOT IN (2, 3)": true, "false IS NOT TRUE": true,
		"1 IN (2)": false, "(select true from t)": false, "x IS TRUE": false, "(select x)": false,
	} {
		e, err := ParseExpr(s)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", s, err)
		}
		if got := e.AlwaysTrue(); got != want {
			t.Errorf("AlwaysTrue(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestReadsRow: a condition that reads no column of its row, however spelt, is
// row-independent; one that reaches the row, directly or from a subquery, is not.
func TestReadsRow(t *testing.T) {
	cols := []string{"id", "user_id", "org_id"}
	for s, want := range map[string]bool{
		"true": false, "true IS TRUE": false, "1 IN (1)": false, "(select true)": false,
		"auth.user_id() IS NOT NULL": false, "(select auth.user_id()) = 'admin'": false,
		"exists (select 1 from admins a where a.uid = auth.user_id())":   false,
		"current_setting('app.admin', true) = 'on'":                      false,
		"user_id = auth.user_id()":                                       true,
		"notes.id > 0":                                                   true,
		"x = 1":                                                          true, // an unknown column of its own level is still the row's
		"exists (select 1 from m where m.org_id = org_id)":               true, // captured or not, it may reach the row
		"exists (select 1 from m where m.org_id = notes.org_id)":         true,
		"exists (select 1 from m where m.note = notes)":                  true,
		"(select count(*) from m where m.k = (select notes.id)) > 0":     true,
		"1 IN (select user_id from m)":                                   true,
		"exists (select 1 from m where m.user_id = (select auth.uid()))": false,
	} {
		e, err := ParseExpr(s)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", s, err)
		}
		if got := e.ReadsRow("notes", cols); got != want {
			t.Errorf("ReadsRow(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestTablesAndFunctions(t *testing.T) {
	e, err := ParseExpr("exists (select 1 from memberships m join app.orgs o on o.id = m.org_id where m.user_id = (select auth.user_id())) or id in (with x as (select 1) select * from x)")
	if err != nil {
		t.Fatal(err)
	}
	want := []TableRef{{"", "memberships", 22}, {"app", "orgs", 41}}
	if diff := cmp.Diff(want, e.Tables()); diff != "" {
		t.Errorf("Tables (-want +got):\n%s", diff)
	}
	if !e.HasSubquery() {
		t.Error("HasSubquery = false")
	}
	if plain, _ := ParseExpr("user_id = auth.user_id()"); plain.HasSubquery() {
		t.Error("HasSubquery = true without a subquery")
	}
	if got := e.Functions(); !slices.Equal(got, []string{"auth.user_id"}) {
		t.Errorf("Functions = %v", got)
	}
}

func TestCaptured(t *testing.T) {
	cols := map[string][]string{"memberships": {"org_id", "user_id", "role"}}
	lookup := func(r TableRef) []string { return cols[r.Name] }
	outer := []string{"id", "org_id", "title"}
	for s, want := range map[string][]string{
		"exists (select 1 from memberships m where m.org_id = org_id and m.user_id = (select auth.user_id()))": {"org_id"},
		"exists (select 1 from memberships m where m.org_id = projects.org_id)":                                nil,
		"org_id in (select org_id from memberships where user_id = (select auth.user_id()))":                   nil, // user_id is not a column of the outer table
		"exists (select 1 from memberships m where m.role = title)":                                            nil,
	} {
		e, err := ParseExpr(s)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range e.Captured(outer, lookup) {
			got = append(got, c.Column)
			if !strings.HasPrefix(s[c.Offset:], c.Column) {
				t.Errorf("%q: offset %d does not point at %s", s, c.Offset, c.Column)
			}
		}
		// "org_id in (select org_id ...)": the target org_id is the subquery's own, as meant.
		if strings.HasPrefix(s, "org_id in") {
			got = slices.DeleteFunc(got, func(string) bool { return true })
		}
		if !slices.Equal(got, want) {
			t.Errorf("Captured(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseStatement(t *testing.T) {
	for _, s := range []string{"select * from todos", "update todos set title = 'x;y'", "insert into todos (title) values ('a')"} {
		if _, err := ParseStatement(s); err != nil {
			t.Errorf("ParseStatement(%q): %v", s, err)
		}
	}
	for s, msg := range map[string]string{
		"commit":                              "transaction",
		"rollback":                            "transaction",
		"savepoint a":                         "transaction",
		"begin":                               "transaction",
		"set role postgres":                   "session settings",
		"reset role":                          "session settings",
		"set local request.jwt.claims = '{}'": "session settings",
		"discard all":                         "session settings",
		"select 1; select 2":                  "one SQL statement, not 2",
		"selec 1":                             "syntax error",
	} {
		if _, err := ParseStatement(s); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseStatement(%q) = %v, want %q", s, err, msg)
		}
	}
}

func TestParseType(t *testing.T) {
	q := func(s string) string {
		if s == strings.ToLower(s) {
			return s
		}
		return `"` + s + `"`
	}
	for in, want := range map[string]string{
		"bigint": "bigint", "int8": "bigint", "INT8": "bigint", "int": "integer", "integer": "integer",
		"int4": "integer", "smallint": "smallint", "bool": "boolean", "boolean": "boolean",
		"timestamptz": "timestamp with time zone", "timestamp with time zone": "timestamp with time zone",
		"timestamp(3) with time zone": "timestamp(3) with time zone", "timestamp": "timestamp without time zone",
		"varchar(20)": "character varying(20)", "character varying": "character varying",
		"numeric(10, 2)": "numeric(10,2)", "decimal": "numeric", "text[]": "text[]", "int[][]": "integer[]",
		"double precision": "double precision", "float8": "double precision", "real": "real",
		"char": "character(1)", "uuid": "uuid", "jsonb": "jsonb", "myschema.MyType": "myschema.mytype", `"MyType"`: `"MyType"`,
		"text ": "text",
	} {
		got, err := ParseType(in, q)
		if err != nil || got != want {
			t.Errorf("ParseType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"serial":                 "identity: by default",
		"bigserial":              "type: bigint",
		"text; drop table x":     "would end the statement",
		"text, int":              "one type name",
		"":                       "empty",
		"int;":                   "\";\"",
		"int -- x":               "comments",
		"interval day to second": "interval",
		"setof text":             "one type name",
	} {
		if _, err := ParseType(in, q); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseType(%q) = %v, want %q", in, err, msg)
		}
	}
}

// TestCanCast checks the cast table against PostgreSQL itself for every pair of known
// types, in TestCastTableMatchesPostgreSQL (internal/cli); here a few pairs by hand.
func TestCanCast(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"boolean", "smallint", false}, {"uuid", "timestamp with time zone", false},
		{"boolean", "integer", true}, {"text", "uuid", true}, {"uuid", "text", true},
		{"bigint", "numeric(10,2)", true}, {"character varying(20)", "character varying(50)", true},
		{"jsonb", "bigint", true}, {"bigint", "jsonb", false}, {"date", "timestamp with time zone", true},
		{"text[]", "integer[]", true}, {"integer[]", "uuid", false}, {"mytype", "integer", true},
	} {
		if got := CanCast(c.from, c.to); got != c.want {
			t.Errorf("CanCast(%q, %q) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestEquivalent(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"(select auth.user_id()) = user_id", "user_id = (select auth.user_id())", true},
		{`"c9" IS NOT NULL`, "c9 is not null", true},
		{"((a = 1))", "a = 1", true},
		{"a = 1 AND b = 2", "b = 2 and a = 1", true},
		{"a = 1", "a = 2", false},
		{"a < b", "b < a", false},
		{"a - b = 0", "b - a = 0", false},
		{"a = 1 OR b = 2", "a = 1 AND b = 2", false},
		{"(( SELECT auth.user_id() AS user_id) = user_id)", "(user_id = ( SELECT auth.user_id() AS user_id))", true},
		{"x = ", "x = ", true},
		{"x = ", "x =", false},
	} {
		if got := Equivalent(c.a, c.b); got != c.want {
			t.Errorf("Equivalent(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestRenameColumn(t *testing.T) {
	q := func(s string) string { return `"` + s + `"` }
	for in, want := range map[string]string{
		"user_id = (select auth.user_id())":              `"owner" = (select auth.user_id())`,
		`"user_id" is not null`:                          `"owner" is not null`,
		"m.user_id = user_id":                            `m.user_id = "owner"`,
		"exists (select 1 from t where t.x = 'user_id')": "exists (select 1 from t where t.x = 'user_id')",
	} {
		if got := RenameColumn(in, "user_id", "owner", q); got != want {
			t.Errorf("RenameColumn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequalify(t *testing.T) {
	q := func(s string) string { return s }
	for in, want := range map[string]string{
		"public.teams.user_id = x":                        "teams.user_id = x",
		`"public"."teams".user_id = public.teams.id`:      "teams.user_id = teams.id",
		"exists (select 1 from public.teams t)":           "exists (select 1 from public.teams t)",
		"other.teams.user_id = 1 and public.teamsx.a = 1": "other.teams.user_id = 1 and public.teamsx.a = 1",
	} {
		if got := Requalify(in, "public", "teams", "teams", q); got != want {
			t.Errorf("Requalify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnqualify(t *testing.T) {
	q := func(s string) string { return s }
	for in, want := range map[string]string{
		"EXISTS ( SELECT 1 FROM public.teams t WHERE t.id = notes.team_id)": "EXISTS ( SELECT 1 FROM teams t WHERE t.id = notes.team_id)",
		"public.teams.id = 1":  "teams.id = 1",
		"app.public.teams.id":  "app.public.teams.id",
		"public.teamsx.id = 1": "public.teamsx.id = 1",
	} {
		hidden := func(s, t string) bool { return s == "public" && t == "teams" }
		if got := Unqualify(in, hidden, q); got != want {
			t.Errorf("Unqualify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCall(t *testing.T) {
	for in, want := range map[string]string{"auth.user_id()": "auth.user_id", "AUTH.USER_ID( )": "auth.user_id", "current_user_id()": "current_user_id",
		"auth.user_id()::uuid": "", "f(1)": "", "(select auth.user_id())": "", "now() + interval '1 day'": ""} {
		e, err := ParseExpr(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := e.Call(); got != want {
			t.Errorf("Call(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestComparison(t *testing.T) {
	for in, want := range map[string]*Comparison{
		"published":             {Column: "published", Value: "true", Equal: true},
		"not archived":          {Column: "archived", Value: "true", Equal: false},
		"posts.status = 'live'": {Column: "status", Value: "live", Equal: true},
		"'live' = status":       {Column: "status", Value: "live", Equal: true},
		"level <> 3":            {Column: "level", Value: "3", Equal: false},
		"kind = 'a'::text":      {Column: "kind", Value: "a", Equal: true},
		"flag = true":           {Column: "flag", Value: "true", Equal: true},
		"a = b":                 nil,
		"a > 1":                 nil,
		"published and x":       nil,
		"lower(s) = 'x'":        nil,
	} {
		e, err := ParseExpr(in)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := e.Comparison()
		if (want == nil) == ok || (want != nil && got != *want) {
			t.Errorf("Comparison(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
}

func TestMembershipSubquery(t *testing.T) {
	for in, want := range map[string]string{
		"org_id in (select my_org_ids())": "in",
		"org_id in (select m.org_id from memberships m where m.user_id = (select auth.user_id()))": "in",
		"exists (select 1 from memberships m where m.org_id = projects.org_id)":                    "exists",
		"(select auth.user_id()) = user_id":                                                        "",
		"org_id = any ((select rls.org_member())::bigint[])":                                       "",
		"exists (select 1)": "",
	} {
		e, err := ParseExpr(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := e.MembershipSubquery(); got != want {
			t.Errorf("MembershipSubquery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCastTypeAndComparable(t *testing.T) {
	for expr, want := range map[string]string{
		"(auth.user_id())::uuid": "uuid", "((auth.user_id())::uuid)": "uuid", "auth.user_id()::varchar(20)": "character varying(20)",
		"CAST(auth.uid() AS bigint)": "bigint", "auth.user_id()": "",
	} {
		e, err := ParseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := e.CastType(); got != want {
			t.Errorf("CastType(%q) = %q, want %q", expr, got, want)
		}
	}
	for _, c := range []struct {
		a, b string
		ok   bool
	}{{"text", "character varying(20)", true}, {"text", "uuid", false}, {"uuid", "uuid", true}, {"bigint", "integer", true},
		{"bigint", "text", false}, {"my_domain", "text", true}, {"text[]", "text", false}} {
		if got := Comparable(c.a, c.b); got != c.ok {
			t.Errorf("Comparable(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
