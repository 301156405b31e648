package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// mutation is one hand-made change to a database built from a schema, and the single
// finding diff must report for it.
type mutation struct {
	name   string
	sql    string
	kind   string // the finding's kind
	object string // the finding's object
}

// built is a schema.yaml compiled once into migrations that each test applies to a
// fresh database.
type built struct {
	setup             string // SQL run on each fresh database before up
	once              sync.Once
	work, schema, dir string
	err               string
}

var baseSchema built

// build generates the migrations for the schema file src once per test binary.
func (b *built) build(t *testing.T, src string) {
	t.Helper()
	b.once.Do(func() {
		b.work, _ = os.MkdirTemp("", "rlsmigrate-diff-")
		b.schema, b.dir = filepath.Join(b.work, "schema.yaml"), filepath.Join(b.work, "migrations")
		data, err := os.ReadFile(src)
		if err != nil {
			b.err = err.Error()
			return
		}
		os.WriteFile(b.schema, data, 0o644)
		if r := run(t, b.work, "generate", "--schema", b.schema, "--dir", b.dir); r.code != 0 {
			b.err = r.String()
		}
	})
	if b.err != "" {
		t.Fatalf("generating %s: %s", src, b.err)
	}
}

// database builds a fresh database from b with up.
func (b *built) database(t *testing.T) string {
	t.Helper()
	dbURL := pgtest.NewDB(t)
	if b.setup != "" {
		pgtest.MustExec(t, pgtest.Connect(t, dbURL), b.setup)
	}
	if r := run(t, b.work, "up", "--database-url", dbURL, "--dir", b.dir); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	return dbURL
}

// diffReport runs diff --format json and decodes it.
func diffReport(t *testing.T, schemaPath, dbURL string, extra ...string) (*render.Report, result) {
	t.Helper()
	args := append([]string{"diff", "--format", "json", "--schema", schemaPath, "--database-url", dbURL}, extra...)
	r := run(t, "", args...)
	if r.code == ExitError {
		t.Fatalf("diff failed: %s", r)
	}
	var rep render.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("diff printed invalid JSON: %v\n%s", err, r)
	}
	if (len(rep.Findings) > 0) != (r.code == ExitFound) {
		t.Errorf("diff exit code %d does not match %d findings", r.code, len(rep.Findings))
	}
	return &rep, r
}

// runMutations applies each mutation to its own database built from b, checks that diff
// reports exactly the expected finding, then applies diff's SQL and checks that the
// database matches again.
func runMutations(t *testing.T, b *built, src string, muts []mutation) {
	b.build(t, src)
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			runMutation(t, b, m.sql, m.kind+" "+m.object)
		})
	}
}

// runMutation applies sql to a database built from b, checks that diff reports exactly
// the findings want ("kind object", in report order), then applies diff's SQL and checks
// that the database matches again.
func runMutation(t *testing.T, b *built, sql string, want ...string) {
	dbURL := b.database(t)
	conn := pgtest.Connect(t, dbURL)
	pgtest.MustExec(t, conn, sql)
	rep, r := diffReport(t, b.schema, dbURL)
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Kind+" "+f.Object)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after %q diff found [%s], want [%s]\n%s", sql, strings.Join(got, "; "), strings.Join(want, "; "), r.stdout)
	}
	fix := run(t, "", "diff", "--format", "sql", "--schema", b.schema, "--database-url", dbURL)
	if fix.code != ExitFound {
		t.Fatalf("diff --format sql: %s", fix)
	}
	pgtest.RunScript(t, conn, fix.stdout)
	if rep, r := diffReport(t, b.schema, dbURL); len(rep.Findings) != 0 {
		t.Errorf("after applying diff's SQL the database still differs:\n%s\nSQL:\n%s", r.stdout, fix.stdout)
	}
}
