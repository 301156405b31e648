package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/verify"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// ownerOnly reports whether every operation on t is governed by exactly the ownership
// policy for role authenticated, so that two users must see only their own rows.
func ownerOnly(s *schema.Schema, t *schema.Table) bool {
	if t.Owner == "" || !t.RLS || s.Auth == nil {
		return false
	}
	cond := policy.OwnerCondition(s.Auth.UserID, t.Owner)
	var cmds []string
	for _, p := range t.Policies {
		if p.Restrictive || !slices.Equal(p.Roles, []string{"authenticated"}) {
			return false
		}
		if (p.Using != "" && p.Using != cond) || (p.Check != "" && p.Check != cond) {
			return false
		}
		cmds = append(cmds, p.Command)
	}
	slices.Sort(cmds)
	return slices.Equal(cmds, []string{"delete", "insert", "select", "update"})
}

// insertRow inserts a row owned by user into t, filling required columns and taking
// foreign keys from a visible row of the parent table.
func insertRow(ctx context.Context, tx pgx.Tx, t *schema.Table, owner string, n int) error {
	categories, err := verify.Categories(ctx, tx, &schema.Schema{Tables: []*schema.Table{t}})
	if err != nil {
		return err
	}
	var cols, vals []string
	for _, c := range t.Columns {
		switch {
		case c.Name == t.Owner && owner != "":
			cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, sqlident.Literal(owner))
		case c.Identity != "" || c.Default != "" || c.Name == t.Owner:
		case c.References != nil && (c.NotNull || c.Unique):
			fk := c.References
			cols = append(cols, sqlident.Quote(c.Name))
			vals = append(vals, fmt.Sprintf("(SELECT %s FROM %s LIMIT 1)", sqlident.Quote(fk.Column), sqlident.Qualified(fk.Schema, fk.Table)))
		case c.References == nil && (c.NotNull || c.Unique):
			cols, vals = append(cols, sqlident.Quote(c.Name)), append(vals, verify.SampleOf(categories[c.Type], c.Type, n))
		}
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", sqlident.Qualified(t.Schema, t.Name), strings.Join(cols, ", "), strings.Join(vals, ", "))
	if len(cols) == 0 {
		sql = fmt.Sprintf("INSERT INTO %s DEFAULT VALUES", sqlident.Qualified(t.Schema, t.Name))
	}
	_, err = tx.Exec(ctx, sql)
	return err
}

// asUser runs fn in a transaction as role authenticated with the claims of user (none
// when user is ""), and rolls back unless commit is set.
func asUser(t *testing.T, conn *pgx.Conn, user string, commit bool, fn func(ctx context.Context, tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE authenticated"); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if _, err := tx.Exec(ctx, "SELECT set_config('request.jwt.claims', $1, true)", fmt.Sprintf(`{"sub":%q}`, user)); err != nil {
			t.Fatal(err)
		}
	}
	fn(ctx, tx)
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// refused runs sql in a savepoint and reports whether PostgreSQL refused it for
// row-level security (SQLSTATE 42501).
func refused(ctx context.Context, tx pgx.Tx, sql string) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer sp.Rollback(ctx)
	_, err = sp.Exec(ctx, sql)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		return true, nil
	}
	return false, err
}

func count(ctx context.Context, t *testing.T, tx pgx.Tx, sql string) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkIsolation proves, on a database built from s, that alice and bob each see, update
// and delete only their own rows of every owner-only table, cannot insert or move a row
// to the other, and that a caller with no claims sees and inserts nothing.
func checkIsolation(t *testing.T, dbURL string, s *schema.Schema) {
	t.Helper()
	// Owner-only tables whose required references lead to owner-only tables too: the
	// rows they need to point at are inserted here.
	var tables []*schema.Table
	included := map[[2]string]bool{}
	for _, tb := range s.Tables {
		ok := ownerOnly(s, tb)
		for _, c := range tb.Columns {
			if fk := c.References; fk != nil && c.NotNull && !included[[2]string{fk.Schema, fk.Table}] {
				ok = false
			}
		}
		if ok {
			tables = append(tables, tb)
			included[[2]string{tb.Schema, tb.Name}] = true
		}
	}
	if len(tables) == 0 {
		return
	}
	conn := pgtest.Connect(t, dbURL)
	users := []string{"alice", "bob"}
	for i, u := range users {
		asUser(t, conn, u, true, func(ctx context.Context, tx pgx.Tx) {
			for _, tb := range tables {
				if err := insertRow(ctx, tx, tb, u, i+1); err != nil {
					t.Fatalf("%s inserting into %s: %v", u, tb.QualifiedName(), err)
				}
			}
		})
	}
	for i, u := range users {
		other := users[1-i]
		asUser(t, conn, u, false, func(ctx context.Context, tx pgx.Tx) {
			for _, tb := range tables {
				name, owner := sqlident.Qualified(tb.Schema, tb.Name), sqlident.Quote(tb.Owner)
				if n := count(ctx, t, tx, "SELECT count(*) FROM "+name); n != 1 {
					t.Errorf("%s sees %d rows of %s, want 1 (its own)", u, n, name)
				}
				if n := count(ctx, t, tx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s <> %s", name, owner, sqlident.Literal(u))); n != 0 {
					t.Errorf("%s sees %d rows of %s owned by others", u, n, name)
				}
				tag, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s = %s", name, owner, owner))
				if err != nil || tag.RowsAffected() != 1 {
					t.Errorf("%s updating %s: %d rows, %v; want 1 (its own)", u, name, tag.RowsAffected(), err)
				}
				if ok, err := refused(ctx, tx, fmt.Sprintf("UPDATE %s SET %s = %s", name, owner, sqlident.Literal(other))); !ok {
					t.Errorf("%s moved its row of %s to %s (err %v)", u, name, other, err)
				}
				sp, _ := tx.Begin(ctx)
				if err := insertRow(ctx, sp, tb, other, 9); !isRLS(err) {
					t.Errorf("%s inserted a row of %s owned by %s (err %v)", u, name, other, err)
				}
				sp.Rollback(ctx)
			}
			for j := len(tables) - 1; j >= 0; j-- {
				name := sqlident.Qualified(tables[j].Schema, tables[j].Name)
				tag, err := tx.Exec(ctx, "DELETE FROM "+name)
				if err != nil || tag.RowsAffected() != 1 {
					t.Errorf("%s deleting from %s: %d rows, %v; want 1 (its own)", u, name, tag.RowsAffected(), err)
				}
			}
		})
	}
	asUser(t, conn, "", false, func(ctx context.Context, tx pgx.Tx) {
		for _, tb := range tables {
			name := sqlident.Qualified(tb.Schema, tb.Name)
			if n := count(ctx, t, tx, "SELECT count(*) FROM "+name); n != 0 {
				t.Errorf("a caller with no claims sees %d rows of %s", n, name)
			}
			sp, _ := tx.Begin(ctx)
			if err := insertRow(ctx, sp, tb, "", 7); !isRLS(err) {
				t.Errorf("a caller with no claims inserted into %s (err %v)", name, err)
			}
			sp.Rollback(ctx)
		}
	})
	ctx := context.Background()
	for _, tb := range tables {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+sqlident.Qualified(tb.Schema, tb.Name)).Scan(&n); err != nil || n != 2 {
			t.Errorf("%s holds %d rows after the rolled-back checks, want 2 (%v)", tb.QualifiedName(), n, err)
		}
	}
}

func isRLS(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}
