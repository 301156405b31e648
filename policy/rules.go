package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// This file holds what every rule means whatever its kind: how its kind's condition
// meets its where and its operation's clauses, and how verdicts combine. Each kind's
// own meaning is its entry in ruleKinds (kinds.go).

// OwnerCondition is the condition "the caller owns the row": the identity call wrapped
// in a scalar subquery, so PostgreSQL evaluates it once per statement and can use an
// index on the owner column.
func OwnerCondition(userID, ownerColumn string) string {
	return fmt.Sprintf("(select %s) = %s", userID, sqlident.Quote(ownerColumn))
}

// FunctionSchema is the database schema of the functions rlsmigrate writes for groups.
const FunctionSchema = "rls"

// Function returns the name, in FunctionSchema, of the function that returns g's set.
func (g *Group) Function() string { return g.Name }

// ThroughFunction returns the name, in FunctionSchema, of the function that returns the
// ids (column ref) of the rows of th's table whose group column is in the caller's group.
// The name is derived from everything that defines the function: the group, the table,
// its group column and the column returned, so two through rules that differ in any of
// them never share a function (one would read the other's rows).
func ThroughFunction(group string, th *Through, ref string) string {
	schemaName := th.Schema
	if schemaName == "" {
		schemaName = "public"
	}
	return sqlident.Derived(group+"_via_"+th.Table, group, schemaName, th.Table, th.Column, ref)
}

// MemberCondition is the condition "column is in the set function returns": the call
// sits in a scalar subquery, so PostgreSQL runs it once per statement (an initPlan), and
// = ANY of an array answers from an index on the column. The cast to the array type
// matters: without it, "= ANY ((SELECT ...))" parses as the subquery form, which
// compares each row with every element of a set instead of probing an index.
func MemberCondition(column, function, elemType string) string {
	return fmt.Sprintf("%s = ANY ((SELECT %s.%s())::%s[])", sqlident.Quote(column), FunctionSchema, sqlident.Quote(function), elemType)
}

