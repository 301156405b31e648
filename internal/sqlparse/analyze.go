package sqlparse

import (
	"bytes"
	"math/big"
	"slices"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walk calls fn for every node under n, n included, depth first. When fn returns false,
// the node's children are skipped.
func walk(n *pg.Node, fn func(*pg.Node) bool) {
	if n == nil || n.Node == nil {
		return
	}
	if !fn(n) {
		return
	}
	walkMessage(n.ProtoReflect(), fn)
}

var nodeName = (&pg.Node{}).ProtoReflect().Descriptor().FullName()

// walkMessage visits every Node held in m's fields, at any depth.
func walkMessage(m protoreflect.Message, fn func(*pg.Node) bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(child protoreflect.Message) {
			if child.Descriptor().FullName() == nodeName {
				walk(child.Interface().(*pg.Node), fn)
			} else {
				walkMessage(child, fn)
			}
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message())
			}
		case fd.IsMap():
		default:
			visit(v.Message())
		}
		return true
	})
}

// TableRef is a table an expression names: Schema is "" when the name is unqualified.
type TableRef struct {
	Schema, Name string
	Offset       int // byte offset of its first mention in the expression
}

// Tables returns the tables the expression reads, in order of appearance, each once.
// Names in a WITH clause of a subquery are not tables and are left out.
func (e *Expr) Tables() []TableRef {
	var out []TableRef
	ctes := map[string]bool{}
	walk(e.node, func(n *pg.Node) bool {
		if cte := n.GetCommonTableExpr(); cte != nil {
			ctes[cte.Ctename] = true
		}
		return true
	})
	walk(e.node, func(n *pg.Node) bool {
		if rv := n.GetRangeVar(); rv != nil {
			ref := TableRef{Schema: rv.Schemaname, Name: rv.Relname, Offset: int(rv.Location) - len(exprPrefix)}
			seen := slices.ContainsFunc(out, func(r TableRef) bool { return r.Schema == ref.Schema && r.Name == ref.Name })
			if (ref.Schema != "" || !ctes[ref.Name]) && !seen {
				out = append(out, ref)
			}
		}
		return true
	})
	return out
}

// HasSubquery reports whether the expression holds a subquery (a SubLink): PostgreSQL
// then expands the row-level security of the tables it reads while the policy's own
// table is being expanded, which is where policy recursion comes from.
func (e *Expr) HasSubquery() bool {
	found := false
	walk(e.node, func(n *pg.Node) bool {
		if n.GetSubLink() != nil {
			found = true
		}
		return !found
	})
	return found
}

// Functions returns the names of the functions the expression calls, as written
// (schema-qualified when written so), each once. The list is found once per Expr: a
// Cache hands the same Expr to every table whose policies share a condition.
func (e *Expr) Functions() []string {
	if e.functions == nil {
		f := e.functionCalls()
		e.functions = &f
	}
	return slices.Clip(*e.functions)
}

// functionCalls walks the expression for Functions.
func (e *Expr) functionCalls() []string {
	var out []string
	walk(e.node, func(n *pg.Node) bool {
		if fc := n.GetFuncCall(); fc != nil {
			if name := strings.Join(stringList(fc.Funcname), "."); !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
		return true
	})
	return out
}

func stringList(nodes []*pg.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if s := n.GetString_(); s != nil {
			out = append(out, s.Sval)
		}
	}
	return out
}

// Capture is an unqualified column reference inside a subquery that PostgreSQL binds to
// a table of that subquery, where the author most likely meant the policy's own table:
// "exists (select 1 from memberships m where m.org_id = org_id)" compares m.org_id with
// itself.
type Capture struct {
	Column string   // the column as written
	Table  TableRef // the subquery's table that captures it
	Offset int      // byte offset of the reference in the expression
}

