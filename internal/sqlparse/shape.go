package sqlparse

import (
	"encoding/json"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// This file reads the shapes of conditions that mean one of schema.yaml's rules, from
// the parse tree of a policy as PostgreSQL prints it or as a person wrote it: pull turns
// a database's policies back into rules with them.

// Deparse returns PostgreSQL's own text for the expression: what the parse tree says,
// whatever the spelling it came from.
func (e *Expr) Deparse() string { return deparse(e.node) }

// parserVersion is the version of the parse trees the parser writes, which its
// deparser requires of the trees it is given.
var parserVersion = sync.OnceValue(func() int32 {
	tree, _ := pg.Parse("SELECT")
	return tree.GetVersion()
})

// deparse returns the text of one expression node.
func deparse(n *pg.Node) string {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: n}}}},
		LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg.SetOperation_SETOP_NONE}
	out, err := pg.Deparse(&pg.ParseResult{Version: parserVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(out, exprPrefix)
}

// Conjuncts returns the operands of the expression's top-level AND, left to right
// (nested ANDs flattened); the expression alone when it is no AND.
func (e *Expr) Conjuncts() []*Expr {
	var out []*Expr
	var add func(n *pg.Node)
	add = func(n *pg.Node) {
		if be := n.GetBoolExpr(); be != nil && be.Boolop == pg.BoolExprType_AND_EXPR {
			for _, a := range be.Args {
				add(a)
			}
			return
		}
		out = append(out, &Expr{node: n})
	}
	add(e.node)
	for _, c := range out {
		c.Text = deparse(c.node)
	}
	return out
}

// AndText returns the text of the conjunction of es, in order; "" for none.
func AndText(es []*Expr) string {
	switch len(es) {
	case 0:
		return ""
	case 1:
		return es[0].Text
	}
	args := make([]*pg.Node, len(es))
	for i, e := range es {
		args[i] = e.node
	}
	return deparse(&pg.Node{Node: &pg.Node_BoolExpr{BoolExpr: &pg.BoolExpr{Boolop: pg.BoolExprType_AND_EXPR, Args: args}}})
}

// scalarSubquery returns the expression a scalar subquery "(SELECT x)" selects, without
// its alias, and whether n is one.
func scalarSubquery(n *pg.Node) (*pg.Node, bool) {
	sl := n.GetSubLink()
	if sl == nil || sl.SubLinkType != pg.SubLinkType_EXPR_SUBLINK {
		return nil, false
	}
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 || extraClauses(sel) {
		return nil, false
	}
	rt := sel.TargetList[0].GetResTarget()
	if rt == nil || rt.Val == nil {
		return nil, false
	}
	return rt.Val, true
}

// callText returns the text of a call without arguments, through casts of it
// ("auth.uid()", "(auth.user_id())::uuid" as PostgreSQL prints it), or false.
func callText(n *pg.Node) (string, bool) {
	inner := n
	for inner.GetTypeCast() != nil {
		inner = inner.GetTypeCast().Arg
	}
	if fc := inner.GetFuncCall(); fc == nil || len(fc.Args) > 0 || fc.AggStar || fc.Over != nil {
		return "", false
	}
	return deparse(n), true
}

// operands returns the two sides of a binary operator expression named op.
func operands(n *pg.Node, op string) (l, r *pg.Node, ok bool) {
	ae := n.GetAExpr()
	if ae == nil || ae.Kind != pg.A_Expr_Kind_AEXPR_OP || len(ae.Name) != 1 || ae.Lexpr == nil {
		return nil, nil, false
	}
	if s := ae.Name[0].GetString_(); s == nil || s.Sval != op {
		return nil, nil, false
	}
	return ae.Lexpr, ae.Rexpr, true
}

// IdentityTest is a comparison of a column of the row with a call that takes no
// arguments, the caller's identity: column = (SELECT auth.uid()), auth.uid() = column,
// through casts on either side.
type IdentityTest struct {
	Column string
	Call   string // the call as PostgreSQL prints it, with its casts
	// PerStatement says the call sits in a scalar subquery, evaluated once per
	// statement; otherwise PostgreSQL calls it for every row.
	PerStatement bool
}

// IdentityTest returns the expression as an IdentityTest, or false.
func (e *Expr) IdentityTest() (IdentityTest, bool) {
	l, r, ok := operands(e.node, "=")
	if !ok {
		return IdentityTest{}, false
	}
	for _, side := range [][2]*pg.Node{{l, r}, {r, l}} {
		col, ok := castColumn(side[0])
		if !ok {
			continue
		}
		call, sub := side[1], false
		if v, ok := scalarSubquery(call); ok {
			call, sub = v, true
		}
		if text, ok := callText(call); ok {
			return IdentityTest{Column: col, Call: text, PerStatement: sub}, true
		}
	}
	return IdentityTest{}, false
}

// castColumn returns the column a reference names, through casts of it (user_id::text).
func castColumn(n *pg.Node) (string, bool) {
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().Arg
	}
	return columnName(n)
}

