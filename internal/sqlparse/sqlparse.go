// Package sqlparse reads the SQL fragments of schema.yaml with PostgreSQL's own parser: one
// expression, one statement, one type name. It answers what later checks need from the
// parse tree: the tables an expression reads, the column references a subquery's own
// table captures, and whether a condition is always true. It is a leaf: it knows nothing
// of schema.yaml or of databases.
package sqlparse

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// Error is a problem in a SQL fragment. Offset is the byte offset in the fragment where
// PostgreSQL's parser stopped, or -1 when the problem concerns the whole fragment.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// exprPrefix is what a fragment is parsed behind: "SELECT <fragment>".
const exprPrefix = "SELECT "

// Expr is one parsed SQL expression.
type Expr struct {
	// Text is the expression as written.
	Text string
	node *pg.Node
	// identity remembers IdentityTest's answer, functions Functions'.
	identity  *identityMemo
	functions *[]string
}

// ParseExpr parses s as exactly one SQL value expression. Anything that would carry
// more into the statement it is placed in (a second expression, a clause, a comment, a
// second statement) is an error.
func ParseExpr(s string) (*Expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &Error{Offset: -1, Msg: "must not be empty"}
	}
	if err := noComments(s); err != nil {
		return nil, err
	}
	tree, err := parse(exprPrefix+s, len(exprPrefix))
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 {
		return nil, &Error{Offset: -1, Msg: "must be one SQL expression, not several statements"}
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 || extraClauses(sel) {
		return nil, &Error{Offset: -1, Msg: "must be exactly one SQL expression (it reads as more: a list, a clause, or a query)"}
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil || rt.Name != "" || rt.Val == nil {
		return nil, &Error{Offset: -1, Msg: "must be exactly one SQL expression, without an alias"}
	}
	if rt.Val.GetColumnRef() != nil && isStar(rt.Val.GetColumnRef()) {
		return nil, &Error{Offset: -1, Msg: "must be an expression, not *"}
	}
	var keyword bool
	walk(rt.Val, func(n *pg.Node) bool {
		keyword = keyword || n.GetSetToDefault() != nil
		return !keyword
	})
	if keyword {
		return nil, &Error{Offset: -1, Msg: "DEFAULT is a keyword of INSERT and UPDATE, not a value; leave the key out, or write the value"}
	}
	return &Expr{Text: s, node: rt.Val}, nil
}

// extraClauses reports whether sel has anything beyond its target list.
func extraClauses(sel *pg.SelectStmt) bool {
	return len(sel.FromClause) > 0 || sel.WhereClause != nil || len(sel.GroupClause) > 0 ||
		sel.HavingClause != nil || len(sel.WindowClause) > 0 || len(sel.SortClause) > 0 ||
		sel.LimitCount != nil || sel.LimitOffset != nil || len(sel.LockingClause) > 0 ||
		sel.WithClause != nil || sel.IntoClause != nil || len(sel.DistinctClause) > 0 ||
		len(sel.ValuesLists) > 0 || sel.Op != pg.SetOperation_SETOP_NONE
}

func isStar(c *pg.ColumnRef) bool {
	for _, f := range c.Fields {
		if f.GetAStar() != nil {
			return true
		}
	}
	return false
}

// Statement is one parsed SQL statement.
type Statement struct {
	Text string
}

// ParseStatement parses s as exactly one statement that leaves the session as it found
// it: transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT...) and session settings
// (SET, SET ROLE, RESET, DISCARD) are refused, since they would escape the transaction
// that the statement runs in.
func ParseStatement(s string) (*Statement, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &Error{Offset: -1, Msg: "must not be empty"}
	}
	tree, err := parse(s, 0)
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 {
		return nil, &Error{Offset: -1, Msg: fmt.Sprintf("must be one SQL statement, not %d", len(tree.Stmts))}
	}
	n := tree.Stmts[0].Stmt
	switch {
	case n.GetTransactionStmt() != nil:
		return nil, &Error{Offset: -1, Msg: "must not control the transaction (BEGIN, COMMIT, ROLLBACK, SAVEPOINT): verify runs every test inside one transaction that it rolls back"}
	case n.GetVariableSetStmt() != nil, n.GetDiscardStmt() != nil:
		return nil, &Error{Offset: -1, Msg: "must not change session settings (SET, SET ROLE, RESET, DISCARD): verify sets the caller itself"}
	}
	return &Statement{Text: strings.TrimSpace(s)}, nil
}

