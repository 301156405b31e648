package migdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// TestLoadChecksEveryMigration records a directory, then edits, adds and deletes its
// files, and removes its state: Load names each and says what to run.
func TestLoadChecksEveryMigration(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(d.Path, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("00001_init.sql", "-- +goose Up\nSELECT 1;\n")
	if err := d.Rehash(&schema.Schema{Roles: []string{"authenticated"}}); err != nil {
		t.Fatal(err)
	}
	st, err := d.Load()
	if err != nil || len(st.Files) != 1 || st.Schema.Roles[0] != "authenticated" {
		t.Fatalf("Load: %+v, %v", st, err)
	}
	for _, tc := range []struct {
		name   string
		change func()
		want   string
	}{
		{"edited", func() { write("00001_init.sql", "-- +goose Up\nSELECT 2;\n") }, "00001_init.sql"},
		{"added", func() { write("00002_more.sql", "-- +goose Up\nSELECT 3;\n") }, "00002_more.sql"},
		{"deleted", func() { os.Remove(filepath.Join(d.Path, "00001_init.sql")) }, "00001_init.sql"},
		{"no state", func() { os.Remove(filepath.Join(d.Path, StateFile)) }, "hash --schema"},
	} {
		tc.change()
		if _, err := d.Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load says %v, want a mention of %q", tc.name, err, tc.want)
		}
	}
}

// TestEmptyDirectoryHasEmptyState: a new project starts from nothing.
func TestEmptyDirectoryHasEmptyState(t *testing.T) {
	st, err := Dir{Path: filepath.Join(t.TempDir(), "migrations")}.Load()
	if err != nil || st.Schema == nil || len(st.Schema.Tables) != 0 {
		t.Fatalf("Load of a missing directory: %+v, %v", st, err)
	}
}
