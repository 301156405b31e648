package policy

import (
	"fmt"
	"slices"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// This file is the one home of what each rule kind means: the SQL condition it compiles
// to, what a caller may do to a row under it, and what lint can ask of it. compile,
// lint and verify ask the rule; none derives it again. A new kind adds its parsing in
// load.go and its meaning here.

// OwnerCondition is the condition "the caller owns the row": the identity call wrapped
// in a scalar subquery, so PostgreSQL evaluates it once per statement and can use an
// index on the owner column.
func OwnerCondition(userID, ownerColumn string) string {
	return fmt.Sprintf("(select %s) = %s", userID, sqlident.Quote(ownerColumn))
}

// Conditions returns the SQL of r's USING and WITH CHECK clauses on table t of file f;
// either is "" where r's operation takes none.
func (r *Rule) Conditions(f *File, t *Table) (using, check string) {
	var cond string
	switch r.Kind {
	case RuleCustom:
		return r.Using, r.Check
	case RuleOwner:
		cond = OwnerCondition(f.Auth.UserID, t.Owner)
	case RuleAnyone:
		cond = "true"
	}
	switch r.Operation {
	case "insert":
		return "", cond
	case "update":
		return cond, cond
	}
	return cond, ""
}

// Row is the kind of row, relative to the caller, that verify acts on.
type Row int

// The kinds of row.
const (
	OwnRow     Row = iota // a row the caller owns
	OthersRow             // a row another user owns
	NoIdentity            // any row, by a caller without an identity
)

// Verdict is what a rule says of a caller's access to a kind of row.
type Verdict int

// The verdicts.
const (
	Unknown Verdict = iota // the rule's SQL decides; it cannot be derived
	Allows
	Denies
)

// Verdict returns what r, alone, says of its operation on a kind of row.
func (r *Rule) Verdict(row Row) Verdict {
	switch r.Kind {
	case RuleAnyone:
		return Allows
	case RuleOwner:
		if row == OwnRow {
			return Allows
		}
		return Denies // NULL identity matches no owner: fails closed
	}
	if r.AllowsEveryRow() {
		return Allows
	}
	return Unknown
}

// AllowsEveryRow reports whether r lets its operation through on every row: anyone, or a
// condition that is always true (TRUE, (true), 1 = 1, x OR true) judged on its parse tree.
func (r *Rule) AllowsEveryRow() bool {
	switch r.Kind {
	case RuleAnyone:
		return true
	case RuleOwner:
		return false
	}
	switch r.Operation {
	case "insert":
		return sqlparse.AlwaysTrueText(r.Check)
	case "update":
		return sqlparse.AlwaysTrueText(r.Using) && (r.Check == "" || sqlparse.AlwaysTrueText(r.Check))
	}
	return sqlparse.AlwaysTrueText(r.Using)
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

// Captured returns the column references in r's subqueries that a table of the subquery
// captures while table t has a column of that name too (see sqlparse.Expr.Captured).
// Tables of f answer with their columns; others are unknown.
func (r *Rule) Captured(f *File, t *Table) []sqlparse.Capture {
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
	var out []sqlparse.Capture
	for _, e := range r.exprs() {
		out = append(out, e.Captured(cols, lookup)...)
	}
	return out
}
