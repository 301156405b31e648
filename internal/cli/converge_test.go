package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
)

// The convergence property: for random schemas and random edit sequences, every
// migration generate writes applies, the database it builds diffs empty against the
// schema.yaml it came from, and its Down section brings the database back to the
// previous schema.yaml. RLSMIGRATE_CONVERGE_STEPS sets the steps per seed (default 60),
// RLSMIGRATE_CONVERGE_SEEDS the number of seeds (default 6), RLSMIGRATE_CONVERGE_FIRST_SEED
// the first (default 1), so that a long run can go on where another stopped.

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestConvergence(t *testing.T) {
	steps := envInt("RLSMIGRATE_CONVERGE_STEPS", 60)
	seeds := envInt("RLSMIGRATE_CONVERGE_SEEDS", 6)
	if testing.Short() {
		steps, seeds = 10, 2
	}
	// The generator must reach the rule kinds it knows, or the property says nothing of
	// them: checked over the whole run, once every seed is done.
	var mu sync.Mutex
	total := map[string]int{}
	t.Cleanup(func() {
		if steps >= 60 && (total["member"] == 0 || total["claim"] == 0 || total["rows"] == 0) {
			t.Errorf("over %d seeds, schemas holding each feature: %v; want member and claim rules, and declared rows", seeds, total)
		}
	})
	first := envInt("RLSMIGRATE_CONVERGE_FIRST_SEED", 1)
	for seed := first; seed < first+seeds; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			// Every third seed draws for a Supabase database, on its stand-in.
			g, dbURL := schemagen.New(uint64(seed)), ""
			if seed%3 == 0 {
				g, dbURL = g.Supabase(), pgtest.NewSupabaseDB(t)
			}
			cur := g.Schema()
			var history []string
			refused := 0
			seen := map[string]int{}
			c := newConverger(t, dbURL)
			if msg := c.step(cur.YAML()); msg != "" {
				t.Fatalf("seed %d, initial schema:\n%s\n%s", seed, cur.YAML(), msg)
			}
			for i := 0; i < steps; i++ {
				next, what := g.Step(cur)
				if what == "" {
					continue
				}
				msg := c.step(next.YAML())
				if msg == errRefused {
					refused++
					continue
				}
				history = append(history, what)
				asJSON := *next
				asJSON.Form = schemagen.JSON // keys are quoted there
				for _, f := range features {
					if strings.Contains(asJSON.YAML(), `"`+f+`"`) {
						seen[f]++
					}
				}
				if msg != "" {
					t.Fatalf("seed %d, step %d (%s) failed after:\n  %s\n%s\nschema.yaml:\n%s", seed, i, what,
						strings.Join(history, "\n  "), msg, next.YAML())
				}
				cur = next
			}
			t.Logf("seed %d: %d edits applied, %d refused by generate; schemas holding each feature: %v", seed, len(history), refused, seen)
			mu.Lock()
			for f, n := range seen {
				total[f] += n
			}
			mu.Unlock()
		})
	}
}

// features are schema.yaml keys the convergence log counts schemas by.
var features = []string{"groups", "member", "through", "claim", "where", "immutable", "rows", "copy"}

// errRefused is what step returns when generate refused the schema with a reason (a
// type PostgreSQL cannot convert to), which leaves everything as it was.
const errRefused = "refused"

// converger applies successive versions of schema.yaml to one database.
type converger struct {
	t                testing.TB
	work, dir, dbURL string
	prev             string // the previous schema.yaml, "" before the first step
}

// newConverger starts on database dbURL, or on a fresh one that holds auth.users as
// Supabase's do ("" for it): the generator's schemas may reference it as an external
// table.
func newConverger(t *testing.T, dbURL string) *converger {
	work := t.TempDir()
	if dbURL == "" {
		dbURL = pgtest.NewDB(t)
		pgtest.MustExec(t, pgtest.Connect(t, dbURL), schemagen.UsersTableSQL)
	}
	return &converger{t: t, work: work, dir: filepath.Join(work, "migrations"), dbURL: dbURL}
}

// step makes src the schema.yaml and checks the convergence property for it; it returns
// what went wrong, or "".
func (c *converger) step(src string) string {
	t := c.t.(*testing.T)
	schemaPath := filepath.Join(c.work, "schema.yaml")
	prevPath := filepath.Join(c.work, "previous.yaml")
	if err := os.WriteFile(schemaPath, []byte(src), 0o644); err != nil {
		return err.Error()
	}
	common := []string{"--database-url", c.dbURL, "--dir", c.dir}
	// A generate may write two migrations (the second outside a transaction): down
	// goes back to the version before it.
	before, err := migdir.Dir{Path: c.dir}.LastVersion()
	if err != nil {
		return err.Error()
	}
	r := run(t, c.work, "generate", "--schema", schemaPath, "--dir", c.dir, "--allow-destructive")
	if r.code != 0 && strings.Contains(r.stderr, "PostgreSQL cannot convert") {
		return errRefused
	}
	if r.code != 0 {
		return "generate:\n" + r.String()
	}
	wrote := strings.HasPrefix(r.stdout, "wrote ")
	if r := run(t, c.work, append([]string{"up"}, common...)...); r.code != 0 {
		return "up:\n" + r.String() + c.lastMigration()
	}
	if r := run(t, c.work, "diff", "--schema", schemaPath, "--database-url", c.dbURL); r.code != 0 {
		return "diff after up:\n" + r.String() + c.lastMigration()
	}
	if r := run(t, c.work, "generate", "--check", "--schema", schemaPath, "--dir", c.dir); r.code != 0 {
		return "generate --check after generate:\n" + r.String()
	}
	if wrote && c.prev != "" {
		if err := os.WriteFile(prevPath, []byte(c.prev), 0o644); err != nil {
			return err.Error()
		}
		if r := run(t, c.work, append([]string{"down", "--to", fmt.Sprint(before)}, common...)...); r.code != 0 {
			return "down:\n" + r.String() + c.lastMigration()
		}
		if r := run(t, c.work, "diff", "--schema", prevPath, "--database-url", c.dbURL); r.code != 0 {
			return "diff against the previous schema.yaml after down:\n" + r.String() + c.lastMigration() + "\nprevious schema.yaml:\n" + c.prev
		}
		if r := run(t, c.work, append([]string{"up"}, common...)...); r.code != 0 {
			return "up after down:\n" + r.String()
		}
	}
	c.prev = src
	return ""
}

// lastMigration returns the newest migration file, for failure messages.
func (c *converger) lastMigration() string {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.sql"))
	if len(files) == 0 {
		return ""
	}
	slices.Sort(files)
	last := files[len(files)-1:]
	if strings.HasSuffix(last[0], "_online.sql") && len(files) > 1 {
		last = files[len(files)-2:] // and the migration it follows
	}
	var out string
	for _, f := range last {
		data, _ := os.ReadFile(f)
		out += "\n" + filepath.Base(f) + ":\n" + string(data)
	}
	return out
}
