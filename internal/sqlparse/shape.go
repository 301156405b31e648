package sqlparse

import (
	"encoding/json"
	"slices"
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
func (e *Expr) Conjuncts() []*Expr { return e.operandsOf(pg.BoolExprType_AND_EXPR) }

// Disjuncts returns the operands of the expression's top-level OR, as Conjuncts does
// for AND.
func (e *Expr) Disjuncts() []*Expr { return e.operandsOf(pg.BoolExprType_OR_EXPR) }

func (e *Expr) operandsOf(op pg.BoolExprType) []*Expr {
	var out []*Expr
	var add func(n *pg.Node)
	add = func(n *pg.Node) {
		if be := n.GetBoolExpr(); be != nil && be.Boolop == op {
			for _, a := range be.Args {
				add(a)
			}
			return
		}
		out = append(out, &Expr{node: n})
	}
	add(e.node)
	if len(out) == 1 {
		return []*Expr{e} // the expression itself: no need to print it again
	}
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
// the call cast or not. A cast column (user_id::text) is none: the rule would compare
// the column itself.
type IdentityTest struct {
	Column string
	Call   string // the call as PostgreSQL prints it, with its casts
	// PerStatement says the call sits in a scalar subquery, evaluated once per
	// statement; otherwise PostgreSQL calls it for every row.
	PerStatement bool
}

// IdentityTest returns the expression as an IdentityTest, or false. A comparison inside
// a scalar subquery, (SELECT auth.user_id() = user_id), is one too: PostgreSQL runs it
// for every row.
func (e *Expr) IdentityTest() (IdentityTest, bool) {
	if e.identity == nil { // remembered: a cached expression is asked again and again
		it, ok := e.identityTest()
		e.identity = &identityMemo{it, ok}
	}
	return e.identity.test, e.identity.ok
}

type identityMemo struct {
	test IdentityTest
	ok   bool
}

func (e *Expr) identityTest() (IdentityTest, bool) {
	if v, ok := scalarSubquery(e.node); ok {
		it, ok := (&Expr{node: v}).IdentityTest()
		it.PerStatement = false
		return it, ok
	}
	l, r, ok := operands(e.node, "=")
	if !ok {
		return IdentityTest{}, false
	}
	for _, side := range [][2]*pg.Node{{l, r}, {r, l}} {
		col, ok := columnName(side[0])
		if !ok {
			continue
		}
		call, sub := perStatement(side[1])
		if text, ok := callText(call); ok {
			return IdentityTest{Column: col, Call: text, PerStatement: sub}, true
		}
	}
	return IdentityTest{}, false
}

// perStatement returns n without the scalar subquery it may sit in, and whether it
// did: (SELECT f()) is f(), and so is (SELECT f())::t, as f()::t, the cast moved in.
func perStatement(n *pg.Node) (*pg.Node, bool) {
	var casts []*pg.TypeName
	core := n
	for core.GetTypeCast() != nil {
		casts = append(casts, core.GetTypeCast().TypeName)
		core = core.GetTypeCast().Arg
	}
	v, ok := scalarSubquery(core)
	if !ok {
		return n, false
	}
	for i := len(casts) - 1; i >= 0; i-- {
		v = &pg.Node{Node: &pg.Node_TypeCast{TypeCast: &pg.TypeCast{Arg: v, TypeName: casts[i]}}}
	}
	return v, true
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
// #> ARRAY['a', 'b'] for a nested claim and IN ('"a"'::jsonb, ...) for several values;
// or the text forms people write, claims ->> 'key' = 'v' and claims -> 'a' ->> 'b' IN
// ('v', 'w'), whose values are strings.
type ClaimTest struct {
	Claims string   // the claims call, as PostgreSQL prints it
	Path   []string // the claim's keys
	Values []string // the values it may hold, as JSON text
	// PerStatement says the claims call sits in a scalar subquery; otherwise
	// PostgreSQL calls it for every row.
	PerStatement bool
	// Text says the claim is compared as text (->>): a string value, or a number or
	// boolean spelled alike, passes.
	Text bool
}

// ClaimTest returns the expression as a ClaimTest, or false.
func (e *Expr) ClaimTest() (ClaimTest, bool) {
	var get *pg.Node
	var values []*pg.Node
	if l, r, ok := operands(e.node, "="); ok {
		get, values = l, []*pg.Node{r}
		if _, isConst := constText(l); isConst {
			get, values = r, []*pg.Node{l}
		}
	} else if ae := e.node.GetAExpr(); ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_IN && ae.Rexpr.GetList() != nil {
		get, values = ae.Lexpr, ae.Rexpr.GetList().Items
	} else if ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_OP_ANY && ae.Rexpr.GetAArrayExpr() != nil && stringList(ae.Name)[0] == "=" {
		// PostgreSQL stores IN (...) as = ANY (ARRAY[...]).
		get, values = ae.Lexpr, ae.Rexpr.GetAArrayExpr().Elements
	} else {
		return ClaimTest{}, false
	}
	var ct ClaimTest
	if v, ok := scalarSubquery(get); ok { // (SELECT auth.jwt() ->> 'aal')
		get, ct.PerStatement = v, true
	}
	claims, path, text, ok := claimPath(get)
	if !ok {
		return ClaimTest{}, false
	}
	ct.Path, ct.Text = path, text
	for _, v := range values {
		val, ok := constText(v)
		if !ok {
			return ClaimTest{}, false
		}
		if text {
			js, _ := json.Marshal(val)
			val = string(js)
		} else if tc := v.GetTypeCast(); tc == nil || strings.Join(stringList(tc.TypeName.Names), ".") != "jsonb" || !json.Valid([]byte(val)) {
			return ClaimTest{}, false
		}
		ct.Values = append(ct.Values, val)
	}
	if v, ok := scalarSubquery(claims); ok {
		claims, ct.PerStatement = v, true
	}
	if ct.Claims, ok = callText(claims); !ok {
		return ClaimTest{}, false
	}
	return ct, true
}

// claimPath reads "claims -> 'a' -> 'b'", "claims #> ARRAY['a', 'b']" or either ending
// in ->> (text): the claims expression, the keys, and whether the value is text.
func claimPath(n *pg.Node) (claims *pg.Node, path []string, text bool, ok bool) {
	for n.GetTypeCast() != nil { // (claims ->> 'role')::text
		n = n.GetTypeCast().Arg
	}
	for _, op := range []string{"->>", "->", "#>", "#>>"} {
		l, r, found := operands(n, op)
		if !found {
			continue
		}
		var keys []string
		if op == "#>" || op == "#>>" {
			for r.GetTypeCast() != nil {
				r = r.GetTypeCast().Arg
			}
			arr := r.GetAArrayExpr()
			if arr == nil || len(arr.Elements) == 0 {
				return nil, nil, false, false
			}
			for _, el := range arr.Elements {
				key, ok := constText(el)
				if !ok {
					return nil, nil, false, false
				}
				keys = append(keys, key)
			}
		} else {
			key, ok := constText(r)
			if !ok {
				return nil, nil, false, false
			}
			keys = []string{key}
		}
		// The left side is the claims, or a path into them with ->.
		if inner, prefix, innerText, ok := claimPath(l); ok && !innerText {
			return inner, append(prefix, keys...), op == "->>" || op == "#>>", true
		}
		return l, keys, op == "->>" || op == "#>>", true
	}
	return nil, nil, false, false
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
	if ae == nil || len(ae.Name) != 1 || stringList(ae.Name)[0] != "=" {
		return Equality{}, false
	}
	var items []*pg.Node
	switch {
	case ae.Kind == pg.A_Expr_Kind_AEXPR_IN && ae.Rexpr.GetList() != nil:
		items = ae.Rexpr.GetList().Items
	case ae.Kind == pg.A_Expr_Kind_AEXPR_OP_ANY && ae.Rexpr.GetAArrayExpr() != nil:
		items = ae.Rexpr.GetAArrayExpr().Elements // PostgreSQL stores IN (...) so
	default:
		return Equality{}, false
	}
	col, ok := columnName(ae.Lexpr)
	if !ok {
		return Equality{}, false
	}
	eq := Equality{Column: col}
	for _, v := range items {
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

// SetMembership is a test of the row against the rows of another table, as people
// write membership: column IN (SELECT group FROM table WHERE ...), or EXISTS (SELECT 1
// FROM table m WHERE m.group = row.column AND ...), where row qualifies the column by
// the policy's table.
type SetMembership struct {
	Column        string // the row's column
	Schema, Table string // the table read ("" schema when unqualified)
	Group         string // its column compared with Column
	Where         []*Expr
	// Form is "in", "exists", or "in-users" for IDENTITY IN (SELECT user FROM table
	// WHERE table.group = row.column ...), where User is the column read and Identity
	// the expression tested.
	Form           string
	User, Identity string
}

// SetMembership returns the expression as a SetMembership, or false; table is the
// name of the policy's table, by which an EXISTS subquery names the row's columns.
func (e *Expr) SetMembership(table string) (SetMembership, bool) {
	sl := e.node.GetSubLink()
	if sl == nil {
		return SetMembership{}, false
	}
	sel := sl.Subselect.GetSelectStmt()
	sm, alias, where, ok := oneTableQuery(sel)
	if !ok {
		return SetMembership{}, false
	}
	switch sl.SubLinkType {
	case pg.SubLinkType_ANY_SUBLINK:
		if op := stringList(sl.OperName); len(op) > 0 && op[0] != "=" {
			return SetMembership{}, false
		}
		col, ok := columnName(sl.Testexpr)
		rt := sel.TargetList[0].GetResTarget()
		if rt == nil {
			return SetMembership{}, false
		}
		if !ok {
			// IDENTITY IN (SELECT user FROM table WHERE table.group = row.column ...)
			id := sl.Testexpr
			if v, ok := scalarSubquery(id); ok {
				id = v
			}
			text, isCall := callText(id)
			user, okUser := innerColumn(rt.Val, alias)
			if !isCall || !okUser {
				return SetMembership{}, false
			}
			sm.Identity, sm.User = text, user
			if !sm.correlate(where, alias, table) {
				return SetMembership{}, false
			}
			sm.Form = "in-users"
			return sm, true
		}
		group, ok := innerColumn(rt.Val, alias)
		if !ok {
			return SetMembership{}, false
		}
		sm.Column, sm.Group, sm.Form, sm.Where = col, group, "in", where
	case pg.SubLinkType_EXISTS_SUBLINK:
		if !sm.correlate(where, alias, table) {
			return SetMembership{}, false
		}
		sm.Form = "exists"
	default:
		return SetMembership{}, false
	}
	return sm, true
}

// correlate finds, among where, the condition that ties the subquery's table (named
// alias in it) to the row of table, alias.group = table.column, and sets Column and
// Group from it, and Where to the other conditions.
func (sm *SetMembership) correlate(where []*Expr, alias, table string) bool {
	if alias == table {
		return false // the row's columns and the subquery's would have one name
	}
	for i, w := range where {
		l, r, ok := operands(w.node, "=")
		if !ok {
			continue
		}
		for _, side := range [][2]*pg.Node{{l, r}, {r, l}} {
			inner, ok1 := innerColumn(side[0], alias)
			outer, ok2 := qualifiedBy(side[1], table)
			if ok1 && ok2 {
				sm.Column, sm.Group = outer, inner
				sm.Where = append(slices.Clone(where[:i]), where[i+1:]...)
				return true
			}
		}
	}
	return false
}

// innerColumn returns the column n names, unqualified or qualified by alias.
func innerColumn(n *pg.Node, alias string) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil || isStar(cr) {
		return "", false
	}
	names := stringList(cr.Fields)
	switch {
	case len(names) == 1 && len(cr.Fields) == 1:
		return names[0], true
	case len(names) == 2 && len(cr.Fields) == 2 && names[0] == alias:
		return names[1], true
	}
	return "", false
}

// qualifiedBy returns the column n names, qualified by table.
func qualifiedBy(n *pg.Node, table string) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil || isStar(cr) {
		return "", false
	}
	names := stringList(cr.Fields)
	if len(names) == 2 && len(cr.Fields) == 2 && names[0] == table {
		return names[1], true
	}
	return "", false
}

// oneTableQuery reads "SELECT target FROM table [alias] WHERE conditions": the table
// (in sm), the name its columns are qualified by, and the WHERE clause's conjuncts.
func oneTableQuery(sel *pg.SelectStmt) (sm SetMembership, alias string, where []*Expr, ok bool) {
	if sel == nil || len(sel.FromClause) != 1 || len(sel.GroupClause) > 0 || sel.HavingClause != nil ||
		sel.LimitCount != nil || len(sel.WithClause.GetCtes()) > 0 || len(sel.TargetList) != 1 || sel.Op != pg.SetOperation_SETOP_NONE {
		return sm, "", nil, false
	}
	rv := sel.FromClause[0].GetRangeVar()
	if rv == nil {
		return sm, "", nil, false
	}
	alias = rv.Relname
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	if sel.WhereClause != nil {
		where = (&Expr{node: sel.WhereClause}).Conjuncts()
	}
	return SetMembership{Schema: rv.Schemaname, Table: rv.Relname}, alias, where, true
}

// SetFunction is "column IN (SELECT f())": the row's column is one of the values a
// function without arguments returns.
type SetFunction struct {
	Column           string
	Schema, Function string // Schema "" when the call is unqualified
}

// SetFunction returns the expression as a SetFunction, or false.
func (e *Expr) SetFunction() (SetFunction, bool) {
	var col, call *pg.Node
	if sl := e.node.GetSubLink(); sl != nil && sl.SubLinkType == pg.SubLinkType_ANY_SUBLINK {
		sel := sl.Subselect.GetSelectStmt()
		if op := stringList(sl.OperName); (len(op) > 0 && op[0] != "=") || sel == nil || len(sel.FromClause) > 0 ||
			sel.WhereClause != nil || len(sel.TargetList) != 1 || sel.TargetList[0].GetResTarget() == nil {
			return SetFunction{}, false
		}
		col, call = sl.Testexpr, sel.TargetList[0].GetResTarget().Val
	} else {
		return SetFunction{}, false
	}
	column, ok := columnName(col)
	fc := call.GetFuncCall()
	if !ok || fc == nil || len(fc.Args) > 0 {
		return SetFunction{}, false
	}
	sf := SetFunction{Column: column}
	switch name := stringList(fc.Funcname); len(name) {
	case 1:
		sf.Function = name[0]
	case 2:
		sf.Schema, sf.Function = name[0], name[1]
	default:
		return SetFunction{}, false
	}
	return sf, true
}

// QuerySet reads a SQL function's body that is one query over one table, "SELECT
// column FROM table WHERE conditions" (a trailing semicolon allowed): the table, the
// column (in Group) and the WHERE clause's conjuncts, as SetMembership's "in" form.
func QuerySet(body string) (SetMembership, bool) {
	tree, err := parse(body, 0)
	if err != nil || len(tree.Stmts) != 1 {
		return SetMembership{}, false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	sm, alias, where, ok := oneTableQuery(sel)
	if !ok {
		return SetMembership{}, false
	}
	rt := sel.TargetList[0].GetResTarget()
	group, ok := innerColumn(rt.Val, alias)
	if !ok {
		return SetMembership{}, false
	}
	sm.Group, sm.Where, sm.Form = group, where, "in"
	return sm, true
}
