package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/schemagen"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic; reading its
// tables in pieces gives what reading it whole does; a rejected file reports problems
// with positions; an accepted one compiles and renders.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../schema.yaml", "../internal/cli/testdata/generate/*/steps/*.yaml", "testdata/bad/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	// Schemas the convergence test's generator draws, and their edits: every key the
	// format allows, in any combination.
	for seed := uint64(1); seed <= 3; seed++ {
		g := schemagen.New(seed)
		cur := g.Schema()
		f.Add([]byte(cur.YAML()))
		for range 20 {
			if next, what := g.Step(cur); what != "" {
				f.Add([]byte(next.YAML()))
				cur = next
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if d := policy.ReadingsDiffer(data); d != "" {
			t.Fatalf("reading the tables in pieces and reading the file whole differ: %s", d)
		}
		file, err := policy.Parse("schema.yaml", data)
		if err != nil {
			var errs policy.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse returned %T %v, want policy.Errors", err, err)
			}
			for _, e := range errs {
				if e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("problem without a position or message: %+v", e)
				}
			}
			return
		}
		s, err := compile.Compile(file)
		if err != nil {
			var errs policy.Errors
			if !errors.As(err, &errs) || len(errs) == 0 || errs[0].Line < 1 {
				t.Fatalf("Compile returned %T %v, want policy.Errors with positions", err, err)
			}
			return
		}
		changes := diff.Diff(&schema.Schema{}, s)
		if out, _ := render.Migration(changes, diff.Invert(changes), policy.DefaultLockTimeout); len(out) == 0 {
			t.Fatal("an accepted schema rendered nothing")
		}
		if again, _ := compile.Compile(file); len(diff.Diff(s, again)) != 0 {
			t.Fatalf("a schema differs from itself: %v", diff.Diff(s, again))
		}
	})
}
