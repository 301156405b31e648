package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/pull"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// pullResult is what pull found, as its report formats render it.
type pullResult struct {
	findings []pull.Finding
	changes  []*diff.Change
	out      string
}

// pullFormats are the formats of pull's report.
var pullFormats = []outputFormat[pullResult]{
	{"text", func(r pullResult) string {
		return pull.Text(r.out, r.findings, render.Text(&render.Report{Findings: render.Findings(r.changes)}), len(r.changes))
	}},
	{"markdown", func(r pullResult) string {
		return pull.Markdown(r.out, r.findings, render.Markdown(&render.Report{Findings: render.Findings(r.changes)}), len(r.changes))
	}},
}

func runPull(ctx context.Context, e *env, args []string) int {
	fs := e.flags("pull", "[--database-url URL] [--schemas public,...] [--out schema.yaml] [--format text|markdown] [--force]",
		`Write schema.yaml from a live database: its tables with their columns, keys,
references, indexes, identity, defaults, comments and grants; the enums, checks, views,
functions, triggers and publications of the schemas; the tables they reference outside
them (Supabase's auth.users) as external; and each policy read back, from PostgreSQL's
parse tree, as the rule it means (owner, signed_in, anyone, member of a group, claim),
or else as a custom rule with its exact conditions. The identity provider is read
from the database: Supabase (auth.uid() and its roles) or pg_session_jwt.
Then prints a report: what became which rule, what stayed custom, what schema.yaml
cannot say, and what the next migration from the new file changes in this database
(a slower policy form replaced, a missing owner index added, ...), compared as
diff compares. Reads the catalog in one read-only snapshot; changes nothing in the
database. Exit 0: written; 2: error (nothing written).`)
	dbURL := e.dbFlag(fs)
	schemas := fs.String("schemas", "public", "comma-separated database schemas whose tables are pulled")
	out := fs.String("out", "schema.yaml", "the file to write")
	force := fs.Bool("force", false, "overwrite the file when it exists")
	format := formatFlag(fs, pullFormats...)
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return e.fail(fmt.Errorf("%s exists: pull writes a whole new file; give --out another path, or --force to replace it", *out))
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return e.fail(fmt.Errorf("checking %s: %w", *out, err))
	}
	conn, url, err := e.connectTo(ctx, *dbURL)
	if err != nil {
		return e.fail(err)
	}
	defer conn.Close(context.Background())
	res, changes, err := pullDatabase(ctx, conn, strings.Split(*schemas, ","))
	if err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	if err := migdir.WriteFileAtomic(*out, res.YAML); err != nil {
		return e.fail(err)
	}
	fmt.Fprint(e.stdout, format.Write(pullResult{res.Findings, changes, *out}))
	return ExitOK
}

// pullDatabase reads schemas of the database into a schema.yaml, and returns it with
// the changes the next migration from it would make there.
func pullDatabase(ctx context.Context, conn *pgx.Conn, schemas []string) (*pull.Result, []*diff.Change, error) {
	var roles []string
	var supabase bool
	err := conn.QueryRow(ctx, `SELECT array(SELECT rolname::text FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1),
		to_regprocedure('auth.uid()') IS NOT NULL AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon')
		AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated')`).Scan(&roles, &supabase)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the roles: %w", err)
	}
	opts := inspect.Options{Schemas: schemas, Roles: roles, RoutineSchemas: []string{policy.FunctionSchema}, AllGrantees: true}
	actual, access, err := inspect.Inspect(ctx, conn, opts)
	if err != nil {
		return nil, nil, err
	}
	in := pull.Input{Schema: actual}
	if supabase {
		in.Provider = "supabase"
	}
	if in.External, err = externalTables(ctx, conn, pull.Externals(actual)); err != nil {
		return nil, nil, err
	}
	for _, ta := range access.Tables {
		if ta.OwnerRole != "" {
			in.Owners = append(in.Owners, ta.OwnerRole)
		}
	}
	res, err := pull.Pull(in)
	if err != nil {
		return nil, nil, err
	}
	desired, err := compile.Compile(res.File)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling the pulled schema.yaml (please report it): %w", err)
	}
	changes, err := diffDatabase(ctx, conn, desired, nil, false)
	if err != nil {
		return nil, nil, err
	}
	return res, changes, nil
}

// externalTables reads the columns and primary keys of the tables names holds
// (schema, name), in one round trip when there are any.
func externalTables(ctx context.Context, conn *pgx.Conn, names [][2]string) ([]*schema.Table, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var schemas, tables []string
	for _, n := range names {
		schemas, tables = append(schemas, n[0]), append(tables, n[1])
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
			coalesce(a.attnum = ANY(i.indkey::int2[]), false)
		FROM unnest($1::text[], $2::text[]) x(s, t)
		JOIN pg_namespace n ON n.nspname = x.s JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		ORDER BY 1, 2, a.attnum`, schemas, tables)
	if err != nil {
		return nil, fmt.Errorf("reading the tables the pulled ones reference: %w", err)
	}
	var out []*schema.Table
	var sn, tn, col, typ string
	var pk bool
	_, err = pgx.ForEachRow(rows, []any{&sn, &tn, &col, &typ, &pk}, func() error {
		if len(out) == 0 || out[len(out)-1].Schema != sn || out[len(out)-1].Name != tn {
			out = append(out, &schema.Table{Schema: sn, Name: tn})
		}
		t := out[len(out)-1]
		t.Columns = append(t.Columns, &schema.Column{Name: col, Type: typ})
		if pk {
			t.PrimaryKey = append(t.PrimaryKey, col)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the tables the pulled ones reference: %w", err)
	}
	return out, nil
}