// parse runs PostgreSQL's parser on sql, reporting errors at offsets relative to the
// fragment that starts at byte skip.
func parse(sql string, skip int) (*pg.ParseResult, error) {
	tree, err := pg.Parse(sql)
	if err == nil {
		return tree, nil
	}
	var pe *parser.Error
	if errors.As(err, &pe) {
		off := -1
		if pe.Cursorpos > 0 {
			// Cursorpos counts characters from 1.
			off = charsToBytes(sql, pe.Cursorpos-1) - skip
			if off < 0 {
				off = 0
			}
		}
		return nil, &Error{Offset: off, Msg: pe.Message}
	}
	return nil, &Error{Offset: -1, Msg: err.Error()}
}

func charsToBytes(s string, chars int) int {
	b := 0
	for i := 0; i < chars && b < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[b:])
		b += size
	}
	return b
}

// noComments refuses SQL comments and semicolons outside string literals: a "--"
// comment inside a fragment would swallow the parenthesis that closes it in the statement
// it is placed in (and the catalog keeps no comments anyway), and a ";" ends that
// statement. The same characters inside string literals are text, and allowed.
func noComments(s string) error {
	scan, err := pg.Scan(s)
	if err != nil {
		return nil // the parser reports the problem with its position
	}
	for _, tok := range scan.Tokens {
		if tok.Token == pg.Token_SQL_COMMENT || tok.Token == pg.Token_C_COMMENT {
			return &Error{Offset: int(tok.Start), Msg: "must not contain SQL comments; put comments in YAML (# ...)"}
		}
		if tok.Token == pg.Token_ASCII_59 {
			return &Error{Offset: int(tok.Start), Msg: "must not contain \";\" outside a string: it would end the statement"}
		}
	}
	return nil
}

// RenameColumn returns expr with every unqualified identifier from (a column reference,
// since expressions name no other unqualified identifiers that match a column) replaced
// by to, quoted by quote. Qualified references (m.user_id) are left as written: they may
// name another table's column. It is how an expression reads after ALTER TABLE ... RENAME
// COLUMN, which PostgreSQL applies to stored policies itself. On a scan error it returns
// expr unchanged.
func RenameColumn(expr, from, to string, quote func(string) string) string {
	scan, err := pg.Scan(expr)
	if err != nil {
		return expr
	}
	var sb strings.Builder
	last := 0
	for i, tok := range scan.Tokens {
		// Unreserved keywords (role, name...) are column names too.
		if tok.Token != pg.Token_IDENT && tok.KeywordKind != pg.KeywordKind_UNRESERVED_KEYWORD {
			continue
		}
		if i > 0 && scan.Tokens[i-1].Token == pg.Token_ASCII_46 {
			continue // after "."
		}
		if i+1 < len(scan.Tokens) && (scan.Tokens[i+1].Token == pg.Token_ASCII_46 || scan.Tokens[i+1].Token == pg.Token_ASCII_40) {
			continue // a qualifier or a function name
		}
		if identValue(expr[tok.Start:tok.End]) != from {
			continue
		}
		sb.WriteString(expr[last:tok.Start])
		sb.WriteString(quote(to))
		last = int(tok.End)
	}
	sb.WriteString(expr[last:])
	return sb.String()
}

// identValue returns the name an identifier token stands for: folded to lower case when
// bare, unquoted when quoted.
func identValue(tok string) string {
	if strings.HasPrefix(tok, `"`) && strings.HasSuffix(tok, `"`) && len(tok) >= 2 {
		return strings.ReplaceAll(tok[1:len(tok)-1], `""`, `"`)
	}
	return strings.ToLower(tok)
}

