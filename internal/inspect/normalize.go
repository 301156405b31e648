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
	stmts := make([]string, len(out.Tables))
	for i, t := range out.Tables {
		stmts[i] = tempTable(i, t)
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
		if n := byName[tempName(i)]; n != nil {
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
	for _, p := range t.Policies {
		fmt.Fprintf(&sb, " CREATE POLICY %s ON %s FOR %s TO PUBLIC", sqlident.Quote(p.Name), name, strings.ToUpper(p.Command))
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
	for _, p := range t.Policies {
		if np := n.Policy(p.Name); np != nil {
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
