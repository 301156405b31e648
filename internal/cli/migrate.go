package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// migrator is a goose provider over one migrations directory and one database.
type migrator struct {
	provider *goose.Provider
	db       *sql.DB
	dir      string
	dbURL    string
	stmts    *statementRecorder
	close    func()
}

// openMigrator checks the migrations against their recorded checksums, connects, and
// builds a goose provider that serialises concurrent runs with an advisory lock.
func (e *env) openMigrator(ctx context.Context, dir, urlFlag string) (*migrator, error) {
	dbURL, err := e.databaseURL(urlFlag)
	if err != nil {
		return nil, err
	}
	// Every migration must be the one generate recorded: a missing state file, or a file
	// edited, added or deleted by hand, stops up before it connects.
	md := migdir.Dir{Path: dir}
	if _, err := md.Load(); err != nil {
		return nil, err
	}
	if names, err := md.Migrations(); err != nil {
		return nil, err
	} else if len(names) == 0 {
		return nil, fmt.Errorf("no migrations in %s: run \"rlsmigrate generate\" first", dir)
	}
	db, _, err := openDB(ctx, dbURL, e.stderr)
	if err != nil {
		return nil, err
	}
	// Wait up to 10 minutes for another run to finish, checking every second.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the migration lock: %w", err)
	}
	rec := &statementRecorder{}
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir),
		goose.WithSessionLocker(locker),
		goose.WithVerbose(true),
		goose.WithSlog(slog.New(rec)),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading migrations in %s: %w", dir, err)
	}
	return &migrator{provider: p, db: db, dir: dir, dbURL: dbURL, stmts: rec, close: func() { p.Close() }}, nil
}

// report prints one line per migration result, then explains a failure if there is one.
func (e *env) report(m *migrator, results []*goose.MigrationResult, err error) int {
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	for _, r := range results {
		verb := "applied"
		if r.Direction == "down" {
			verb = "rolled back"
		}
		fmt.Fprintf(e.stdout, "%-11s %s (%s)\n", verb, filepath.Base(r.Source.Path), r.Duration.Round(10*time.Microsecond))
	}
	if err == nil {
		return ExitOK
	}
	if partial != nil {
		file := filepath.Base(partial.Failed.Source.Path)
		msg := fmt.Sprintf("migration %s failed and was rolled back", filepath.Join(m.dir, file))
		ran := m.stmts.of(file)
		noTx := outsideTransaction(filepath.Join(m.dir, file))
		if noTx {
			msg = fmt.Sprintf("migration %s failed; it runs outside a transaction (-- +goose NO TRANSACTION), so nothing of it was rolled back", filepath.Join(m.dir, file))
		}
		if len(partial.Applied) > 0 {
			msg += fmt.Sprintf("; the %d migration(s) before it stay applied", len(partial.Applied))
		}
		if noTx {
			if len(ran) > 1 {
				msg += fmt.Sprintf("\nthe %d statement(s) it ran before the failing one stay applied (up runs the file again from the top; each statement can run twice):", len(ran)-1)
				for _, st := range ran[:len(ran)-1] {
					msg += "\n  " + strings.ReplaceAll(strings.TrimSpace(st), "\n", "\n  ")
				}
			} else {
				msg += "\nit failed at its first statement: nothing of it was applied"
			}
		}
		if stmt := m.stmts.last(); stmt != "" {
			msg += "\nstatement:\n" + "  " + strings.ReplaceAll(strings.TrimSpace(stmt), "\n", "\n  ")
		}
		msg += "\n" + describePgError(partial.Err)
		return e.fail(errors.New(redact(msg, m.dbURL)))
	}
	return e.fail(errors.New(redact(err.Error(), m.dbURL)))
}

// outsideTransaction reports whether the migration file at path runs outside a
// transaction: goose reads the annotation -- +goose NO TRANSACTION in it.
func outsideTransaction(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(render.Annotations(string(data)), func(l string) bool {
		return strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "-- +goose")), "NO TRANSACTION")
	})
}

