package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

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
	fs := e.flags("pull", "[--database-url URL] [--schemas public,...] [--out schema.yaml] [--dir migrations] [--baseline] [--format text|markdown] [--force]",
		`Write schema.yaml from a live database: its tables with their columns, keys,
references, indexes, identity, defaults, comments and grants; the enums, checks, views,
functions, triggers and publications of the schemas; the tables they reference outside
them (Supabase's auth.users) as external; and each policy read back, from PostgreSQL's
parse tree, as the rule it means (owner, signed_in, anyone, member of a group, claim),
or else as a custom rule with its exact conditions. The identity provider is read
from the database: Supabase (auth.uid() and its roles), pg_session_jwt (the
extension), or claims (rlsmigrate's functions without it).
Then prints a report: what became which rule, what stayed custom, what schema.yaml
cannot say, and what the next migration from the new file changes in this database
(a slower policy form replaced, a key renamed, ...), compared as diff compares.
Where --dir holds no migration yet, pull also writes the baseline there: NNNNN_baseline.sql,
the migration that builds schema.yaml from nothing (never to run on this database), and,
when the report announces changes, NNNNN_adopt.sql, which makes them (the next "up"
applies it), with the state file, so the next "generate" writes only later changes.
--baseline also records the baseline as applied in goose's version table, so "up" skips
it; it is the only write pull makes to the database. Otherwise reads the catalog in one
read-only snapshot. Exit 0: written; 2: error (nothing written).`)
	dbURL := e.dbFlag(fs)
	schemas := fs.String("schemas", "public", "comma-separated database schemas whose tables are pulled")
	out := fs.String("out", "schema.yaml", "the file to write")
	force := fs.Bool("force", false, "overwrite the file when it exists")
	dir := fs.String("dir", "migrations", "the migrations directory the baseline goes to, when it holds none")
	baseline := fs.Bool("baseline", false, "record the baseline migration as applied in the database's goose version table")
	format := formatFlag(fs, pullFormats...)
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	md := migdir.Dir{Path: *dir}
	existing, err := md.Migrations()
	if err != nil {
		return e.fail(err)
	}
	if len(existing) > 0 && *baseline {
		return e.fail(fmt.Errorf("%s already holds migrations: --baseline records a new project's first one; pull without it writes schema.yaml only", *dir))
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
	var recorder *baselineRecorder
	if *baseline {
		if recorder, err = openBaselineRecorder(ctx, url, e.stderr); err != nil {
			return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
		}
		defer recorder.close()
	}
	var files []migdir.File
	if len(existing) == 0 {
		if files, err = writeBaseline(md, res.File, sourceFingerprint(res.YAML), changes); err != nil {
			return e.fail(err)
		}
	}
	if err := migdir.WriteFileAtomic(*out, res.YAML); err != nil {
		return e.fail(err)
	}
	if *baseline {
		if err := recorder.record(ctx, migdir.Version(files[0].Name)); err != nil {
			return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
		}
	}
	fmt.Fprint(e.stdout, format.Write(pullResult{res.Findings, changes, *out}))
	for i, f := range files {
		what := "the baseline: builds schema.yaml from nothing; not recorded as applied, so up would run it here: pull --baseline records it"
		switch {
		case i == 0 && *baseline:
			what = "the baseline, recorded as applied"
		case i == 1:
			what = "the announced changes: rlsmigrate up applies them"
		case i == 2:
			what = "their index builds and validations, outside a transaction"
		}
		fmt.Fprintf(e.stdout, "wrote %s/%s (%s)\n", *dir, f.Name, what)
	}
	if len(existing) > 0 {
		fmt.Fprintf(e.stdout, "%s already holds migrations: no baseline written; rlsmigrate generate writes what schema.yaml changes from them\n", *dir)
	}
	return ExitOK
}

// writeBaseline writes to md, which holds no migration, the baseline migration that
// builds f's schema from nothing and, when changes is not empty, the migration that
// makes them (the changes the database needs to match f), and records f's schema as
// what they build.
func writeBaseline(md migdir.Dir, f *policy.File, source string, changes []*diff.Change) ([]migdir.File, error) {
	unlock, err := md.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	state, err := md.Load()
	if err != nil {
		return nil, err
	}
	desired, err := compile.Compile(f)
	if err != nil {
		return nil, fmt.Errorf("compiling the pulled schema.yaml (please report it): %w", err)
	}
	build := diff.Diff(state.Schema, desired)
	baseline := render.Render(build, diff.Invert(build), f.LockTimeout)
	if baseline.HasOnline() {
		return nil, fmt.Errorf("the baseline would need a migration outside a transaction (please report it)")
	}
	files := []migdir.File{{Name: "00001_baseline.sql", Write: func(w io.Writer) error {
		if _, err := io.WriteString(w, baselineHeader); err != nil {
			return err
		}
		return baseline.WriteMain(w)
	}}}
	var owned []*diff.Change
	for _, c := range changes {
		if c.Owned() {
			owned = append(owned, c)
		}
	}
	if len(owned) > 0 {
		adopt := render.Render(owned, diff.Invert(owned), f.LockTimeout)
		files = append(files, migdir.File{Name: "00002_adopt.sql", Write: adopt.WriteMain})
		if adopt.HasOnline() {
			files = append(files, migdir.File{Name: "00003_adopt_online.sql", Write: adopt.WriteOnline})
		}
	}
	if err := md.Write(files, desired, source); err != nil {
		return nil, err
	}
	return files, nil
}

