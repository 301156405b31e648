package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// TestDatabaseNamesStayInert names a view and a SECURITY DEFINER function over an RLS
// table with a newline and SQL: every fix script diff prints (the "not applied" comment
// and, with --allow-destructive, the fix itself) keeps the name inside its comment or
// its quotes, so applying the script runs no statement of the name's; the text and
// Markdown reports keep it on its line. Before, applying the script dropped the table;
// a function named "paren() FROM PUBLIC; DROP TABLE ...; --" was cut at its first "("
// and its fix, with --allow-destructive, ran the DROP.
func TestDatabaseNamesStayInert(t *testing.T) {
	t.Parallel()
	var b built
	b.build(t, "testdata/diff/drift.yaml")
	dbURL := b.database(t)
	conn := pgtest.Connect(t, dbURL)
	evil := "feed\nDROP TABLE public.notes CASCADE; --"
	// The function's argument is of a domain whose name breaks out too.
	pgtest.MustExec(t, conn, `CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.canary (id int);
		CREATE VIEW "`+evil+`" AS SELECT * FROM notes; GRANT SELECT ON "`+evil+`" TO drift_app;
		CREATE DOMAIN "dom`+"\n"+`DROP TABLE elsewhere.canary; --" AS int;
		CREATE FUNCTION "`+strings.Replace(evil, "feed", "leak", 1)+`"("dom`+"\n"+`DROP TABLE elsewhere.canary; --") RETURNS bigint
			LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM public.notes';
		CREATE FUNCTION "paren() FROM PUBLIC; DROP TABLE elsewhere.canary; --"() RETURNS bigint
			LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM public.notes'`)
	for _, format := range []string{"text", "markdown"} {
		r := run(t, "", "diff", "--schema", b.schema, "--database-url", dbURL, "--format", format)
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "DROP TABLE") {
				t.Errorf("diff --format %s printed a line of a name's SQL: %q\n%s", format, l, r)
			}
		}
	}
	for _, extra := range [][]string{nil, {"--allow-destructive"}} {
		fix := run(t, "", append([]string{"diff", "--schema", b.schema, "--database-url", dbURL, "--format", "sql"}, extra...)...)
		if fix.code != ExitFound {
			t.Fatalf("diff --format sql %v: %s", extra, fix)
		}
		if a := render.Annotations(fix.stdout); len(a) > 0 {
			t.Errorf("the fix script holds lines goose reads as annotations: %q", a)
		}
		pgtest.RunScript(t, conn, fix.stdout)
		var tables int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_class WHERE relname IN ('notes', 'canary') AND relkind = 'r'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 2 {
			t.Fatalf("applying diff --format sql %v dropped a table a name spelt out:\n%s", extra, fix.stdout)
		}
	}
	if rep, r := diffReport(t, b.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("after applying the fix with --allow-destructive:\n%s", r)
	}
}
