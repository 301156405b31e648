package cli

import (
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

var externalSchema = built{setup: schemagen.UsersTableSQL}

// TestDiffExternalTables: a reference to auth.users, declared external, was refused
// ("table auth.users is not declared"); now it builds, diff is empty on the database up
// built, and a declared column the table lacks or holds with another type is one
// finding whose SQL only says what to fix: rlsmigrate does not manage the table.
func TestDiffExternalTables(t *testing.T) {
	externalSchema.build(t, "testdata/diff/external.yaml")
	for _, c := range []struct{ name, sql string }{
		{"column missing", `ALTER TABLE auth.users DROP COLUMN email`},
		{"column of another type", `ALTER TABLE auth.users ALTER email TYPE varchar(100)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dbURL := externalSchema.database(t)
			if rep, r := diffReport(t, externalSchema.schema, dbURL); len(rep.Findings) != 0 {
				t.Fatalf("diff on the database up built:\n%s", r)
			}
			pgtest.MustExec(t, pgtest.Connect(t, dbURL), c.sql)
			rep, r := diffReport(t, externalSchema.schema, dbURL)
			if len(rep.Findings) != 1 || rep.Findings[0].Kind != "external.missing" || rep.Findings[0].Object != "auth.users" ||
				rep.Findings[0].Desired != "auth.users (id uuid, email text)" {
				t.Fatalf("diff after %q:\n%s", c.sql, r)
			}
			for _, sql := range rep.Findings[0].SQL {
				if !strings.HasPrefix(sql, "-- not applied: rlsmigrate does not manage auth.users") {
					t.Errorf("external.missing's SQL must only say what to fix: %q", sql)
				}
			}
		})
	}
}