// Captured returns the unqualified column references inside subqueries that a table of
// the same subquery also has, when the policy's table (outer) has a column of that name
// too. columns returns the columns of a table the expression names, or nil when unknown.
func (e *Expr) Captured(outer []string, columns func(TableRef) []string) []Capture {
	var out []Capture
	walk(e.node, func(n *pg.Node) bool {
		sel := n.GetSelectStmt()
		if sel == nil {
			return true
		}
		var from []TableRef
		for _, f := range sel.FromClause {
			walk(f, func(m *pg.Node) bool {
				if m.GetSelectStmt() != nil {
					return false
				}
				if rv := m.GetRangeVar(); rv != nil {
					from = append(from, TableRef{Schema: rv.Schemaname, Name: rv.Relname})
				}
				return true
			})
		}
		// Column references of this query level, not of nested queries.
		check := func(root *pg.Node) {
			walk(root, func(m *pg.Node) bool {
				if m.GetSelectStmt() != nil || m.GetSubLink() != nil {
					return false
				}
				cr := m.GetColumnRef()
				if cr == nil || len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
					return true
				}
				name := cr.Fields[0].GetString_().Sval
				if !slices.Contains(outer, name) {
					return true
				}
				for _, t := range from {
					if slices.Contains(columns(t), name) {
						out = append(out, Capture{Column: name, Table: t, Offset: int(cr.Location) - len(exprPrefix)})
						break
					}
				}
				return true
			})
		}
		check(sel.WhereClause)
		for _, tl := range sel.TargetList {
			check(tl)
		}
		for _, f := range sel.FromClause {
			if j := f.GetJoinExpr(); j != nil {
				check(j.Quals)
			}
		}
		return true
	})
	return out
}

// AlwaysTrue reports whether the expression is true whatever the row and caller: TRUE,
// (true), 'true'::boolean, NOT false, 1 = 1, x OR true, true AND 2 > 1, true IS TRUE,
// 1 IN (1), (SELECT true).
func (e *Expr) AlwaysTrue() bool { return constBool(e.node) == yes }

// ReadsRow reports whether the expression may read a column of the row it is a condition
// on: a column reference of its own level (a column of the table or not: PostgreSQL
// would refuse an unknown one), or, inside a subquery, one qualified with table or
// unqualified and named like one of the table's columns (which a subquery's own table
// may capture; counted as read, so that a condition is judged row-independent only
// when nothing in it can reach the row). A condition that reads no column of its row
// is all-or-nothing: for a given caller it allows every row or none.
func (e *Expr) ReadsRow(table string, columns []string) bool {
	reads := false
	var visit func(n *pg.Node, depth int) bool
	visit = func(n *pg.Node, depth int) bool {
		walk(n, func(m *pg.Node) bool {
			if reads {
				return false
			}
			if sel := m.GetSelectStmt(); sel != nil && m != n {
				visit(m, depth+1)
				return false
			}
			if sl := m.GetSubLink(); sl != nil && m != n {
				visit(sl.Testexpr, depth)
				visit(sl.Subselect, depth+1)
				return false
			}
			cr := m.GetColumnRef()
			if cr == nil {
				return true
			}
			names := stringList(cr.Fields)
			switch {
			case depth == 0:
				reads = true
			case len(names) == 1 && (slices.Contains(columns, names[0]) || names[0] == table):
				reads = true // a column, or the whole row by the table's name
			case len(names) >= 2 && names[len(names)-2] == table:
				reads = true
			case len(names) >= 1 && len(names) < len(cr.Fields) && names[len(names)-1] == table:
				reads = true // table.*
			}
			return !reads
		})
		return reads
	}
	return visit(e.node, 0)
}

type tristate int

const (
	unknown tristate = iota
	yes
	no
)

// constBool folds n to a constant truth value where it is one whatever the row.
func constBool(n *pg.Node) tristate {
	switch {
	case n == nil:
		return unknown
	case n.GetAConst() != nil:
		if b, ok := n.GetAConst().Val.(*pg.A_Const_Boolval); ok {
			return truth(b.Boolval.Boolval)
		}
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if !isBoolType(tc.TypeName) {
			return unknown
		}
		if v := constBool(tc.Arg); v != unknown {
			return v
		}
		if c := tc.Arg.GetAConst(); c != nil {
			if s, ok := c.Val.(*pg.A_Const_Sval); ok {
				return boolText(s.Sval.Sval)
			}
		}
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		switch be.Boolop {
		case pg.BoolExprType_NOT_EXPR:
			switch constBool(be.Args[0]) {
			case yes:
				return no
			case no:
				return yes
			}
		case pg.BoolExprType_OR_EXPR:
			return fold(be.Args, yes)
		case pg.BoolExprType_AND_EXPR:
			return fold(be.Args, no)
		}
	case n.GetAExpr() != nil:
		return constCompare(n.GetAExpr())
	case n.GetBooleanTest() != nil:
		bt := n.GetBooleanTest()
		v := constBool(bt.Arg)
		if v == unknown {
			return unknown
		}
		switch bt.Booltesttype {
		case pg.BoolTestType_IS_TRUE, pg.BoolTestType_IS_NOT_FALSE:
			return v
		case pg.BoolTestType_IS_FALSE, pg.BoolTestType_IS_NOT_TRUE:
			return truth(v == no)
		case pg.BoolTestType_IS_UNKNOWN:
			return no
		case pg.BoolTestType_IS_NOT_UNKNOWN:
			return yes
		}
	case n.GetSubLink() != nil:
		// (SELECT <constant>), with nothing else in the query.
		sl := n.GetSubLink()
		sel := sl.Subselect.GetSelectStmt()
		if sl.SubLinkType == pg.SubLinkType_EXPR_SUBLINK && sel != nil && len(sel.TargetList) == 1 && len(sel.FromClause) == 0 &&
			sel.WhereClause == nil && sel.HavingClause == nil && sel.LimitCount == nil && sel.Op == pg.SetOperation_SETOP_NONE {
			if rt := sel.TargetList[0].GetResTarget(); rt != nil {
				return constBool(rt.Val)
			}
		}
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		if c := nt.Arg.GetAConst(); c != nil {
			isNull := c.Isnull
			if nt.Nulltesttype == pg.NullTestType_IS_NULL {
				return truth(isNull)
			}
			return truth(!isNull)
		}
	}
	return unknown
}

