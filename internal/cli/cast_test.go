package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// TestCastTableMatchesPostgreSQL checks sqlparse.CanCast, which generate uses offline to
// refuse a type change PostgreSQL cannot make, against PostgreSQL itself for every pair
// of the types it knows, plain and as arrays.
func TestCastTableMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	conn := pgtest.Connect(t, pgtest.NewDB(t))
	ctx := context.Background()
	types := sqlparse.KnownTypes()
	var pairs [][2]string
	for _, a := range types {
		for _, b := range types {
			pairs = append(pairs, [2]string{a, b}, [2]string{a + "[]", b + "[]"}, [2]string{a + "[]", b})
		}
	}
	for _, p := range pairs {
		_, err := conn.Exec(ctx, fmt.Sprintf("SELECT CAST(NULL::%s AS %s)", p[0], p[1]))
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42846") {
			t.Fatalf("casting %s to %s: %v", p[0], p[1], err)
		}
		if got, want := sqlparse.CanCast(p[0], p[1]), err == nil; got != want {
			t.Errorf("CanCast(%q, %q) = %v; PostgreSQL says %v", p[0], p[1], got, want)
		}
	}
}