// baselineHeader opens the baseline migration.
const baselineHeader = "-- The baseline rlsmigrate pull wrote: schema.yaml built from nothing, as the database\n" +
	"-- it was pulled from holds it. Never run it there: pull --baseline records it as applied.\n"

// baselineRecorder opens a transaction on goose's version table and checks that no
// migration is recorded there yet, before pull writes anything; record then records
// the baseline's version as applied, with goose's own store (the table made, with its
// version 0, where it is missing, as goose makes it), and commits.
type baselineRecorder struct {
	db     *sql.DB
	tx     *sql.Tx
	store  database.Store
	exists bool
}

func openBaselineRecorder(ctx context.Context, dbURL string, notices io.Writer) (*baselineRecorder, error) {
	db, _, err := openDB(ctx, dbURL, notices)
	if err != nil {
		return nil, err
	}
	b := &baselineRecorder{db: db}
	if b.store, err = database.NewStore(database.DialectPostgres, goose.DefaultTablename); err == nil {
		b.tx, err = db.BeginTx(ctx, nil)
	}
	if err == nil {
		b.exists, err = b.store.(database.StoreExtender).TableExists(ctx, b.tx)
	}
	var latest int64
	if err == nil && b.exists {
		latest, err = b.store.GetLatestVersion(ctx, b.tx)
	}
	if err == nil && latest > 0 {
		err = fmt.Errorf("it already records migration %d: migrations elsewhere manage this database, so a baseline would be recorded over theirs; pull without --baseline", latest)
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("checking %s for --baseline: %w", goose.DefaultTablename, err)
	}
	return b, nil
}

func (b *baselineRecorder) record(ctx context.Context, version int64) error {
	var err error
	if !b.exists {
		if err = b.store.CreateVersionTable(ctx, b.tx); err == nil {
			err = b.store.Insert(ctx, b.tx, database.InsertRequest{Version: 0})
		}
	}
	if err == nil {
		err = b.store.Insert(ctx, b.tx, database.InsertRequest{Version: version})
	}
	if err == nil {
		err = b.tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("recording the baseline in %s (schema.yaml and the migrations are written; pull --force --baseline into an empty --dir to try again): %w", goose.DefaultTablename, err)
	}
	return nil
}

func (b *baselineRecorder) close() {
	if b.tx != nil {
		b.tx.Rollback()
	}
	b.db.Close()
}

// pullDatabase reads schemas of the database into a schema.yaml, and returns it with
// the changes the next migration from it would make there.
func pullDatabase(ctx context.Context, conn *pgx.Conn, schemas []string) (*pull.Result, []*diff.Change, error) {
	var roles []string
	var supabase, extension, fallback bool
	err := conn.QueryRow(ctx, `SELECT array(SELECT rolname::text FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1),
		to_regprocedure('auth.uid()') IS NOT NULL AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon')
		AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated'),
		EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_session_jwt'),
		to_regprocedure('auth.session()') IS NOT NULL AND to_regprocedure('auth.user_id()') IS NOT NULL`).Scan(&roles, &supabase, &extension, &fallback)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the roles: %w", err)
	}
	opts := inspect.Options{Schemas: schemas, Roles: roles, RoutineSchemas: []string{policy.FunctionSchema}, AllGrantees: true}
	actual, access, err := inspect.Inspect(ctx, conn, opts)
	if err != nil {
		return nil, nil, err
	}
	if missing := schema.Without(schemas, actual.Schemas); len(missing) > 0 {
		return nil, nil, fmt.Errorf("--schemas names %s, which the database lacks (it has %s); nothing was written", strings.Join(missing, ", "), strings.Join(actual.Schemas, ", "))
	}
	// Supabase shows in auth.uid() and its roles; Neon in pg_session_jwt's extension.
	// Its functions without the extension are what provider claims makes (and
	// pg_session_jwt's fallback, which pull cannot tell from it).
	in := pull.Input{Schema: actual, Provider: "pg_session_jwt"}
	switch {
	case supabase:
		in.Provider = "supabase"
	case !extension && fallback:
		in.Provider = "claims"
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
	changes, err := diffDatabase(ctx, conn, nil, desired, nil, false)
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
