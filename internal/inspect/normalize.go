package inspect

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Normalize returns a copy of desired whose column types, defaults and policy
// expressions are in the form PostgreSQL stores and prints them, so that they compare
// with Inspect's output by meaning, not by spelling. It creates a temporary table per
// desired table, with the same columns and policies, reads them back with the catalog
// queries Inspect uses, and rolls everything back: it needs the TEMPORARY privilege and
// changes nothing. It takes four round trips; when some object cannot be created (say,
// a default calls a function the database lacks), it retries table by table and leaves
// those objects as written.
func Normalize(ctx context.Context, conn *pgx.Conn, desired *schema.Schema) (*schema.Schema, error) {
	out := clone(desired)
	if len(out.Tables) == 0 {
		return out, nil
	}
	// Tables of the same shape (columns and policy conditions, whatever the names) share
	// one stand-in, so the work grows with the number of distinct shapes.
	shapes := map[string]int{}
	shapeOf := make([]int, len(out.Tables))
	var stmts []string
	for i, t := range out.Tables {
		key := shapeKey(t)
		n, ok := shapes[key]
		if !ok {
			n = len(stmts)
			shapes[key] = n
			stmts = append(stmts, tempTable(n, t))
		}
		shapeOf[i] = n
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	defer func() { tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, strings.Join(stmts, "\n")); err != nil {
		tx.Rollback(ctx)
		if tx, err = createEach(ctx, conn, stmts); err != nil {
			return nil, err
		}
	}
	got := &schema.Schema{}
	r := newReader(got)
	batch := &pgx.Batch{}
	r.queue(batch, "n.oid = pg_my_temp_schema() AND c.relname LIKE 'rlsmigrate_n%'", nil, false)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	byName := map[string]*schema.Table{}
	for _, t := range got.Tables {
		byName[t.Name] = t
	}
	for i, t := range out.Tables {
		if n := byName[tempName(shapeOf[i])]; n != nil {
			adopt(t, n)
		}
	}
	return out, nil
}

// createEach runs each statement in its own savepoint of a new transaction, skipping
// those that fail, and returns the transaction.
func createEach(ctx context.Context, conn *pgx.Conn, stmts []string) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("normalising schema.yaml: %w", err)
	}
	for _, st := range stmts {
		sp, err := tx.Begin(ctx)
		if err == nil {
			if _, execErr := sp.Exec(ctx, st); execErr != nil {
				err = sp.Rollback(ctx)
			} else {
				err = sp.Commit(ctx)
			}
		}
		if err != nil {
			tx.Rollback(ctx)
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
		fmt.Fprintf(&sb, "%q %q %q %q\n", c.Name, c.Type, c.Identity, c.Default)
	}
	for _, p := range t.Policies {
		fmt.Fprintf(&sb, "%q %q %q\n", p.Command, p.Using, p.Check)
	}
	return sb.String()
}

// policyName names the stand-in of a table's i-th policy.
func policyName(i int) string { return fmt.Sprintf("p%d", i) }

// tempTable returns the statements creating the stand-in for t: its columns with types,
// identities and defaults, and its policies for PUBLIC (roles need not exist yet).
func tempTable(i int, t *schema.Table) string {
	var cols []string
	for _, c := range t.Columns {
		def := sqlident.Quote(c.Name) + " " + c.Type
		if c.Identity != "" {
			def += " GENERATED " + strings.ToUpper(c.Identity) + " AS IDENTITY"
		}
		if c.Default != "" {
			def += " DEFAULT " + c.Default
		}
		cols = append(cols, def)
	}
	name := "pg_temp." + tempName(i)
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE TEMP TABLE %s (%s) ON COMMIT DROP;", tempName(i), strings.Join(cols, ", "))
	for j, p := range t.Policies {
		fmt.Fprintf(&sb, " CREATE POLICY %s ON %s FOR %s TO PUBLIC", policyName(j), name, strings.ToUpper(p.Command))
		if p.Using != "" {
			fmt.Fprintf(&sb, " USING (%s)", p.Using)
		}
		if p.Check != "" {
			fmt.Fprintf(&sb, " WITH CHECK (%s)", p.Check)
		}
		sb.WriteString(";")
	}
	return sb.String()
}

// adopt takes the catalog forms of the stand-in n into t.
func adopt(t, n *schema.Table) {
	for _, c := range t.Columns {
		if nc := n.Column(c.Name); nc != nil {
			c.Type, c.Default = nc.Type, nc.Default
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
	out.Tables = make([]*schema.Table, len(s.Tables))
	for i, t := range s.Tables {
		ct := *t
		ct.Columns = make([]*schema.Column, len(t.Columns))
		for j, c := range t.Columns {
			cc := *c
			ct.Columns[j] = &cc
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
