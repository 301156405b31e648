package sqlparse

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// RoutineReads is what the body of a function or procedure reads, as far as its parse
// tree tells: the tables it names, or why it cannot be told.
type RoutineReads struct {
	Tables []TableRef // Offset is not set
	// Opaque says why the body cannot be analysed ("" when it can): dynamic SQL, a
	// language other than SQL and PL/pgSQL, a call of a function that runs a query given
	// as text. Such a routine may read any table its owner may.
	Opaque string
}

// dynamicSQL are built-in functions that run a query or read a table given as text or
// regclass: a routine that calls one reads what its caller's text says.
var dynamicSQL = []string{"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
	"cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "schema_to_xml",
	"schema_to_xmlschema", "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema",
	"database_to_xml_and_xmlschema", "dblink", "dblink_exec", "dblink_open", "dblink_send_query", "ts_stat"}

// AnalyzeRoutine reads def, a CREATE FUNCTION or CREATE PROCEDURE statement as
// pg_get_functiondef prints it, and returns the tables its body names: the body as a
// string (LANGUAGE sql, or PL/pgSQL, whose embedded queries are parsed one by one) or
// as a parsed SQL-standard body (BEGIN ATOMIC, RETURN). Names are decoded by the parser,
// so any spelling of a table (quoted, U&"\0061", another case) gives its name.
func AnalyzeRoutine(def string) RoutineReads {
	tree, err := pg.Parse(def)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetCreateFunctionStmt() == nil {
		return RoutineReads{Opaque: "its definition does not parse"}
	}
	cf := tree.Stmts[0].Stmt.GetCreateFunctionStmt()
	var lang string
	var body []string
	for _, o := range cf.Options {
		de := o.GetDefElem()
		if de == nil {
			continue
		}
		switch de.Defname {
		case "language":
			if s := de.Arg.GetString_(); s != nil {
				lang = strings.ToLower(s.Sval)
			}
		case "as":
			if l := de.Arg.GetList(); l != nil {
				body = stringList(l.Items)
			}
		}
	}
	r := &routineReader{}
	switch {
	case cf.SqlBody != nil:
		r.node(cf.SqlBody)
	case lang == "sql" && len(body) == 1:
		r.sql(body[0], "its body does not parse")
	case lang == "plpgsql":
		r.plpgsql(def)
	default:
		r.opaque = "it is written in " + lang + ", whose body rlsmigrate cannot read"
	}
	return RoutineReads{Tables: r.tables, Opaque: r.opaque}
}

// routineReader gathers what a routine's body reads.
type routineReader struct {
	tables []TableRef
	opaque string
}

// sql parses one or more statements and reads them; why is the reason given when they
// do not parse.
func (r *routineReader) sql(text, why string) {
	tree, err := pg.Parse(text)
	if err != nil {
		r.fail(why)
		return
	}
	for _, st := range tree.Stmts {
		r.node(st.Stmt)
	}
}

func (r *routineReader) fail(why string) {
	if r.opaque == "" {
		r.opaque = why
	}
}

// node adds the tables n names (WITH names left out) and notes calls of dynamicSQL.
func (r *routineReader) node(n *pg.Node) {
	ctes := map[string]bool{}
	walk(n, func(m *pg.Node) bool {
		if cte := m.GetCommonTableExpr(); cte != nil {
			ctes[cte.Ctename] = true
		}
		return true
	})
	add := func(rv *pg.RangeVar) {
		if rv != nil && (rv.Schemaname != "" || !ctes[rv.Relname]) {
			ref := TableRef{Schema: rv.Schemaname, Name: rv.Relname}
			if !slices.Contains(r.tables, ref) {
				r.tables = append(r.tables, ref)
			}
		}
	}
	walk(n, func(m *pg.Node) bool {
		add(m.GetRangeVar())
		// The target of a write is a RangeVar field, not a node of its own.
		if s := m.GetInsertStmt(); s != nil {
			add(s.Relation)
		}
		if s := m.GetUpdateStmt(); s != nil {
			add(s.Relation)
		}
		if s := m.GetDeleteStmt(); s != nil {
			add(s.Relation)
		}
		if s := m.GetMergeStmt(); s != nil {
			add(s.Relation)
		}
		if s := m.GetCopyStmt(); s != nil {
			add(s.Relation)
		}
		if fc := m.GetFuncCall(); fc != nil {
			names := stringList(fc.Funcname)
			if len(names) > 0 && slices.Contains(dynamicSQL, names[len(names)-1]) {
				r.fail("it calls " + names[len(names)-1] + ", which runs a query given as text")
			}
		}
		return true
	})
}