// NotNullCall returns the call that "(SELECT f()) IS NOT NULL" or "f() IS NOT NULL"
// tests, as PostgreSQL prints it.
func (e *Expr) NotNullCall() (string, bool) {
	nt := e.node.GetNullTest()
	if nt == nil || nt.Nulltesttype != pg.NullTestType_IS_NOT_NULL {
		return "", false
	}
	n := nt.Arg
	if v, ok := scalarSubquery(n); ok {
		n = v
	}
	return callText(n)
}

// ArrayMember is "column = ANY ((SELECT schema.function())::type[])": the column is one
// of the ids the function returns, read once per statement; or the slower
// "column = ANY (schema.function())", which calls it for every row.
type ArrayMember struct {
	Column, Schema, Function string
	PerStatement             bool // the call sits in a scalar subquery
}

// ArrayMember returns the expression as an ArrayMember, or false.
func (e *Expr) ArrayMember() (ArrayMember, bool) {
	ae := e.node.GetAExpr()
	if ae == nil || ae.Kind != pg.A_Expr_Kind_AEXPR_OP_ANY || len(ae.Name) != 1 {
		return ArrayMember{}, false
	}
	if s := ae.Name[0].GetString_(); s == nil || s.Sval != "=" {
		return ArrayMember{}, false
	}
	col, ok := columnName(ae.Lexpr)
	if !ok {
		return ArrayMember{}, false
	}
	am := ArrayMember{Column: col}
	call := ae.Rexpr
	for call.GetTypeCast() != nil {
		call = call.GetTypeCast().Arg
	}
	if v, ok := scalarSubquery(call); ok {
		call, am.PerStatement = v, true
	}
	fc := call.GetFuncCall()
	if fc == nil || len(fc.Args) > 0 {
		return ArrayMember{}, false
	}
	name := stringList(fc.Funcname)
	if len(name) != 2 {
		return ArrayMember{}, false
	}
	am.Schema, am.Function = name[0], name[1]
	return am, true
}

// ClaimTest is a test of one JWT claim: ((SELECT claims) -> 'key') = '"v"'::jsonb, with
// #> ARRAY['a', 'b'] for a nested claim and IN ('"a"'::jsonb, ...) for several values.
type ClaimTest struct {
	Claims string   // the claims call, as PostgreSQL prints it
	Path   []string // the claim's keys
	Values []string // the values it may hold, as JSON text
}

