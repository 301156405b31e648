package inspect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// Normalize returns a copy of desired whose column types, defaults and policy
// expressions are in the form PostgreSQL stores and prints them, so that they compare
// with Inspect's output by meaning, not by spelling. It creates a temporary stand-in per
// desired table, with the same columns and policies, reads them back with the catalog
// queries Inspect uses, and rolls everything back: it needs the TEMPORARY privilege and
// changes nothing. Tables of the same shape share a stand-in; a table whose policies
// hold a subquery or name the table itself gets a stand-in of its own name, which
// shadows the real table, so that references to it print as they do on the real one.
// When some statement fails (say, a default calls a function the database lacks), it
// creates each statement in its own savepoint and leaves what failed as written.
func Normalize(ctx context.Context, conn *pgx.Conn, desired *schema.Schema) (*schema.Schema, error) {
	out := clone(desired)
	objectStandIns := map[string]*schema.Object{} // by stand-in name
	var objectStmts []string
	for i, o := range out.Objects {
		if k := objects.Of(o); k.StandIn != nil {
			name := fmt.Sprintf("rlsmigrate_o%d", i)
			if st := k.StandIn(o, name); st != "" {
				objectStandIns[name] = o
				objectStmts = append(objectStmts, st)
			}
		}
	}
	if len(out.Tables) == 0 && len(objectStmts) == 0 {
		return out, nil
	}
	shapes := map[string]int{}
	shapeOf := make([]int, len(out.Tables))
	var names []string
	var stmts [][]string // per stand-in: the table, then its policies
	taken := map[string]bool{}
	refs := map[string]exprRefs{} // by expression text
	var shadowed []*schema.Table  // tables with a stand-in of their own name
	for i, t := range out.Tables {
		name := ""
		if selfReferencing(refs, t) && !taken[t.Name] {
			name = t.Name
			shadowed = append(shadowed, t)
		}
		key := shapeKey(t)
		if name != "" {
			key = name + "\x00" + key
		}
		n, ok := shapes[key]
		if !ok {
			n = len(stmts)
			if name == "" {
				name = tempName(n)
			}
			taken[name] = true
			shapes[key] = n
			names = append(names, name)
			stmts = append(stmts, standIn(name, t))
		}
		shapeOf[i] = n
	}
	var all []string
	for _, st := range stmts {
		all = append(all, st...)
	}
	all = append(all, objectStmts...) // after the tables: a view may read a stand-in's table
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	defer func() {
		if tx != nil { // createEach returns none when it fails
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, strings.Join(all, "\n")); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			return nil, fmt.Errorf("normalising schema.yaml: %w", err) // cancelled, or the connection is gone
		}
		if err := tx.Rollback(ctx); err != nil {
			return nil, fmt.Errorf("normalising schema.yaml: %w", err)
		}
		tx, err = createEach(ctx, conn, all)
		if err != nil {
			return nil, err
		}
	}
	got := &schema.Schema{}
	r := newReader(got)
	batch := &pgx.Batch{}
	r.queue(batch, "n.oid = pg_my_temp_schema() AND c.relname = ANY($1)", []any{names}, false)
	var path []string
	batch.Queue("SELECT current_schemas(false)").QueryRow(func(row pgx.Row) error { return row.Scan(&path) })
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	// A stand-in named like its table hides that table from the search path, so the
	// stand-ins print references to it qualified where the database does not.
	hidden := map[[2]string]bool{}
	for _, t := range shadowed {
		if slices.Contains(path, t.Schema) {
			hidden[[2]string{t.Schema, t.Name}] = true
		}
	}
	if len(hidden) > 0 {
		isHidden := func(schema, table string) bool { return hidden[[2]string{schema, table}] }
		for _, n := range got.Tables {
			for _, p := range n.Policies {
				p.Using = sqlparse.Unqualify(p.Using, isHidden, sqlident.Quote)
				p.Check = sqlparse.Unqualify(p.Check, isHidden, sqlident.Quote)
			}
		}
	}
	if err := adoptObjects(ctx, tx, objectStandIns); err != nil {
		return nil, err
	}
	byName := map[string]*schema.Table{}
	for _, t := range got.Tables {
		byName[t.Name] = t
	}
	for i, t := range out.Tables {
		if n := byName[names[shapeOf[i]]]; n != nil {
			adopt(t, n)
		}
	}
	if err := normalizeValues(ctx, tx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// normalizeValues puts the attributes of objects that hold column values (declared
// rows) in the text form PostgreSQL gives them in their column's type (a uuid in lower
// case, a numeric with its scale, jsonb with its keys ordered); a value the type
// refuses, or of a column whose type the database lacks, stays as written. Two round
// trips, none without such objects.
func normalizeValues(ctx context.Context, tx pgx.Tx, s *schema.Schema) error {
	type value struct {
		o   *schema.Object
		col string
	}
	var at []value
	var vals, types []string
	for _, t := range s.Tables {
		for _, o := range t.Objects {
			if !objects.Of(o).Values {
				continue
			}
			for _, col := range slices.Sorted(maps.Keys(o.Attrs)) {
				if c := t.Column(col); c != nil {
					at = append(at, value{o, col})
					vals, types = append(vals, o.Attrs[col]), append(types, c.Type)
				}
			}
		}
	}
	if len(at) == 0 {
		return nil
	}
	// A function made first: the query naming it is prepared before it runs.
	if _, err := tx.Exec(ctx, `CREATE FUNCTION pg_temp.rlsmigrate_value(v text, typ text) RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE out text;
		BEGIN
			EXECUTE format('SELECT (%L::%s)::text', v, typ) INTO out;
			RETURN out;
		EXCEPTION WHEN others THEN
			RETURN v;
		END $f$`); err != nil {
		return fmt.Errorf("normalising schema.yaml's rows: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT pg_temp.rlsmigrate_value(v, t) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY x(v, t, i) ORDER BY i`, vals, types)
	if err != nil {
		return fmt.Errorf("normalising schema.yaml's rows: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(got) != len(at) {
		err = fmt.Errorf("read %d values back for %d", len(got), len(at))
	}
	if err != nil {
		return fmt.Errorf("normalising schema.yaml's rows: %w", err)
	}
	for i, v := range at {
		v.o.Attrs[v.col] = got[i]
	}
	return nil
}

// adoptObjects reads back the stand-ins of objects outside tables (by stand-in name)
// with their kinds' queries, from the session's temporary schema, and takes their
// expressions' printed form. A stand-in that failed to be made leaves its object as
// written.
func adoptObjects(ctx context.Context, tx pgx.Tx, standIns map[string]*schema.Object) error {
	if len(standIns) == 0 {
		return nil
	}
	var temp string
	if err := tx.QueryRow(ctx, "SELECT coalesce((SELECT nspname::text FROM pg_namespace WHERE oid = pg_my_temp_schema()), '')").Scan(&temp); err != nil {
		return fmt.Errorf("normalising schema.yaml: %w", err)
	}
	kinds := map[*objects.Kind]bool{}
	for _, o := range standIns {
		kinds[objects.Of(o)] = true
	}
	batch := &pgx.Batch{}
	for k := range kinds {
		batch.Queue(k.Query, []string{temp}).Query(func(rows pgx.Rows) error {
			return scanObjects(rows, k, func(_ uint32, n *schema.Object) {
				name, _, _ := strings.Cut(n.Name, "(") // a function's: name(types)
				if o := standIns[name]; o != nil && o.Kind == k.Name {
					for _, key := range slices.Concat(k.Exprs, k.Printed) {
						o.Attrs[key] = n.Attrs[key]
					}
				}
			})
		})
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("normalising schema.yaml: %w", err)
	}
	return nil
}

// exprRefs is what selfReferencing needs of one expression: whether it reads a table,
// and the qualifiers of its column references outside subqueries.
type exprRefs struct {
	readsTable bool
	qualifiers []string
}

// selfReferencing reports whether a policy of t reads a table (in a subquery, which may
// name t or correlate with it) or qualifies a column with t's name: PostgreSQL prints
// such references with the table's name. A subquery that reads no table, such as
// (select auth.user_id()), prints the same on any table. refs remembers each expression
// text's answer, as tables share their policies' texts.
func selfReferencing(refs map[string]exprRefs, t *schema.Table) bool {
	for _, p := range t.Policies {
		for _, expr := range []string{p.Using, p.Check} {
			if expr == "" {
				continue
			}
			r, ok := refs[expr]
			if !ok {
				if e, err := sqlparse.ParseExpr(expr); err == nil {
					r.readsTable = len(e.Tables()) > 0
					for _, ref := range e.ColumnRefs() {
						if ref.Table != "" {
							r.qualifiers = append(r.qualifiers, ref.Table)
						}
					}
				}
				refs[expr] = r
			}
			if r.readsTable || slices.Contains(r.qualifiers, t.Name) {
				return true
			}
		}
	}
	return false
}

// createEach runs each statement in its own savepoint of a new transaction, skipping
// those that fail with an SQL error, and returns the transaction.
func createEach(ctx context.Context, conn *pgx.Conn, stmts []string) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	// Each savepoint is released, also after it is rolled back: one only rolled back
	// stays established, and the next would nest inside it.
	for _, st := range stmts {
		_, err := tx.Exec(ctx, "SAVEPOINT rlsmigrate_stmt")
		if err == nil {
			end := "RELEASE SAVEPOINT rlsmigrate_stmt"
			if _, execErr := tx.Exec(ctx, st); execErr != nil {
				var pe *pgconn.PgError
				if !errors.As(execErr, &pe) {
					err = execErr
				}
				end = "ROLLBACK TO SAVEPOINT rlsmigrate_stmt; " + end
			}
			if err == nil {
				_, err = tx.Exec(ctx, end)
			}
		}
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("normalising schema.yaml: %w", err)
		}
	}
	return tx, nil
}

func tempName(i int) string { return fmt.Sprintf("rlsmigrate_n%d", i) }

// shapeKey identifies what normalisation depends on: the columns with their types,
// identities and defaults, and the policies' commands and conditions.
func shapeKey(t *schema.Table) string {
	var sb strings.Builder
	for _, c := range t.Columns {
		fmt.Fprintf(&sb, "%q %q %q %q %q\n", c.Name, c.Type, c.Identity, c.Default, c.Generated)
	}
	for _, p := range t.Policies {
		fmt.Fprintf(&sb, "%q %q %q\n", p.Command, p.Using, p.Check)
	}
	for _, o := range t.Objects {
		fmt.Fprintf(&sb, "%q %q %q %q\n", o.Kind, o.Name, o.Attrs, o.Items)
	}
	return sb.String()
}

// policyName names the stand-in of a table's i-th policy.
func policyName(i int) string { return fmt.Sprintf("p%d", i) }

// standIn returns the statements creating the stand-in for t under name: its columns
// with types, identities and defaults, then each policy for PUBLIC (roles need not exist
// yet).
func standIn(name string, t *schema.Table) []string {
	var cols []string
	for _, c := range t.Columns {
		def := sqlident.Quote(c.Name) + " " + c.Type
		if c.Identity != "" {
			def += " GENERATED " + strings.ToUpper(c.Identity) + " AS IDENTITY"
		}
		if c.Default != "" {
			def += " DEFAULT " + c.Default
		}
		if c.Generated != "" {
			def += " GENERATED ALWAYS AS (" + c.Generated + ") STORED"
		}
		cols = append(cols, def)
	}
	out := []string{fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP;", sqlident.Quote(name), strings.Join(cols, ", "))}
	// References qualified with the table's schema would name the real table.
	requalify := func(expr string) string {
		return sqlparse.Requalify(expr, t.Schema, t.Name, name, sqlident.Quote)
	}
	for j, p := range t.Policies {
		var sb strings.Builder
		fmt.Fprintf(&sb, "CREATE POLICY %s ON pg_temp.%s FOR %s TO PUBLIC", policyName(j), sqlident.Quote(name), strings.ToUpper(p.Command))
		if p.Using != "" {
			fmt.Fprintf(&sb, " USING (%s)", requalify(p.Using))
		}
		if p.Check != "" {
			fmt.Fprintf(&sb, " WITH CHECK (%s)", requalify(p.Check))
		}
		out = append(out, sb.String()+";")
	}
	for _, o := range t.Objects {
		if objects.Of(o).Rows != nil {
			continue // rows are values, normalised apart (normalizeValues)
		}
		for _, st := range objects.Of(o).Create("pg_temp."+sqlident.Quote(name), o, objects.NewTable) {
			out = append(out, st.SQL)
		}
	}
	return out
}

// adopt takes the catalog forms of the stand-in n into t: its columns' types and
// defaults, its policies' conditions, its objects' expressions.
func adopt(t, n *schema.Table) {
	for _, o := range t.Objects {
		if no := n.Object(o.Kind, o.Name); no != nil {
			for _, key := range objects.Of(o).Exprs {
				o.Attrs[key] = no.Attrs[key]
			}
		}
	}
	for _, c := range t.Columns {
		if nc := n.Column(c.Name); nc != nil {
			c.Type, c.Default, c.Generated = nc.Type, nc.Default, nc.Generated
		}
	}
	for j, p := range t.Policies {
		if np := n.Policy(policyName(j)); np != nil {
			p.Using, p.Check = np.Using, np.Check
		}
	}
}

// clone returns a deep copy of s, so normalising leaves the caller's schema as it was.
func clone(s *schema.Schema) *schema.Schema {
	out := *s
	out.Objects = make([]*schema.Object, len(s.Objects))
	for i, o := range s.Objects {
		co := *o
		co.Attrs = maps.Clone(o.Attrs)
		out.Objects[i] = &co
	}
	out.Tables = make([]*schema.Table, len(s.Tables))
	for i, t := range s.Tables {
		ct := *t
		ct.Columns = make([]*schema.Column, len(t.Columns))
		for j, c := range t.Columns {
			cc := *c
			ct.Columns[j] = &cc
		}
		ct.Objects = make([]*schema.Object, len(t.Objects))
		for j, o := range t.Objects {
			co := *o
			co.Attrs = maps.Clone(o.Attrs)
			ct.Objects[j] = &co
		}
		ct.Policies = make([]*schema.Policy, len(t.Policies))
		for j, p := range t.Policies {
			cp := *p
			ct.Policies[j] = &cp
		}
		out.Tables[i] = &ct
	}
	return &out
}
