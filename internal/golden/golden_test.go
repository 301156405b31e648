package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompareWritesUnderUpdate: under -update, Compare writes the file; then the same
// text compares equal.
func TestCompareWritesUnderUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "want.txt")
	defer func(was bool) { *Update = was }(*Update)
	*Update = true
	Compare(t, path, "hello\n")
	if data, err := os.ReadFile(path); err != nil || string(data) != "hello\n" {
		t.Fatalf("under -update Compare wrote %q, %v", data, err)
	}
	*Update = false
	Compare(t, path, "hello\n")
}