// ClaimTest returns the expression as a ClaimTest, or false.
func (e *Expr) ClaimTest() (ClaimTest, bool) {
	var get *pg.Node
	var values []*pg.Node
	if l, r, ok := operands(e.node, "="); ok {
		get, values = l, []*pg.Node{r}
	} else if ae := e.node.GetAExpr(); ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_IN && ae.Rexpr.GetList() != nil {
		get, values = ae.Lexpr, ae.Rexpr.GetList().Items
	} else if ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_OP_ANY && ae.Rexpr.GetAArrayExpr() != nil && stringList(ae.Name)[0] == "=" {
		// PostgreSQL stores IN (...) as = ANY (ARRAY[...]).
		get, values = ae.Lexpr, ae.Rexpr.GetAArrayExpr().Elements
	} else {
		return ClaimTest{}, false
	}
	var ct ClaimTest
	for _, v := range values {
		tc := v.GetTypeCast()
		if tc == nil || strings.Join(stringList(tc.TypeName.Names), ".") != "jsonb" {
			return ClaimTest{}, false
		}
		text, ok := constText(v)
		if !ok || !json.Valid([]byte(text)) {
			return ClaimTest{}, false
		}
		ct.Values = append(ct.Values, text)
	}
	var path *pg.Node
	var ok bool
	var claims *pg.Node
	if claims, path, ok = operands(get, "->"); ok {
		key, ok := constText(path)
		if !ok {
			return ClaimTest{}, false
		}
		ct.Path = []string{key}
	} else if claims, path, ok = operands(get, "#>"); ok {
		for path.GetTypeCast() != nil {
			path = path.GetTypeCast().Arg
		}
		arr := path.GetAArrayExpr()
		if arr == nil || len(arr.Elements) == 0 {
			return ClaimTest{}, false
		}
		for _, el := range arr.Elements {
			key, ok := constText(el)
			if !ok {
				return ClaimTest{}, false
			}
			ct.Path = append(ct.Path, key)
		}
	} else {
		return ClaimTest{}, false
	}
	v, ok := scalarSubquery(claims)
	if !ok {
		return ClaimTest{}, false
	}
	if ct.Claims, ok = callText(v); !ok {
		return ClaimTest{}, false
	}
	return ct, true
}

// Equality is "column = constant" or "column IN (constants)": a filter on one column.
type Equality struct {
	Column string
	Values []string
}

// Equality returns the expression as an Equality, or false.
func (e *Expr) Equality() (Equality, bool) {
	if cmp, ok := e.Comparison(); ok && cmp.Equal && e.node.GetAExpr() != nil {
		return Equality{Column: cmp.Column, Values: []string{cmp.Value}}, true
	}
	ae := e.node.GetAExpr()
	if ae == nil || ae.Kind != pg.A_Expr_Kind_AEXPR_IN || ae.Rexpr.GetList() == nil {
		return Equality{}, false
	}
	if s := ae.Name[0].GetString_(); s == nil || s.Sval != "=" {
		return Equality{}, false
	}
	col, ok := columnName(ae.Lexpr)
	if !ok {
		return Equality{}, false
	}
	eq := Equality{Column: col}
	for _, v := range ae.Rexpr.GetList().Items {
		text, ok := constText(v)
		if !ok {
			return Equality{}, false
		}
		eq.Values = append(eq.Values, text)
	}
	return eq, true
}

// ColumnSet is "ARRAY(SELECT column FROM schema.table WHERE conditions)": the values of
// one column of the rows of a table that pass every condition.
type ColumnSet struct {
	Column, Schema, Table string
	Where                 []*Expr // the WHERE clause's conjuncts
}

// ColumnSet returns the expression as a ColumnSet, or false.
func (e *Expr) ColumnSet() (ColumnSet, bool) {
	sl := e.node.GetSubLink()
	if sl == nil || sl.SubLinkType != pg.SubLinkType_ARRAY_SUBLINK {
		return ColumnSet{}, false
	}
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 || len(sel.FromClause) != 1 || len(sel.GroupClause) > 0 ||
		sel.HavingClause != nil || sel.LimitCount != nil || len(sel.SortClause) > 0 || len(sel.WithClause.GetCtes()) > 0 {
		return ColumnSet{}, false
	}
	rt := sel.TargetList[0].GetResTarget()
	rv := sel.FromClause[0].GetRangeVar()
	if rt == nil || rv == nil || rv.Alias != nil {
		return ColumnSet{}, false
	}
	col, ok := columnName(rt.Val)
	if !ok {
		return ColumnSet{}, false
	}
	cs := ColumnSet{Column: col, Schema: rv.Schemaname, Table: rv.Relname}
	if sel.WhereClause != nil {
		cs.Where = (&Expr{node: sel.WhereClause}).Conjuncts()
	}
	return cs, true
}

