package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/inspect"
	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// diffResult is what diff found, as its formats render it.
type diffResult struct {
	report  *render.Report
	changes []*diff.Change
}

// diffFormats are diff's output formats.
var diffFormats = []outputFormat[diffResult]{
	{"text", func(r diffResult) string { return render.Text(r.report) }},
	{"json", func(r diffResult) string { return render.JSON(r.report) }},
	{"sql", func(r diffResult) string {
		if len(r.changes) == 0 {
			return "-- no differences: the database matches schema.yaml\n"
		}
		return "-- statements that bring the database to schema.yaml\n\n" + render.Script(r.changes)
	}},
	{"markdown", func(r diffResult) string { return render.Markdown(r.report) }},
}

func runDiff(ctx context.Context, e *env, args []string) int {
	fs := e.flags("diff", "[--database-url URL] [--schema schema.yaml] [--format FORMATS] [--schemas public,...] [--dir migrations]",
		`Compare schema.yaml with a live database and report every difference: tables,
columns, keys, indexes, row-level security, policies, grants, roles and the identity
function, and what lets an app role past row-level security without a policy changing
(table owners, role memberships and BYPASSRLS, views and SECURITY DEFINER functions over
tables with row-level security, privileges of roles schema.yaml does not declare,
grant options, default privileges, CREATE on the schemas; security findings come
first). Expressions and types are compared in the form PostgreSQL stores them, so
spelling differences are not reported. Reads the catalog in one read-only snapshot (for
a schema.yaml of 128 KiB or more, on two connections: the policies on the second) and
changes nothing (it uses temporary tables, rolled back, to normalise schema.yaml).
Exit 0: no differences; 1: differences found; 2: error.`)
	dbURL := e.dbFlag(fs)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	format := formatFlag(fs, diffFormats...)
	schemas := fs.String("schemas", "", "comma-separated database schemas to compare (default: those schema.yaml declares)")
	dir := fs.String("dir", "migrations", "the migrations directory, to report pending migrations")
	ignoreUndeclared := fs.Bool("ignore-undeclared-roles", false, "do not report privileges held by roles schema.yaml does not declare")
	rewrite := fs.Bool("allow-destructive", false, "in --format sql, also rewrite the views and functions rlsmigrate does not own (by default their fix is printed as a comment)")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	dialed := e.dial(ctx, *dbURL)
	var helper *helping
	if fi, err := os.Stat(*schemaPath); err == nil && fi.Size() >= helperMinSize {
		helper = e.dialHelper(ctx, *dbURL)
	}
	f, desired, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		dialed.abandon()
		helper.close()
		return ExitError
	}
	sources := compile.SourcesOf(f, desired)
	conn, url, err := dialed.wait()
	if err != nil {
		helper.close()
		return e.fail(err)
	}
	defer conn.Close(context.Background())
	defer helper.close()
	var only []string
	if *schemas != "" {
		only = strings.Split(*schemas, ",")
	}
	changes, err := diffDatabase(ctx, conn, helper.wait(), desired, only, !*ignoreUndeclared)
	if err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	for _, c := range changes {
		c.Rewrite = *rewrite && !c.Owned()
	}
	report := &render.Report{Findings: render.FindingsAt(changes, func(c *diff.Change) string { return source(sources, c) })}
	if report.Goose, err = gooseStatus(ctx, conn, *dir); err != nil {
		return e.fail(fmt.Errorf("%s", redact(err.Error(), url)))
	}
	fmt.Fprint(e.stdout, format.Write(diffResult{report, changes}))
	if len(changes) > 0 {
		return ExitFound
	}
	return ExitOK
}

// source returns where schema.yaml declares the object c concerns, or its table, as
// file:line:col; "" when the file declares neither.
func source(s compile.Sources, c *diff.Change) string {
	what, _, _ := strings.Cut(string(c.Kind), ".")
	name := c.Name // a rename names the old name: the file declares the new one
	switch {
	case c.New.Column != nil:
		name = c.New.Column.Name
	case c.New.Policy != nil:
		name = c.New.Policy.Name
	case c.New.Index != nil:
		name = c.New.Index.Name
	}
	p, ok := s.Of(what, c.Schema, c.Table, name)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", s.File, p.Line, p.Col)
}

