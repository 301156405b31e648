// Package golden compares what a test produced with a golden file beside the test,
// which running the tests with -update rewrites. It is a test helper, never imported by
// rlsmigrate itself.
package golden

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update is the -update flag of every test binary that imports golden.
var Update = flag.Bool("update", false, "rewrite the golden files under testdata")

// Compare compares got with the file at path and reports the difference, or, under
// -update, writes got there.
func Compare(t testing.TB, path, got string) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file %s (run the test with -update to create it): %v", path, err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got; run the test with -update to accept):\n%s", path, d)
	}
}
