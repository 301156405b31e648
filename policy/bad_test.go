package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestBadInputGoldens loads every file of the bad-input corpus (testdata/bad) as validate
// does, load then compile, and compares the problems with NAME.stderr beside it, whose
// lines are validate's output before its summary (internal/cli's TestBadInputCorpus
// writes them with -update, and runs the commands on the same files).
func TestBadInputGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 50 {
		t.Fatalf("the bad-input corpus has %d files, want at least 50", len(files))
	}
	for _, file := range files {
		want, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".stderr")
		if err != nil {
			t.Fatal(err)
		}
		f, err := policy.Load(file)
		if err == nil {
			_, err = compile.Compile(f)
		}
		var errs policy.Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: %v, want problems with positions", file, err)
			continue
		}
		var got strings.Builder
		for _, e := range errs {
			got.WriteString(e.Error() + "\n")
		}
		lines := strings.SplitAfter(string(want), "\n")
		if len(lines) < 2 || got.String() != strings.Join(lines[:len(lines)-2], "") {
			t.Errorf("%s: the loader reports\n%s\nwant (from %s.stderr)\n%s", file, got.String(), strings.TrimSuffix(filepath.Base(file), ".yaml"), want)
		}
	}
}