func describePgError(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		s := fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)
		if pe.Detail != "" {
			s += "\ndetail: " + pe.Detail
		}
		if pe.Hint != "" {
			s += "\nhint: " + pe.Hint
		}
		if pe.Code == "53200" && strings.Contains(pe.Hint, "max_locks_per_transaction") {
			s += "\nnote: a migration runs in one transaction, which holds a lock on every table, index and sequence it creates or changes until it commits;" +
				" the server's lock table holds max_locks_per_transaction × (max_connections + max_prepared_transactions) of them." +
				" Raise max_locks_per_transaction (a restart applies it), or build the tables over several migrations:" +
				" generate with part of schema.yaml's tables, then with all of them."
		}
		return s
	}
	return err.Error()
}

// lockTimedOut reports whether err is a migration that failed waiting for a lock.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// blockers describes the other sessions of the database with a transaction open, the
// oldest first: the ones that may hold the lock a migration waits for. It is "" when
// none can be seen (another role's sessions are hidden from a non-superuser).
func (e *env) blockers(ctx context.Context, m *migrator) string {
	rows, err := m.db.QueryContext(ctx, `SELECT pid, state, to_char(xact_start, 'YYYY-MM-DD HH24:MI:SS TZ'), left(regexp_replace(query, '\s+', ' ', 'g'), 60)
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND backend_type = 'client backend'
		ORDER BY xact_start LIMIT 3`)
	if err != nil {
		return ""
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pid int
		var state, since, query sql.NullString
		if rows.Scan(&pid, &state, &since, &query) == nil {
			out = append(out, fmt.Sprintf("pid %d (%s, transaction open since %s: %s)", pid, state.String, since.String, query.String))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "sessions with a transaction open: " + strings.Join(out, "; ") + "; "
}

func parseVersion(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("--to %q: give a migration version number, such as 3 for 00003_*.sql", s)
	}
	return v, nil
}

// migrate parses the flags of up or down, opens the migrator, runs apply with the --to
// version (nil when not given) and reports the results.
func (e *env) migrate(ctx context.Context, args []string, name, synopsis, description string,
	apply func(p *goose.Provider, to *int64) ([]*goose.MigrationResult, error)) int {
	fs := e.flags(name, synopsis, description)
	dbURL := e.dbFlag(fs)
	dir := fs.String("dir", "migrations", "the migrations directory")
	to := fs.String("to", "", "the target version")
	retries := fs.Int("lock-retries", 5, "times to retry a migration that failed on its lock_timeout")
	backoff := fs.Duration("lock-backoff", time.Second, "wait before the first retry; it doubles for each next one")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	if *retries < 0 || *backoff < 0 {
		fmt.Fprintf(e.stderr, "rlsmigrate %s: --lock-retries (%d) and --lock-backoff (%s) must not be negative\n", name, *retries, *backoff)
		return ExitError
	}
	var target *int64
	if *to != "" {
		v, err := parseVersion(*to)
		if err != nil {
			return e.fail(err)
		}
		target = &v
	}
	m, err := e.openMigrator(ctx, *dir, *dbURL)
	if err != nil {
		return e.fail(err)
	}
	defer m.close()
	var applied []*goose.MigrationResult
	wait := *backoff
	for attempt := 1; ; attempt++ {
		results, err := apply(m.provider, target)
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			applied = append(applied, partial.Applied...)
		} else {
			applied = append(applied, results...)
		}
		if !lockTimedOut(err) || attempt > *retries {
			if code := e.report(m, applied, err); code != ExitOK {
				if lockTimedOut(err) {
					fmt.Fprintf(e.stderr, "gave up after %d attempt(s): every wait for a lock ran out; %send those sessions or run again later\n", attempt, e.blockers(ctx, m))
				}
				return code
			}
			break
		}
		fmt.Fprintf(e.stderr, "waiting: %s could not take a lock within its lock_timeout (attempt %d of %d); %sretrying in %s\n",
			filepath.Base(partial.Failed.Source.Path), attempt, *retries+1, e.blockers(ctx, m), wait)
		select {
		case <-ctx.Done():
			return e.fail(ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	results := applied
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return e.fail(fmt.Errorf("reading the database version: %s", redact(err.Error(), m.dbURL)))
	}
	if len(results) == 0 {
		fmt.Fprintf(e.stdout, "nothing to do: the database is at version %d\n", v)
	} else {
		fmt.Fprintf(e.stdout, "the database is at version %d\n", v)
	}
	return ExitOK
}

func runUp(ctx context.Context, e *env, args []string) int {
	return e.migrate(ctx, args, "up", "[--database-url URL] [--dir migrations] [--to VERSION]",
		`Apply pending migrations in order, each in its own transaction, holding an advisory
lock so that concurrent runs apply each migration once. A failing migration is rolled
back; the ones before it stay applied.`,
		func(p *goose.Provider, to *int64) ([]*goose.MigrationResult, error) {
			if to != nil {
				return p.UpTo(ctx, *to)
			}
			return p.Up(ctx)
		})
}

func runDown(ctx context.Context, e *env, args []string) int {
	return e.migrate(ctx, args, "down", "[--database-url URL] [--dir migrations] [--to VERSION]",
		`Roll back the last applied migration, or with --to every migration above VERSION
(--to 0 rolls back everything).`,
		func(p *goose.Provider, to *int64) ([]*goose.MigrationResult, error) {
			if to != nil {
				return p.DownTo(ctx, *to)
			}
			r, err := p.Down(ctx)
			switch {
			case errors.Is(err, goose.ErrNoNextVersion):
				return nil, nil
			case r == nil || err != nil:
				return nil, err
			}
			return []*goose.MigrationResult{r}, nil
		})
}

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := e.flags("status", "[--database-url URL] [--dir migrations]", "List every migration and whether the database has applied it.")
	dbURL := e.dbFlag(fs)
	dir := fs.String("dir", "migrations", "the migrations directory")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	m, err := e.openMigrator(ctx, *dir, *dbURL)
	if err != nil {
		return e.fail(err)
	}
	defer m.close()
	statuses, err := m.provider.Status(ctx)
	if err != nil {
		return e.fail(fmt.Errorf("reading migration status: %s", redact(err.Error(), m.dbURL)))
	}
	pending := 0
	for _, s := range statuses {
		when := ""
		if s.State == goose.StateApplied {
			when = s.AppliedAt.UTC().Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(e.stdout, "%-8s %-20s %s\n", s.State, when, filepath.Base(s.Source.Path))
	}
	fmt.Fprintf(e.stdout, "%d migration(s), %d pending\n", len(statuses), pending)
	return ExitOK
}

// statementRecorder is a slog handler that keeps the statements goose ran, by migration
// file, so that a failing migration can be reported with the statement that failed and,
// for one that runs outside a transaction, with those that it applied before.
type statementRecorder struct {
	mu       sync.Mutex
	stmt     string
	bySource map[string][]string
}

func (r *statementRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stmt
}

// of returns the statements goose ran of the migration file named source, in order.
func (r *statementRecorder) of(source string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bySource[source])
}

func (r *statementRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *statementRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *statementRecorder) WithGroup(string) slog.Handler            { return r }

func (r *statementRecorder) Handle(_ context.Context, rec slog.Record) error {
	var stmt, source string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "statement":
			stmt = a.Value.String()
		case "source":
			source = a.Value.String()
		}
		return true
	})
	if stmt == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmt = stmt
	if r.bySource == nil {
		r.bySource = map[string][]string{}
	}
	r.bySource[source] = append(r.bySource[source], stmt)
	return nil
}