// helperMinSize is the size of schema.yaml from which diff reads the policies on a
// second connection (inspect.Helper): about 300 tables of the README's shape, where the
// time it saves the server (about 0.15 ms a table) passes the round trip it may add over
// a slow link to a hosted database (the helper exports its snapshot before the catalog
// is read).
var helperMinSize int64 = 128 << 10

// helping is a second connection being opened, and its snapshot exported, while
// schema.yaml is read; nil when diff goes without. Its methods take a nil receiver.
type helping struct {
	done   chan struct{}
	cancel context.CancelFunc
	helper *inspect.Helper // nil if it failed: diff then reads everything on one connection
}

// dialHelper starts opening a helper connection to the database the flag names.
func (e *env) dialHelper(ctx context.Context, flagValue string) *helping {
	ctx, cancel := context.WithCancel(ctx)
	h := &helping{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(h.done)
		conn, _, err := e.connectTo(ctx, flagValue)
		if err != nil {
			return // the main connection reports it
		}
		if h.helper, err = inspect.Export(ctx, conn); err != nil {
			conn.Close(context.Background())
		}
	}()
	return h
}

// wait returns the helper, or nil if there is none.
func (h *helping) wait() *inspect.Helper {
	if h == nil {
		return nil
	}
	<-h.done
	return h.helper
}

// close stops opening the helper, or closes it.
func (h *helping) close() {
	if h == nil {
		return
	}
	h.cancel()
	if helper := h.wait(); helper != nil {
		helper.Close()
	}
}

// diffDatabase inspects the database, with helper's help if it is not nil, and returns
// the changes that would bring it to desired, comparing both in PostgreSQL's catalog
// form.
func diffDatabase(ctx context.Context, conn *pgx.Conn, helper *inspect.Helper, desired *schema.Schema, schemas []string, allGrantees bool) ([]*diff.Change, error) {
	if len(schemas) == 0 {
		schemas = desired.Schemas
	}
	if len(schemas) == 0 {
		schemas = []string{"public"}
	}
	opts := inspect.Options{Schemas: schemas, Roles: desired.Roles, Functions: desired.Functions, RoutineSchemas: []string{policy.FunctionSchema},
		AllGrantees: allGrantees, Exposures: true, External: desired.External, Kinds: objects.Read(desired), Helper: helper}
	if p := desired.Auth; p != nil && (p.Provider == "pg_session_jwt" || p.Provider == "claims") {
		for _, f := range schema.IdentityFunctions {
			opts.Definitions = append(opts.Definitions, f.Signature)
		}
	}
	actual, access, err := inspect.Inspect(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	want, err := inspect.Normalize(ctx, conn, desired)
	if err != nil {
		return nil, err
	}
	if err := inspect.Rows(ctx, conn, actual, want); err != nil {
		return nil, err
	}
	// Which provider installed the identity function cannot be read back; whether the
	// function exists is compared instead.
	actual.Auth = want.Auth
	// The identity functions rlsmigrate wrote (those pg_session_jwt does not provide)
	// should read as it wrote them.
	definitions := map[string]string{}
	for _, f := range schema.IdentityFunctions {
		definitions[f.Signature] = f.Definition()
	}
	return diff.Database(actual, access, want, definitions), nil
}

// gooseStatus compares the database's goose version with the migrations directory; nil
// when the database has no goose table.
func gooseStatus(ctx context.Context, conn *pgx.Conn, dir string) (*render.GooseStatus, error) {
	v, ok, err := inspect.GooseVersion(ctx, conn)
	if err != nil || !ok {
		return nil, err
	}
	names, err := migdir.Dir{Path: dir}.Migrations()
	if err != nil {
		return nil, err
	}
	st := &render.GooseStatus{DatabaseVersion: v, LatestVersion: v}
	for _, n := range names {
		if nv := migdir.Version(n); nv > v {
			st.Pending++
			st.LatestVersion = max(st.LatestVersion, nv)
		}
	}
	return st, nil
}
