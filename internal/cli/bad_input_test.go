package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/policy"
)

// TestBadInputCorpus feeds every broken schema.yaml of the loader's corpus,
// policy/testdata/bad (and one over the size limit), to validate, generate and lint:
// each must exit 2, print an error with file:line:col, not panic, and write nothing into
// migrations/. What validate prints is compared with NAME.stderr beside the file
// (-update rewrites it); the loader's own test reads the same goldens.
func TestBadInputCorpus(t *testing.T) {
	const home = "../../policy" // the corpus's paths print from there, as in its goldens
	files, _ := filepath.Glob(home + "/testdata/bad/*.yaml")
	if len(files) < 50 {
		t.Fatalf("the bad-input corpus has %d files, want at least 50", len(files))
	}
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(huge, []byte("version: 1\n# "+strings.Repeat("x", policy.MaxFileSize)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, huge)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "migrations")
			shown := strings.TrimPrefix(file, home+"/")
			position := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(shown) + `:\d+:\d+: \S`)
			for _, args := range [][]string{
				{"validate", "--schema", file},
				{"generate", "--schema", file, "--dir", dir},
				{"lint", "--schema", file},
			} {
				r := run(t, home, args...)
				if r.code != ExitError {
					t.Errorf("%s: exit %d, want 2\n%s", args[0], r.code, r)
				}
				if !position.MatchString(r.stderr) {
					t.Errorf("%s: no file:line:col error:\n%s", args[0], r)
				}
				if r.stdout != "" {
					t.Errorf("%s printed to stdout on bad input:\n%s", args[0], r)
				}
				if args[0] == "validate" && file != huge {
					compareGolden(t, strings.TrimSuffix(file, ".yaml")+".stderr", r.stderr)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("generate created %s on bad input", dir)
			}
		})
	}
}