// MentionsIdent reports whether expr names name as an identifier anywhere, qualified or
// not: a conservative answer to "may this expression use that column".
func MentionsIdent(expr, name string) bool {
	scan, err := pg.Scan(expr)
	if err != nil {
		return true
	}
	for _, tok := range scan.Tokens {
		if (tok.Token == pg.Token_IDENT || tok.KeywordKind != pg.KeywordKind_NO_KEYWORD) && identValue(expr[tok.Start:tok.End]) == name {
			return true
		}
	}
	return false
}

// Requalify returns expr with the qualifier schema.table of column references (the
// tokens schema . table .) replaced by to, quoted by quote: how a stand-in of a table,
// created under another schema, reads the table's own schema-qualified references.
func Requalify(expr, schema, table, to string, quote func(string) string) string {
	return replaceQualified(expr, func(s, t string) bool { return s == schema && t == table },
		func(string) string { return quote(to) }, true)
}

// Unqualify returns expr with every schema.table (a table or a column qualifier) for
// which hidden says true written as table, quoted by quote: how PostgreSQL prints a
// reference to a table that its search path finds by name. It scans expr once.
func Unqualify(expr string, hidden func(schema, table string) bool, quote func(string) string) string {
	return replaceQualified(expr, hidden, quote, false)
}

// replaceQualified replaces the tokens schema . table, not after a ".", for which match
// says true, by to(table); when columnsOnly, only where a "." follows (a column's
// qualifier).
func replaceQualified(expr string, match func(schema, table string) bool, to func(string) string, columnsOnly bool) string {
	if !strings.Contains(expr, ".") {
		return expr
	}
	scan, err := pg.Scan(expr)
	if err != nil {
		return expr
	}
	toks := scan.Tokens
	name := func(j int) string { return identValue(expr[toks[j].Start:toks[j].End]) }
	dot := func(j int) bool { return j >= 0 && j < len(toks) && toks[j].Token == pg.Token_ASCII_46 }
	var sb strings.Builder
	last := 0
	for i := 0; i+2 < len(toks); i++ {
		if dot(i) || dot(i-1) || !dot(i+1) || dot(i+2) || (columnsOnly && !dot(i+3)) || !match(name(i), name(i+2)) {
			continue
		}
		sb.WriteString(expr[last:toks[i].Start])
		sb.WriteString(to(name(i + 2)))
		last = int(toks[i+2].End)
		i += 2
	}
	if last == 0 {
		return expr
	}
	sb.WriteString(expr[last:])
	return sb.String()
}

// Cache remembers the fragments it has parsed, so that text repeated across a schema
// (the same type, default or condition on every table) is parsed once: a parse costs
// tens of microseconds. The zero value is ready; it is not safe for concurrent use. The
// expressions it returns are shared: callers must not change them.
type Cache struct {
	exprs map[string]cachedExpr
	types map[string]cachedType
}

type cachedExpr struct {
	e   *Expr
	err error
}

type cachedType struct {
	t   string
	err error
}

// Expr is ParseExpr, remembered.
func (c *Cache) Expr(s string) (*Expr, error) {
	if r, ok := c.exprs[s]; ok {
		return r.e, r.err
	}
	if c.exprs == nil {
		c.exprs = map[string]cachedExpr{}
	}
	e, err := ParseExpr(s)
	c.exprs[s] = cachedExpr{e, err}
	return e, err
}

// Type is ParseType, remembered (for one quote function).
func (c *Cache) Type(s string, quote func(string) string) (string, error) {
	if r, ok := c.types[s]; ok {
		return r.t, r.err
	}
	if c.types == nil {
		c.types = map[string]cachedType{}
	}
	t, err := ParseType(s, quote)
	c.types[s] = cachedType{t, err}
	return t, err
}

// Split returns the statements of a SQL script, as PostgreSQL's parser finds them, each
// without its trailing semicolon.
func Split(script string) ([]string, error) {
	stmts, err := pg.SplitWithParser(script, true)
	if err != nil {
		return nil, fmt.Errorf("splitting the script: %w", err)
	}
	return stmts, nil
}
