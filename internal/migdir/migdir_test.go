package migdir

import (
	"errors"
	"io"
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

// TestWriteStreamsEachFile: Write hashes what each File's Write writes, as it writes it,
// so Load accepts the result; it calls each Write once and clears it; a Write that fails
// leaves the directory as it was, without a half-written file or a changed state.
func TestWriteStreamsEachFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	calls := 0
	body := strings.Repeat("SELECT 1;\n", 20000) // larger than any buffer on the way
	files := []File{{Name: "00001_init.sql", Write: func(w io.Writer) error {
		calls++
		_, err := io.WriteString(w, "-- +goose Up\n"+body)
		return err
	}}}
	if err := d.Write(files, &schema.Schema{Roles: []string{"authenticated"}}, ""); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || files[0].Write != nil {
		t.Errorf("Write called the file's writer %d time(s) and left it set: %v", calls, files[0].Write != nil)
	}
	if got, err := os.ReadFile(filepath.Join(d.Path, "00001_init.sql")); err != nil || string(got) != "-- +goose Up\n"+body {
		t.Fatalf("the migration holds %d bytes (%v), want %d", len(got), err, len("-- +goose Up\n"+body))
	}
	st, err := d.Load()
	if err != nil || len(st.Files) != 1 {
		t.Fatalf("Load after Write: %+v, %v", st, err)
	}
	before, err := os.ReadDir(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	failing := []File{{Name: "00002_more.sql", Write: func(w io.Writer) error {
		io.WriteString(w, "-- +goose Up\n"+body)
		return errors.New("disk full")
	}}}
	if err := d.Write(failing, &schema.Schema{}, ""); err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "00002_more.sql") {
		t.Fatalf("Write with a failing writer: %v, want the writer's error and the file's name", err)
	}
	after, err := os.ReadDir(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("a failed Write left %d entries where there were %d: %v", len(after), len(before), after)
	}
	if st, err := d.Load(); err != nil || len(st.Files) != 1 || st.Schema.Roles[0] != "authenticated" {
		t.Errorf("the state changed after a failed Write: %+v, %v", st, err)
	}
}

// TestLoadWithTakesAPreloadOfTheSameBytes: LoadWith uses the state Preload decoded only
// while the state file holds the bytes it read; a state written in between (another
// generate, before the caller took the lock) is read again, and a state Preload could
// not decode gives the error Load gives.
func TestLoadWithTakesAPreloadOfTheSameBytes(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	record := func(role string) {
		if err := d.Rehash(&schema.Schema{Roles: []string{role}}); err != nil {
			t.Fatal(err)
		}
	}
	record("authenticated")

	p := d.Preload()
	<-p.done
	preloaded := p.st
	st, err := d.LoadWith(p)
	if err != nil || preloaded == nil || st != preloaded || p.st != nil {
		t.Fatalf("LoadWith of an unchanged state: %p (%v), want the preloaded %p, taken once", st, err, preloaded)
	}

	p = d.Preload()
	<-p.done
	record("anonymous")
	if st, err := d.LoadWith(p); err != nil || st.Schema.Roles[0] != "anonymous" {
		t.Fatalf("LoadWith of a state written after the preload: %+v, %v, want the new state's role anonymous", st, err)
	}

	if err := os.WriteFile(filepath.Join(d.Path, StateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want := d.Load()
	if _, err := d.LoadWith(d.Preload()); err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("LoadWith of a broken state: %v, want Load's error %v", err, want)
	}
}