// PLpgSQLReturn returns the expression of a PL/pgSQL function whose body is one RETURN
// statement (BEGIN RETURN x; END), given its whole CREATE FUNCTION statement.
func PLpgSQLReturn(create string) (*Expr, bool) {
	js, err := pg.ParsePlPgSqlToJSON(create)
	if err != nil {
		return nil, false
	}
	var tree []struct {
		Function struct {
			Action struct {
				Block struct {
					Body []map[string]struct {
						Expr struct {
							Expr struct {
								Query string `json:"query"`
							} `json:"PLpgSQL_expr"`
						} `json:"expr"`
					} `json:"body"`
				} `json:"PLpgSQL_stmt_block"`
			} `json:"action"`
		} `json:"PLpgSQL_function"`
	}
	if json.Unmarshal([]byte(js), &tree) != nil || len(tree) != 1 {
		return nil, false
	}
	body := tree[0].Function.Action.Block.Body
	if len(body) != 1 {
		return nil, false
	}
	ret, ok := body[0]["PLpgSQL_stmt_return"]
	if !ok || ret.Expr.Expr.Query == "" {
		return nil, false
	}
	e, err := ParseExpr(ret.Expr.Expr.Query)
	return e, err == nil
}

// FunctionArg is one argument of a function, as pg_get_function_arguments lists them.
type FunctionArg struct {
	Name, Type, Default string
	// Mode is "" for an input argument, else out, inout, variadic or table.
	Mode string
}

// FunctionArgs parses a function's argument list ("p_id bigint, p_limit integer DEFAULT
// 50") with PostgreSQL's parser.
func FunctionArgs(args string) ([]FunctionArg, error) {
	tree, err := parse("CREATE FUNCTION f("+args+") RETURNS void LANGUAGE sql AS ''", 0)
	if err != nil {
		return nil, err
	}
	cf := tree.Stmts[0].Stmt.GetCreateFunctionStmt()
	if cf == nil {
		return nil, &Error{Offset: -1, Msg: "not an argument list"}
	}
	var out []FunctionArg
	for _, n := range cf.Parameters {
		fp := n.GetFunctionParameter()
		a := FunctionArg{Name: fp.Name}
		a.Type = typeText(fp.ArgType)
		if fp.Defexpr != nil {
			a.Default = deparse(fp.Defexpr)
		}
		switch fp.Mode {
		case pg.FunctionParameterMode_FUNC_PARAM_OUT:
			a.Mode = "out"
		case pg.FunctionParameterMode_FUNC_PARAM_INOUT:
			a.Mode = "inout"
		case pg.FunctionParameterMode_FUNC_PARAM_VARIADIC:
			a.Mode = "variadic"
		case pg.FunctionParameterMode_FUNC_PARAM_TABLE:
			a.Mode = "table"
		}
		out = append(out, a)
	}
	return out, nil
}

// CastOf reports whether the expression is call (a call without arguments, such as
// auth.user_id()) under one or more casts.
func (e *Expr) CastOf(call string) bool {
	n := e.node
	if n.GetTypeCast() == nil {
		return false
	}
	for n.GetTypeCast() != nil {
		n = n.GetTypeCast().Arg
	}
	text, ok := callText(n)
	return ok && Equivalent(text, call)
}

// CastParts returns the text of the expression a cast converts and of the type it
// converts it to, when the expression is a cast.
func (e *Expr) CastParts() (arg, typ string, ok bool) {
	tc := e.node.GetTypeCast()
	if tc == nil {
		return "", "", false
	}
	return deparse(tc.Arg), typeText(tc.TypeName), true
}

// typeText returns PostgreSQL's text for a type name: that of a cast to it, after "::".
func typeText(tn *pg.TypeName) string {
	cast := deparse(&pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{
		Arg: &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Isnull: true}}}, TypeName: tn}}})
	_, typ, _ := strings.Cut(cast, "::")
	return typ
}
