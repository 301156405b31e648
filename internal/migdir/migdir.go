// Package migdir owns the migrations directory: the goose files, and the state file that
// records the schema they build and a checksum of each, so that a migration edited, added
// or deleted by hand is reported instead of built on.
package migdir

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
func (d Dir) Load() (*State, error) { return d.LoadWith(nil) }

// preloadMax is the largest state file Preload decodes: a larger one (about 8,000
// tables of the README's shape) is decoded by LoadWith, after the caller's work, so
// that its model and the caller's do not add up in the peak.
const preloadMax = 4 << 20

// Preload is a state file read and decoded by Dir.Preload, for LoadWith to use.
type Preload struct {
	done chan struct{}
	sum  [sha256.Size]byte // of the bytes st was decoded from
	st   *State
}

// Preload starts reading and decoding the state file on a goroutine of its own, beside
// what the caller does next (compiling schema.yaml). Nothing it finds is reported: a
// missing, large or unreadable state file is left to LoadWith, as Load reads it.
func (d Dir) Preload() *Preload {
	p := &Preload{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		path := filepath.Join(d.Path, StateFile)
		if info, err := os.Stat(path); err != nil || info.Size() > preloadMax {
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if st, err := decodeState(path, data); err == nil {
			p.sum, p.st = sha256.Sum256(data), st
		}
	}()
	return p
}

// LoadWith is Load, taking the state p decoded (if p is not nil) when the state file
// still holds the bytes p read: another generate may have written it since, before
// the caller took the lock. A Preload's state is used once.
func (d Dir) LoadWith(p *Preload) (*State, error) {
	names, err := d.Migrations()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(d.Path, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if len(names) > 0 {
			return nil, fmt.Errorf("%s holds migrations but no %s; restore it from version control, or run \"rlsmigrate hash --schema schema.yaml\" with the schema.yaml these migrations build", d.Path, StateFile)
		}
		return &State{Schema: &schema.Schema{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading migration state: %w", err)
	}
	var st *State
	if p != nil {
		<-p.done
		if p.st != nil && p.sum == sha256.Sum256(data) {
			st = p.st
		}
		p.st = nil
	}
	if st == nil {
		if st, err = decodeState(filepath.Join(d.Path, StateFile), data); err != nil {
			return nil, err
		}
	}
	if err := d.verify(st, names); err != nil {
		return nil, err
	}
	return st, nil
}

// Unchanged reports whether the state was recorded from source (see State.Source) and
// every migration is the one it recorded: then what the migrations build is what
// source compiles to, and nothing need be compiled to know it. It reads the state
// without its schema; any problem (a missing or unreadable state, a migration edited)
// is false, for the full Load to report.
func (d Dir) Unchanged(source string) bool {
	if source == "" {
		return false
	}
	f, err := os.Open(filepath.Join(d.Path, StateFile))
	if err != nil {
		return false
	}
	defer f.Close()
	h, ok := readHeader(bufio.NewReader(f))
	if !ok || h.Format != stateFormat || h.Source != source {
		return false
	}
	names, err := d.Migrations()
	return err == nil && d.verify(&State{Files: h.Files}, names) == nil
}

// readHeader reads a state file's format, source and files, and leaves its schema
// unread when they come first, as the encoder writes them.
func readHeader(r io.Reader) (savedHeader, bool) {
	var h savedHeader
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return h, false
		}
		switch key {
		case "format":
			err = dec.Decode(&h.Format)
		case "source":
			err = dec.Decode(&h.Source)
		case "files":
			err = dec.Decode(&h.Files)
		default:
			if h.Source != "" && h.Files != nil {
				return h, true // the schema, after the header: left unread
			}
			err = dec.Decode(&json.RawMessage{}) // keys in another order: skipped
		}
		if err != nil {
			return h, false
		}
	}
	return h, true
}

// verify reports every migration file that differs from what the state recorded.
func (d Dir) verify(st *State, names []string) error {
	var problems []string
	recorded := map[string]string{}
	for _, f := range st.Files {
		recorded[f.Name] = f.SHA256
		if !slices.Contains(names, f.Name) {
			if d.pending(f.Name) != "" {
				problems = append(problems, f.Name+" was recorded by a generate that was interrupted before it finished: run \"rlsmigrate generate\" to finish it")
			} else {
				problems = append(problems, f.Name+" was deleted")
			}
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

// fileSum returns the sha256 of the file at path, in hex.
func fileSum(path string) (string, error) {
	// Hashed as it is read: a first migration of 50,000 tables is 56 MB.
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading migration: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading migration: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// File is a migration to write: its name and what writes its content.
type File struct {
	Name string
	// Write writes the content. Dir.Write calls it once and then clears it, so that
	// what it holds (the rendered statements of a migration of tens of megabytes) can be
	// let go before the state is recorded.
	Write func(io.Writer) error
}

// Write adds the migrations files and records s as the schema the directory now builds.
// The caller holds Lock. A crash at any point leaves a directory that Load either
// accepts as it was before, or, once Recover has run, as it is after: the migrations go
// to hidden temporary files first, then the state that lists them is renamed into place
// (the commit), then the migrations are renamed into place.
func (d Dir) Write(files []File, s *schema.Schema, source string) error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("creating migrations directory: %w", err)
	}
	var tmps []string
	defer func() {
		for _, tmp := range tmps {
			os.Remove(tmp) // once renamed, already gone
		}
	}()
	var sums []FileSum
	for i, f := range files {
		path := filepath.Join(d.Path, f.Name)
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("writing migration: %s already exists", path)
		}
		// The content is written and hashed as it is made, without a copy: a first
		// migration of tens of thousands of tables is tens of megabytes.
		h := sha256.New()
		tmp, err := writeTemp(path, func(w io.Writer) error { return f.Write(io.MultiWriter(h, w)) })
		files[i].Write = nil
		if err != nil {
			return err
		}
		tmps = append(tmps, tmp)
		sums = append(sums, FileSum{Name: f.Name, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	if err := d.record(s, source, sums...); err != nil {
		return err
	}
	for i, f := range files {
		path := filepath.Join(d.Path, f.Name)
		if err := os.Rename(tmps[i], path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return syncDir(d.Path)
}

// pending returns the hidden temporary file that holds migration name, or "".
func (d Dir) pending(name string) string {
	matches, _ := filepath.Glob(filepath.Join(d.Path, "."+name+".tmp*"))
	if len(matches) == 0 {
		return ""
	}
	return matches[0]
}

// Recover finishes a Write that a crash interrupted after its commit (the state lists a
// migration still in its temporary file) and removes temporary files of writes that
// never committed. The caller holds Lock. It returns what it did, for the user, or "".
func (d Dir) Recover() (string, error) {
	data, err := os.ReadFile(filepath.Join(d.Path, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		data = nil
	} else if err != nil {
		return "", fmt.Errorf("reading migration state: %w", err)
	}
	st := &State{}
	if data != nil {
		if st, err = decodeState(filepath.Join(d.Path, StateFile), data); err != nil {
			return "", err
		}
	}
	var notes []string
	for _, f := range st.Files {
		path := filepath.Join(d.Path, f.Name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		tmp := d.pending(f.Name)
		if tmp == "" {
			continue // Load reports it as deleted
		}
		if sum, err := fileSum(tmp); err != nil || sum != f.SHA256 {
			continue
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("finishing an interrupted generate: %w", err)
		}
		notes = append(notes, "finished writing "+f.Name+", which an interrupted generate had recorded")
	}
	leftovers, _ := filepath.Glob(filepath.Join(d.Path, ".*.tmp*"))
	for _, f := range leftovers {
		if err := os.Remove(f); err != nil {
			return "", fmt.Errorf("removing %s: %w", f, err)
		}
		notes = append(notes, "removed "+filepath.Base(f)+", left by an interrupted generate")
	}
	return strings.Join(notes, "\n"), syncDir(d.Path)
}

// ErrNoState is returned by Rehash when there is no recorded schema to keep.
var ErrNoState = errors.New("no recorded state")

// Rehash records the checksum of every migration file as it is now, and s as the schema
// the directory builds (or, when s is nil, the schema already recorded; without a state
// file that is ErrNoState, since an empty schema would make the next generate write
// every table again).
func (d Dir) Rehash(s *schema.Schema) error {
	if s == nil {
		data, err := os.ReadFile(filepath.Join(d.Path, StateFile))
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNoState
		}
		if err != nil {
			return fmt.Errorf("reading migration state: %w", err)
		}
		st, err := decodeState(filepath.Join(d.Path, StateFile), data)
		if err != nil {
			return err
		}
		s = st.Schema
	}
	return d.record(s, "")
}

// record writes the state: s, compiled from source (see State.Source), the checksum of
// every migration file, and extra, files that are about to be renamed into place.
func (d Dir) record(s *schema.Schema, source string, extra ...FileSum) error {
	names, err := d.Migrations()
	if err != nil {
		return err
	}
	st := &State{Schema: s, Files: []FileSum{}, Source: source}
	for _, name := range names {
		sum, err := fileSum(filepath.Join(d.Path, name))
		if err != nil {
			return err
		}
		st.Files = append(st.Files, FileSum{Name: name, SHA256: sum})
	}
	st.Files = append(st.Files, extra...)
	return writeAtomic(filepath.Join(d.Path, StateFile), func(w io.Writer) error { return encodeState(w, st) })
}

// WriteFileAtomic writes data to a temporary file beside path and renames it into place:
// a reader sees the old file or the whole new one, never part of it.
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic is WriteFileAtomic of what write writes.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := writeTemp(path, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data, synced, to a hidden temporary file beside path and returns its
// name.
func writeTemp(path string, write func(io.Writer) error) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	buf := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(buf); err != nil {
		return fail(err)
	}
	if err := buf.Flush(); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	return tmp.Name(), nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	f.Sync() // not every file system syncs directories; the renames stand either way
	return nil
}