// plpgsql reads the queries of a PL/pgSQL body: EXECUTE and other dynamic statements make
// it opaque.
func (r *routineReader) plpgsql(def string) {
	js, err := pg.ParsePlPgSqlToJSON(def)
	if err != nil {
		r.fail("its PL/pgSQL body does not parse")
		return
	}
	var tree any
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		r.fail("its PL/pgSQL body does not parse")
		return
	}
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				visit(e)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				e := x[k]
				if strings.HasPrefix(k, "PLpgSQL_stmt_dyn") || k == "dynquery" {
					r.fail("it runs dynamic SQL (EXECUTE)")
				}
				if k == "PLpgSQL_expr" {
					if ex, ok := e.(map[string]any); ok {
						q, _ := ex["query"].(string)
						mode, _ := ex["parseMode"].(float64)
						r.expr(q, int(mode))
					}
				}
				visit(e)
			}
		}
	}
	visit(tree)
}

// expr reads one embedded PL/pgSQL expression or query, as PostgreSQL parses it in mode:
// a statement (0), an expression (2), or an assignment "target := expression" (3-5).
func (r *routineReader) expr(q string, mode int) {
	switch {
	case mode == 0:
		r.sql(q, "a query of its body does not parse")
	case mode == 2:
		r.sql(exprPrefix+q, "an expression of its body does not parse")
	case mode >= 3:
		_, rhs, ok := strings.Cut(q, ":=")
		if !ok {
			_, rhs, ok = strings.Cut(q, "=")
		}
		if !ok {
			r.fail("an assignment of its body does not parse")
			return
		}
		r.sql(exprPrefix+rhs, "an assignment of its body does not parse")
	}
}

// CheckRoutineBody parses body, the body of a function in language (sql or plpgsql),
// with PostgreSQL's parser: a SQL body statement by statement, a PL/pgSQL body with the
// PL/pgSQL parser, which also parses each query it embeds. create is the whole CREATE
// FUNCTION statement the body goes into, which the PL/pgSQL parser reads.
func CheckRoutineBody(language, body, create string) error {
	switch language {
	case "sql":
		stmts, err := pg.SplitWithParser(body, true)
		if err != nil {
			return &Error{Offset: -1, Msg: "its SQL body does not parse: " + err.Error()}
		}
		for _, st := range stmts {
			if _, err := pg.Parse(st); err != nil {
				return &Error{Offset: -1, Msg: "its SQL body does not parse: " + err.Error()}
			}
		}
	case "plpgsql":
		if _, err := pg.ParsePlPgSqlToJSON(create); err != nil {
			return &Error{Offset: -1, Msg: "its PL/pgSQL body does not parse: " + err.Error()}
		}
	}
	return nil
}

// ParseQuery parses s as one query, as a view holds it (SELECT, VALUES, WITH ...), and
// returns the tables it reads; a query that writes (a data-modifying WITH) is refused.
func ParseQuery(s string) ([]TableRef, error) {
	tree, err := parse(s, 0)
	if err != nil {
		return nil, err
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, &Error{Offset: -1, Msg: "must be one query (SELECT, VALUES or WITH ... SELECT)"}
	}
	r := &routineReader{}
	writes := false
	walk(tree.Stmts[0].Stmt, func(n *pg.Node) bool {
		writes = writes || n.GetInsertStmt() != nil || n.GetUpdateStmt() != nil || n.GetDeleteStmt() != nil || n.GetMergeStmt() != nil
		return true
	})
	if writes {
		return nil, &Error{Offset: -1, Msg: "must only read: a view cannot hold INSERT, UPDATE, DELETE or MERGE"}
	}
	r.node(tree.Stmts[0].Stmt)
	return r.tables, nil
}
