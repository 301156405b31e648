// Package migdir owns the migrations directory: the goose files, and the state file that
// records the schema they build and a checksum of each, so that a migration edited, added
// or deleted by hand is reported instead of built on.
package migdir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
)

// StateFile is the name of the state file inside the migrations directory.
const StateFile = "rlsmigrate.state.json"

// stateFormat is the version of the state file layout.
const stateFormat = 1

// State is what the migrations directory builds, as recorded when it was last written.
type State struct {
	Format int            `json:"format"`
	Files  []FileSum      `json:"files"`
	Schema *schema.Schema `json:"schema"`
}

// FileSum is one migration file and the SHA-256 of its content.
type FileSum struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Dir is a migrations directory.
type Dir struct {
	Path string
}

var migrationName = regexp.MustCompile(`^(\d+)_.*\.sql$`)

// Migrations returns the goose SQL files in the directory, sorted by version.
func (d Dir) Migrations() ([]string, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && migrationName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int { return int(Version(a) - Version(b)) })
	return names, nil
}

// Version returns the version number at the start of a migration file name, or 0.
func Version(name string) int64 {
	m := migrationName.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}

// LastVersion returns the highest version among the migration files, or 0.
func (d Dir) LastVersion() (int64, error) {
	names, err := d.Migrations()
	if err != nil || len(names) == 0 {
		return 0, err
	}
	return Version(names[len(names)-1]), nil
}

// Load returns the recorded state after checking every migration against its checksum.
// An empty or missing directory has an empty state.
func (d Dir) Load() (*State, error) {
	names, err := d.Migrations()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(d.Path, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if len(names) > 0 {
			return nil, fmt.Errorf("%s holds migrations but no %s; restore it from version control, or run \"rlsmigrate hash\" to record the current files", d.Path, StateFile)
		}
		return &State{Format: stateFormat, Schema: &schema.Schema{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading migration state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(d.Path, StateFile), err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("%s has format %d; this rlsmigrate reads format %d", filepath.Join(d.Path, StateFile), st.Format, stateFormat)
	}
	if st.Schema == nil {
		st.Schema = &schema.Schema{}
	}
	if err := d.verify(&st, names); err != nil {
		return nil, err
	}
	return &st, nil
}

// verify reports every migration file that differs from what the state recorded.
func (d Dir) verify(st *State, names []string) error {
	var problems []string
	recorded := map[string]string{}
	for _, f := range st.Files {
		recorded[f.Name] = f.SHA256
		if !slices.Contains(names, f.Name) {
			problems = append(problems, f.Name+" was deleted")
		}
	}
	for _, name := range names {
		sum, ok := recorded[name]
		if !ok {
			problems = append(problems, name+" was added by hand")
			continue
		}
		got, err := fileSum(filepath.Join(d.Path, name))
		if err != nil {
			return err
		}
		if got != sum {
			problems = append(problems, name+" was edited after it was generated")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("migrations in %s do not match %s:\n  %s\nrestore them from version control; if the change is intended, run \"rlsmigrate hash\" to accept it",
		d.Path, StateFile, strings.Join(problems, "\n  "))
}

func fileSum(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading migration: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// Write adds the migration name with content and records s as the schema the directory
// now builds. Files are written whole or not at all: a failure leaves the directory as it
// was.
func (d Dir) Write(name, content string, s *schema.Schema) error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("creating migrations directory: %w", err)
	}
	path := filepath.Join(d.Path, name)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("writing migration: %s already exists", path)
	}
	if err := writeFileAtomic(path, []byte(content)); err != nil {
		return err
	}
	if err := d.Rehash(s); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Rehash records the checksum of every migration file as it is now, and s (or, when s is
// nil, the schema already recorded).
func (d Dir) Rehash(s *schema.Schema) error {
	if s == nil {
		st := &State{Schema: &schema.Schema{}}
		if data, err := os.ReadFile(filepath.Join(d.Path, StateFile)); err == nil {
			if err := json.Unmarshal(data, st); err != nil {
				return fmt.Errorf("reading %s: %w", StateFile, err)
			}
		}
		s = st.Schema
	}
	names, err := d.Migrations()
	if err != nil {
		return err
	}
	st := State{Format: stateFormat, Schema: s, Files: []FileSum{}}
	for _, name := range names {
		sum, err := fileSum(filepath.Join(d.Path, name))
		if err != nil {
			return err
		}
		st.Files = append(st.Files, FileSum{Name: name, SHA256: sum})
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding migration state: %w", err)
	}
	return writeFileAtomic(filepath.Join(d.Path, StateFile), append(data, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