// fold evaluates an OR (absorbing is yes: one true term makes it true) or an AND
// (absorbing is no) of args.
func fold(args []*pg.Node, absorbing tristate) tristate {
	all := no // all terms false: an OR is false
	if absorbing == no {
		all = yes // all terms true: an AND is true
	}
	for _, a := range args {
		switch constBool(a) {
		case absorbing:
			return absorbing
		case unknown:
			all = unknown
		}
	}
	return all
}

func truth(b bool) tristate {
	if b {
		return yes
	}
	return no
}

// boolText reads the string forms PostgreSQL accepts for a boolean.
func boolText(s string) tristate {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "t", "tr", "tru", "true", "y", "ye", "yes", "on", "1":
		return yes
	case "f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0":
		return no
	}
	return unknown
}

func isBoolType(tn *pg.TypeName) bool {
	names := stringList(tn.Names)
	return len(names) > 0 && (names[len(names)-1] == "bool" || names[len(names)-1] == "boolean")
}

// constCompare folds a comparison of two numeric or two string constants, and a
// constant IN a list of constants.
func constCompare(a *pg.A_Expr) tristate {
	if a.Kind == pg.A_Expr_Kind_AEXPR_IN && len(a.Name) == 1 && a.Name[0].GetString_() != nil && a.Rexpr.GetList() != nil {
		in := no
		for _, item := range a.Rexpr.GetList().Items {
			cmp, ok := compareConsts(a.Lexpr, item)
			if !ok {
				return unknown
			}
			if cmp == 0 {
				in = yes
			}
		}
		if a.Name[0].GetString_().Sval == "<>" {
			return truth(in == no)
		}
		return in
	}
	if a.Kind != pg.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 || a.Name[0].GetString_() == nil {
		return unknown
	}
	op := a.Name[0].GetString_().Sval
	cmp, ok := compareConsts(a.Lexpr, a.Rexpr)
	if !ok {
		return unknown
	}
	switch op {
	case "=":
		return truth(cmp == 0)
	case "<>", "!=":
		return truth(cmp != 0)
	case "<":
		return truth(cmp < 0)
	case "<=":
		return truth(cmp <= 0)
	case ">":
		return truth(cmp > 0)
	case ">=":
		return truth(cmp >= 0)
	}
	return unknown
}

func compareConsts(l, r *pg.Node) (int, bool) {
	lc, rc := l.GetAConst(), r.GetAConst()
	if lc == nil || rc == nil || lc.Isnull || rc.Isnull {
		return 0, false
	}
	if ln, ok := number(lc); ok {
		if rn, ok := number(rc); ok {
			return ln.Cmp(rn), true
		}
		return 0, false
	}
	ls, lok := lc.Val.(*pg.A_Const_Sval)
	rs, rok := rc.Val.(*pg.A_Const_Sval)
	if lok && rok {
		return strings.Compare(ls.Sval.Sval, rs.Sval.Sval), true
	}
	if lb, ok := lc.Val.(*pg.A_Const_Boolval); ok {
		if rb, ok := rc.Val.(*pg.A_Const_Boolval); ok && lb.Boolval.Boolval == rb.Boolval.Boolval {
			return 0, true
		}
	}
	return 0, false
}

func number(c *pg.A_Const) (*big.Rat, bool) {
	switch v := c.Val.(type) {
	case *pg.A_Const_Ival:
		return new(big.Rat).SetInt64(int64(v.Ival.Ival)), true
	case *pg.A_Const_Fval:
		return new(big.Rat).SetString(v.Fval.Fval)
	}
	return nil, false
}