// ClaimCondition is the condition "the caller's claims hold these values", reading the
// claims (the SQL expression claims) once per statement.
func ClaimCondition(claims string, cs []Claim) string {
	var parts []string
	for _, c := range cs {
		get := fmt.Sprintf("((SELECT %s) -> %s)", claims, sqlident.Literal(c.Path[0]))
		if len(c.Path) > 1 {
			keys := make([]string, len(c.Path))
			for i, k := range c.Path {
				keys[i] = sqlident.Literal(k)
			}
			get = fmt.Sprintf("((SELECT %s) #> ARRAY[%s])", claims, strings.Join(keys, ", "))
		}
		lits := make([]string, len(c.Values))
		for i, v := range c.Values {
			lits[i] = sqlident.Literal(v) + "::jsonb"
		}
		if len(lits) == 1 {
			parts = append(parts, fmt.Sprintf("%s = %s", get, lits[0]))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s IN (%s)", get, strings.Join(lits, ", ")))
	}
	return strings.Join(parts, " AND ")
}

// Key returns the claim's path as one map key: its parts joined by NUL, which no part
// holds.
func (c Claim) Key() string { return strings.Join(c.Path, "\x00") }

// ClaimKeyPath returns the path of a claim from its Key.
func ClaimKeyPath(key string) []string { return strings.Split(key, "\x00") }

// memberCondition returns r's member condition on table t.
func (r *Rule) memberCondition(f *File, t *Table) string {
	g := f.Group(r.Group)
	col := r.MemberColumn(f, t)
	gt := f.Table(g.Schema, g.Table)
	if r.Through != nil {
		if cp := t.CopyOf(col, r.Through.Column); cp != nil {
			return MemberCondition(cp.Name, g.Function(), gt.Column(g.GroupColumn).Type)
		}
		tt := f.Table(r.Through.Schema, r.Through.Table)
		ref := t.Column(col).References.Column
		return MemberCondition(col, ThroughFunction(g.Name, r.Through, ref), tt.Column(ref).Type)
	}
	return MemberCondition(col, g.Function(), gt.Column(g.GroupColumn).Type)
}

// Conditions returns the SQL of r's USING and WITH CHECK clauses on table t of file f;
// either is "" where r's operation takes none.
func (r *Rule) Conditions(f *File, t *Table) (using, check string) {
	k := ruleKinds[r.Kind]
	if k.condition == nil {
		return and(r.Using, r.Where), and(r.Check, r.Where)
	}
	cond := k.condition(r, f, t)
	if cond == "true" && r.Where != "" {
		cond = r.Where // anyone: true AND where is where
	} else {
		cond = and(cond, r.Where)
	}
	switch r.Operation {
	case "insert":
		return "", cond
	case "update":
		return cond, cond
	}
	return cond, ""
}

// and joins a condition and a where condition; "" stays "" (a clause the operation
// does not take).
func and(cond, where string) string {
	if cond == "" || where == "" {
		return cond
	}
	return "(" + cond + ") AND (" + where + ")"
}

// Case is a caller and a row, as verify sets them up: what the caller holds and how
// the row relates to it.
type Case struct {
	Identity bool // the caller has an id
	Owned    bool // the row's owner column holds the caller's id
	// InGroups: the row's group columns (directly, or through the rows they
	// reference) are in the caller's sets of every group.
	InGroups bool
	// PeerOf names a group table (schema.table) where the caller holds a row for the
	// row's group id that fails the groups' where filters: the caller is in the sets of
	// the groups over that table without filters, and in no other.
	PeerOf string
	// Claims are the caller's claims, by Claim.Key, as JSON values.
	Claims map[string]string
	// Row holds the row's values by column name, as text; a missing column is NULL.
	Row map[string]string
}

// Verdict is what a rule says of a caller's access to a row.
type Verdict int

// The verdicts.
const (
	Unknown Verdict = iota // the rule's SQL decides; it cannot be derived
	Allows
	Denies
)

// Verdict returns what r, alone, says of its operation in case c: its kind's verdict
// and, where it has one, its where condition's.
func (r *Rule) Verdict(f *File, c Case) Verdict {
	v := Unknown // a custom rule's SQL decides, unless it allows every row
	if k := ruleKinds[r.Kind]; k.verdict != nil {
		v = k.verdict(r, f, c)
	} else if r.AllowsEveryRow() {
		v = Allows
	}
	if r.Kind == RuleAnyone && r.Where != "" && sqlparse.AlwaysTrueText(r.Where) {
		return Allows
	}
	return both(v, r.WhereVerdict(c.Row))
}

func verdict(ok bool) Verdict {
	if ok {
		return Allows
	}
	return Denies // a NULL identity or claim matches nothing: fails closed
}

// both is the verdict of two conditions ANDed.
func both(a, b Verdict) Verdict {
	switch {
	case a == Denies || b == Denies:
		return Denies
	case a == Unknown || b == Unknown:
		return Unknown
	}
	return Allows
}

// WhereVerdict judges r's where condition on a row's values (see Comparison):
// Allows when there is none, Unknown when it is not a comparison of one column.
func (r *Rule) WhereVerdict(row map[string]string) Verdict {
	if r.Where == "" {
		return Allows
	}
	cmp, ok := r.WhereComparison()
	if !ok {
		return Unknown
	}
	val, present := row[cmp.Column]
	if !present {
		return Denies // NULL compares as nothing
	}
	return verdict((val == cmp.Value) == cmp.Equal)
}

// Comparison is a where condition that compares one column with a constant.
type Comparison struct {
	Column string
	Value  string // the constant as text: "true" for a bare boolean column
	Equal  bool   // false for <>, and for NOT col (Value "true")
}

// WhereComparison returns r's where condition as a comparison of one column with a
// constant, or false.
func (r *Rule) WhereComparison() (Comparison, bool) {
	e, err := sqlparse.ParseExpr(r.Where)
	if r.Where == "" || err != nil {
		return Comparison{}, false
	}
	c, ok := e.Comparison()
	return Comparison{Column: c.Column, Value: c.Value, Equal: c.Equal}, ok
}

// AllowsEveryRow reports whether r lets its operation through on every row: anyone
// (without a where), or a condition that is always true (TRUE, (true), 1 = 1, x OR
// true) judged on its parse tree.
func (r *Rule) AllowsEveryRow() bool {
	if r.Where != "" && !sqlparse.AlwaysTrueText(r.Where) {
		return false
	}
	if k := ruleKinds[r.Kind]; k.condition != nil {
		return !k.callsFunction // anyone: its condition is true
	}
	switch r.Operation {
	case "insert":
		return sqlparse.AlwaysTrueText(r.Check)
	case "update":
		return sqlparse.AlwaysTrueText(r.Using) && (r.Check == "" || sqlparse.AlwaysTrueText(r.Check))
	}
	return sqlparse.AlwaysTrueText(r.Using)
}

// AllOrNothing reports whether r is a custom rule whose conditions (with its where) read
// no column of the row on table t, however they are spelt (true IS TRUE, 1 IN (1),
// auth.user_id() IS NOT NULL, an EXISTS over another table): for a given caller it then
// allows every row or none. Built-in rules that mean exactly that (anyone, claim) say
// so by their kind and are not reported.
func (r *Rule) AllOrNothing(t *Table) bool {
	if r.Kind != RuleCustom {
		return false
	}
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	using, check := r.Conditions(nil, t)
	n := 0
	for _, cond := range []string{using, check} {
		if cond == "" {
			continue
		}
		e, err := sqlparse.ParseExpr(cond)
		if err != nil || e.ReadsRow(t.Name, cols) {
			return false
		}
		n++
	}
	return n > 0
}

// exprs returns r's custom conditions, parsed.
func (r *Rule) exprs() []*sqlparse.Expr {
	var out []*sqlparse.Expr
	for _, s := range []string{r.Using, r.Check} {
		if e, err := sqlparse.ParseExpr(s); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// UsingMentions and CheckMentions report whether r's custom using or check condition
// names column at its own query level (outside subqueries).
func (r *Rule) UsingMentions(column string) bool { return mentions(r.Using, column) }

// CheckMentions: see UsingMentions.
func (r *Rule) CheckMentions(column string) bool { return mentions(r.Check, column) }

func mentions(expr, column string) bool {
	e, err := sqlparse.ParseExpr(expr)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(e.ColumnRefs(), func(c sqlparse.ColumnRef) bool { return c.Column == column })
}

// MembershipSubquery reports whether a custom condition or where of r tests rows with
// IN (SELECT ...) or a correlated EXISTS, and which ("in" or "exists").
func (r *Rule) MembershipSubquery() (string, bool) {
	for _, s := range []string{r.Using, r.Check, r.Where} {
		if e, err := sqlparse.ParseExpr(s); s != "" && err == nil {
			if form, ok := e.MembershipSubquery(); ok {
				return form, true
			}
		}
	}
	return "", false
}

// CallsPerRow reports whether a custom condition of r calls a function of the identity
// expression userID outside a subquery, where PostgreSQL evaluates it once per row.
func (r *Rule) CallsPerRow(userID string) bool {
	id, err := sqlparse.ParseExpr(userID)
	if err != nil {
		return false
	}
	for _, e := range r.exprs() {
		for _, fn := range id.Functions() {
			if e.CallsOutsideSubquery(fn) {
				return true
			}
		}
	}
	return false
}

// Capture is an unqualified column reference in a rule's subquery that a table of the
// subquery resolves, while the policy's table has a column of that name too: the rule
// then compares the subquery's row with itself.
type Capture struct {
	Column        string // the column as written
	Schema, Table string // the subquery's table that captures it; Schema "" when unqualified
}

// Captured returns the column references in r's subqueries that a table of the subquery
// captures while table t has a column of that name too. Tables of f answer with their
// columns; others are unknown.
func (r *Rule) Captured(f *File, t *Table) []Capture {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	lookup := func(ref sqlparse.TableRef) []string {
		schema := ref.Schema
		if schema == "" {
			schema = t.Schema
		}
		var out []string
		if ft := f.Table(schema, ref.Name); ft != nil {
			for _, c := range ft.Columns {
				out = append(out, c.Name)
			}
		}
		return out
	}
	var out []Capture
	for _, e := range r.exprs() {
		for _, c := range e.Captured(cols, lookup) {
			out = append(out, Capture{Column: c.Column, Schema: c.Table.Schema, Table: c.Table.Name})
		}
	}
	return out
}