// Equivalent reports whether two expressions mean the same once spelling is set aside:
// quoting, keyword case, white space, redundant parentheses, the order of the two sides
// of "=" and "<>", and the order of the terms of AND and OR. Two texts that do not parse
// are equivalent only when equal.
func Equivalent(a, b string) bool {
	if a == b {
		return true
	}
	ca, err := canonical(a)
	if err != nil {
		return false
	}
	cb, err := canonical(b)
	return err == nil && bytes.Equal(ca, cb)
}

// EquivalentDefault reports whether two defaults of a column of type typ mean the same:
// Equivalent, once a cast of a constant to typ itself is set aside on either side
// ('x' and 'x'::text for a text column, as PostgreSQL prints the first).
func EquivalentDefault(a, b, typ string) bool {
	if Equivalent(a, b) {
		return true
	}
	ca, err := canonicalOf(a, func(e *Expr) *pg.Node { return constantOf(e, typ) })
	if err != nil {
		return false
	}
	cb, err := canonicalOf(b, func(e *Expr) *pg.Node { return constantOf(e, typ) })
	return err == nil && bytes.Equal(ca, cb)
}

// constantOf returns the constant that e casts to typ, or e itself.
func constantOf(e *Expr, typ string) *pg.Node {
	tc := e.node.GetTypeCast()
	if tc == nil || tc.Arg.GetAConst() == nil {
		return e.node
	}
	if t, ok := e.CastType(); !ok || t != typ {
		return e.node
	}
	return tc.Arg
}

// canonical returns the parse tree of expr, without positions and with commutative
// operands sorted, serialised.
func canonical(expr string) ([]byte, error) {
	return canonicalOf(expr, func(e *Expr) *pg.Node { return e.node })
}

// canonicalOf is canonical of the node pick chooses in expr's tree.
func canonicalOf(expr string, pick func(*Expr) *pg.Node) ([]byte, error) {
	e, err := ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	root := pick(e)
	clearLocations(root.ProtoReflect())
	var ops []*pg.Node
	walk(root, func(n *pg.Node) bool {
		if n.GetAExpr() != nil || n.GetBoolExpr() != nil {
			ops = append(ops, n)
		}
		return true
	})
	// Children come after their parents in ops: sort them first.
	for i := len(ops) - 1; i >= 0; i-- {
		if ae := ops[i].GetAExpr(); ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_OP && len(ae.Name) == 1 {
			if op := ae.Name[0].GetString_(); op != nil && (op.Sval == "=" || op.Sval == "<>" || op.Sval == "!=") {
				if bytes.Compare(marshal(ae.Lexpr), marshal(ae.Rexpr)) > 0 {
					ae.Lexpr, ae.Rexpr = ae.Rexpr, ae.Lexpr
				}
			}
		}
		if be := ops[i].GetBoolExpr(); be != nil && be.Boolop != pg.BoolExprType_NOT_EXPR {
			slices.SortStableFunc(be.Args, func(x, y *pg.Node) int { return bytes.Compare(marshal(x), marshal(y)) })
		}
	}
	return marshal(root), nil
}

func marshal(n *pg.Node) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(n)
	return b
}

// clearLocations zeroes every position in m, so that trees compare by content.
func clearLocations(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "location":
			m.Clear(fd)
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				clearLocations(v.List().Get(i).Message())
			}
		case !fd.IsMap():
			clearLocations(v.Message())
		}
		return true
	})
}

// AlwaysTrueText reports whether expr parses and is always true (see Expr.AlwaysTrue).
func AlwaysTrueText(expr string) bool {
	e, err := ParseExpr(expr)
	return err == nil && e.AlwaysTrue()
}

// ColumnRef is a column reference of an expression's own query level: not inside a
// subquery, where names belong to the subquery's tables.
type ColumnRef struct {
	Table  string // the qualifier as written, or ""
	Column string
	Offset int // byte offset in the expression
}

// ColumnRefs returns the column references outside subqueries, in order.
func (e *Expr) ColumnRefs() []ColumnRef {
	var out []ColumnRef
	walk(e.node, func(n *pg.Node) bool {
		if n.GetSubLink() != nil || n.GetSelectStmt() != nil {
			return false
		}
		cr := n.GetColumnRef()
		if cr == nil || isStar(cr) {
			return true
		}
		names := stringList(cr.Fields)
		if len(names) == 0 || len(names) != len(cr.Fields) {
			return true
		}
		ref := ColumnRef{Column: names[len(names)-1], Offset: int(cr.Location) - len(exprPrefix)}
		if len(names) > 1 {
			ref.Table = names[len(names)-2]
		}
		out = append(out, ref)
		return true
	})
	return out
}

// CallsOutsideSubquery reports whether the expression calls the function named fn (as
// written: "auth.user_id") outside any subquery, where PostgreSQL evaluates the call
// once per row rather than once per statement.
func (e *Expr) CallsOutsideSubquery(fn string) bool {
	found := false
	walk(e.node, func(n *pg.Node) bool {
		if n.GetSubLink() != nil || found {
			return false
		}
		if fc := n.GetFuncCall(); fc != nil && strings.Join(stringList(fc.Funcname), ".") == fn {
			found = true
		}
		return !found
	})
	return found
}

// Call returns the name of the function the expression calls, as written
// ("auth.user_id"), when the whole expression is one call without arguments.
func (e *Expr) Call() (string, bool) {
	fc := e.node.GetFuncCall()
	if fc == nil || len(fc.Args) > 0 || fc.AggStar || fc.Over != nil {
		return "", false
	}
	return strings.Join(stringList(fc.Funcname), "."), true
}

// Comparison is a condition on one column of the row that can be judged from the row's
// values alone: the column is true (col), false (NOT col), equal to a constant
// (col = 'x', 'x' = col) or not equal to it (<>, !=).
type Comparison struct {
	Column string
	Value  string // the constant as text: "true" for a bare boolean column
	Equal  bool   // false for <>, and for NOT col (Value "true")
}

// Comparison returns the expression as a Comparison, or false when it is anything else.
func (e *Expr) Comparison() (Comparison, bool) {
	n := e.node
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg.BoolExprType_NOT_EXPR && len(be.Args) == 1 {
		if col, ok := columnName(be.Args[0]); ok {
			return Comparison{Column: col, Value: "true", Equal: false}, true
		}
		return Comparison{}, false
	}
	if col, ok := columnName(n); ok {
		return Comparison{Column: col, Value: "true", Equal: true}, true
	}
	ae := n.GetAExpr()
	if ae == nil || ae.Kind != pg.A_Expr_Kind_AEXPR_OP || len(ae.Name) != 1 {
		return Comparison{}, false
	}
	op := stringList(ae.Name)
	if len(op) != 1 || (op[0] != "=" && op[0] != "<>" && op[0] != "!=") {
		return Comparison{}, false
	}
	col, ok := columnName(ae.Lexpr)
	val, okv := constText(ae.Rexpr)
	if !ok || !okv {
		col, ok = columnName(ae.Rexpr)
		val, okv = constText(ae.Lexpr)
	}
	if !ok || !okv {
		return Comparison{}, false
	}
	return Comparison{Column: col, Value: val, Equal: op[0] == "="}, true
}

// columnName returns the column an unqualified or table-qualified reference names.
func columnName(n *pg.Node) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil || isStar(cr) {
		return "", false
	}
	names := stringList(cr.Fields)
	if len(names) == 0 || len(names) > 2 || len(names) != len(cr.Fields) {
		return "", false
	}
	return names[len(names)-1], true
}

// constText returns a constant's text, through one cast: 'x', 42, true, 'x'::text.
func constText(n *pg.Node) (string, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	c := n.GetAConst()
	if c == nil || c.Isnull {
		return "", false
	}
	switch v := c.Val.(type) {
	case *pg.A_Const_Sval:
		return v.Sval.Sval, true
	case *pg.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival)), true
	case *pg.A_Const_Fval:
		return v.Fval.Fval, true
	case *pg.A_Const_Boolval:
		return strconv.FormatBool(v.Boolval.Boolval), true
	}
	return "", false
}

// MembershipSubquery reports whether the expression tests the row against a set read
// per row: x IN (SELECT ...) over a table or a function, or EXISTS (SELECT ...) over a
// table. PostgreSQL plans either as a filter (or a join) run for every row, where
// x = ANY ((SELECT f())::type[]) is read once per statement and probes an index. It
// returns the form: "in" or "exists".
func (e *Expr) MembershipSubquery() (string, bool) {
	form := ""
	walk(e.node, func(n *pg.Node) bool {
		sl := n.GetSubLink()
		if sl == nil || form != "" {
			return form == ""
		}
		switch sl.SubLinkType {
		case pg.SubLinkType_ANY_SUBLINK:
			form = "in"
		case pg.SubLinkType_EXISTS_SUBLINK:
			if len((&Expr{node: sl.Subselect}).Tables()) > 0 {
				form = "exists"
			}
		}
		return form == ""
	})
	return form, form != ""
}
