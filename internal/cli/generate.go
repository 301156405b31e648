package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/rlsmigrate/rlsmigrate/internal/compile"
	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
	"github.com/rlsmigrate/rlsmigrate/policy"
)

// loadSchema loads and compiles the schema.yaml at path, printing every problem and a
// summary line that ends with outcome (what the command did not do).
func (e *env) loadSchema(path, outcome string) (*policy.File, *schema.Schema, bool) {
	data, err := policy.Read(path)
	if err != nil {
		return nil, nil, e.schemaProblems(path, outcome, err)
	}
	return e.compileSchema(path, data, outcome)
}

// compileSchema is loadSchema of the content data of the schema.yaml at path.
func (e *env) compileSchema(path string, data []byte, outcome string) (*policy.File, *schema.Schema, bool) {
	f, err := policy.Parse(path, data)
	var desired *schema.Schema
	if err == nil {
		desired, err = compile.Compile(f)
	}
	if err != nil {
		return nil, nil, e.schemaProblems(path, outcome, err)
	}
	return f, desired, true
}

// schemaProblems prints err, the problems of the schema.yaml at path (or the failure to
// read it), and returns false.
func (e *env) schemaProblems(path, outcome string, err error) bool {
	var errs policy.Errors
	if errors.As(err, &errs) {
		for _, pe := range errs {
			fmt.Fprintln(e.stderr, pe.Error())
		}
		fmt.Fprintf(e.stderr, "%s: %d problem(s)%s\n", path, len(errs), outcome)
	} else {
		e.fail(err)
	}
	return false
}

func runValidate(_ context.Context, e *env, args []string) int {
	fs := e.flags("validate", "[--schema schema.yaml]",
		"Check schema.yaml and print every problem as file:line:col: message.")
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	f, _, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		return ExitError
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d tables)\n", *schemaPath, len(f.Tables))
	return ExitOK
}

func runGenerate(_ context.Context, e *env, args []string) int {
	fs := e.flags("generate", "[--schema schema.yaml] [--dir migrations] [--name NAME] [--check] [--allow-hazards TYPE,...] [--allow-destructive]",
		`Compare schema.yaml with what the migrations in --dir build and write the next goose
migration, NNNNN_<name>.sql, holding only what changed, with a working Down section;
index builds and validations on tables that hold rows go to a second one,
NNNNN_<name>_online.sql, that runs outside a transaction. Works offline and writes the
same bytes for the same input. Each statement's hazards are written above it. Changes
that delete data (drop a table or column, change a column type), drop a policy, disable
row-level security or widen access are refused unless --allow-hazards names their
hazard types (deletes-data, drops-policy, disables-rls, widens-access) or
--allow-destructive allows them all. rlsmigrate plan shows the same without writing.
Renames come only from renamed_from.`)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	dir := fs.String("dir", "migrations", "the migrations directory")
	name := fs.String("name", "", "the migration's name (default: derived from the changes)")
	check := fs.Bool("check", false, "write nothing; exit 1 if schema.yaml has changes no migration holds")
	allow := fs.Bool("allow-destructive", false, "allow every hazardous change (data loss, dropped policies, wider access)")
	allowTypes := fs.String("allow-hazards", "", "comma-separated hazard types to allow: deletes-data, drops-policy, disables-rls, widens-access")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	allowed, err := hazardTypes(*allowTypes)
	if err != nil {
		return e.fail(err)
	}
	if *name != "" && !validName.MatchString(*name) {
		fmt.Fprintf(e.stderr, "error: --name %q: use lower-case letters, digits and underscores\n", *name)
		return ExitError
	}
	data, err := policy.Read(*schemaPath)
	if err != nil {
		e.schemaProblems(*schemaPath, "; nothing was written", err)
		return ExitError
	}
	source := sourceFingerprint(data)
	md := migdir.Dir{Path: *dir}
	// The pull-request case: schema.yaml is the one the state was recorded from, by this
	// rlsmigrate, and no migration changed since: nothing to compile to know it. It
	// only reads; a generate writing meanwhile fails the check, and the full path runs.
	if md.Unchanged(source) {
		fmt.Fprintf(e.stdout, "no changes: %s matches the migrations in %s\n", *schemaPath, *dir)
		return ExitOK
	}
	// The state is decoded while schema.yaml compiles; Load takes it if the file is
	// still the one decoded once the lock is held.
	preload := md.Preload()
	f, desired, ok := e.compileSchema(*schemaPath, data, "; nothing was written")
	if !ok {
		return ExitError
	}
	// The rest needs the File's lock timeout only: the File itself, as large as the
	// schema, is let go.
	lockTimeout := f.LockTimeout
	if !*check {
		// One generate at a time per directory: each writes on what the last wrote.
		unlock, err := md.Lock()
		if err != nil {
			return e.fail(err)
		}
		defer unlock()
		note, err := md.Recover()
		if err != nil {
			return e.fail(err)
		}
		if note != "" {
			fmt.Fprintf(e.stderr, "note: %s\n", strings.ReplaceAll(note, "\n", "\nnote: "))
		}
	}
	state, err := md.LoadWith(preload)
	if err != nil {
		return e.fail(err)
	}
	canonicalTypes(state.Schema)
	changes := diff.Diff(state.Schema, desired)
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "no changes: %s matches the migrations in %s\n", *schemaPath, *dir)
		return ExitOK
	}
	if *check {
		fmt.Fprintf(e.stdout, "%s has %d change(s) that no migration in %s holds:\n", *schemaPath, len(changes), *dir)
		for _, c := range changes {
			fmt.Fprintf(e.stdout, "  %s\n", c)
		}
		fmt.Fprintln(e.stdout, `run "rlsmigrate generate" and commit the new migration`)
		return ExitFound
	}
	if unconvertible := impossibleCasts(changes, objects.TextTypes(state.Schema, desired)); len(unconvertible) > 0 {
		fmt.Fprintf(e.stderr, "error: PostgreSQL cannot convert %d column(s) to their new type:\n  %s\ngive each a using: expression in schema.yaml that computes the new value from the old (for a boolean to a number: using: \"CASE WHEN col THEN 1 ELSE 0 END\"); nothing was written\n",
			len(unconvertible), strings.Join(unconvertible, "\n  "))
		return ExitError
	}
	if blocked, types := refusedChanges(changes, allowed, *allow); len(blocked) > 0 {
		fmt.Fprintf(e.stderr, "error: refusing to write a migration with %d hazardous change(s):\n  %s\nreview them, then run again with --allow-hazards %s (or --allow-destructive); nothing was written\n",
			len(blocked), strings.Join(blocked, "\n  "), strings.Join(types, ","))
		return ExitError
	}
	last, err := md.LastVersion()
	if err != nil {
		return e.fail(err)
	}
	if *name == "" {
		*name = migrationName(changes, last == 0)
	}
	rendered := render.Render(changes, diff.Invert(changes), lockTimeout)
	files := []migdir.File{{Name: fmt.Sprintf("%05d_%s.sql", last+1, *name), Write: rendered.WriteMain}}
	if rendered.HasOnline() {
		files = append(files, migdir.File{Name: fmt.Sprintf("%05d_%s_online.sql", last+2, *name), Write: rendered.WriteOnline})
	}
	if err := md.Write(files, desired, source); err != nil {
		return e.fail(err)
	}
	for i, file := range files {
		if i == 0 {
			fmt.Fprintf(e.stdout, "wrote %s/%s (%d change(s)):\n", *dir, file.Name, len(changes))
		} else {
			fmt.Fprintf(e.stdout, "wrote %s/%s (index builds and validations, outside a transaction)\n", *dir, file.Name)
		}
	}
	for _, c := range changes {
		fmt.Fprintf(e.stdout, "  %s\n", c)
	}
	return ExitOK
}

// hazardTypes reads --allow-hazards: the blocking hazard types it names.
func hazardTypes(list string) ([]diff.Hazard, error) {
	var out []diff.Hazard
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		h := diff.Hazard(s)
		if !slices.Contains(diff.BlockingHazards, h) {
			var names []string
			for _, b := range diff.BlockingHazards {
				names = append(names, string(b))
			}
			return nil, fmt.Errorf("--allow-hazards %q: not a hazard generate refuses (those are: %s; the others are shown, never refused)", s, strings.Join(names, ", "))
		}
		out = append(out, h)
	}
	return out, nil
}

// refusedChanges returns the changes whose blocking hazards are not allowed, and the hazard
// types that would allow them.
func refusedChanges(changes []*diff.Change, allowed []diff.Hazard, all bool) (blocked []string, types []string) {
	if all {
		return nil, nil
	}
	for _, c := range changes {
		stop := false
		for _, h := range c.Blocking() {
			if !slices.Contains(allowed, h) {
				stop = true
				if !slices.Contains(types, string(h)) {
					types = append(types, string(h))
				}
			}
		}
		if stop {
			blocked = append(blocked, c.String())
		}
	}
	return blocked, types
}

// impossibleCasts describes the type changes that have no using: expression and whose
// old type PostgreSQL cannot cast to the new. textTypes (enums) convert to and from
// string types only.
func impossibleCasts(changes []*diff.Change, textTypes []string) []string {
	canCast := func(from, to string) bool {
		if slices.Contains(textTypes, from) || slices.Contains(textTypes, to) {
			return from == to || (slices.Contains(textTypes, from) && sqlparse.StringType(to)) || (slices.Contains(textTypes, to) && sqlparse.StringType(from))
		}
		return sqlparse.CanCast(from, to)
	}
	var out []string
	for _, c := range changes {
		if oc, nc := c.Old.Column, c.New.Column; c.Kind == diff.ColumnType && nc.Using == "" && !canCast(oc.Type, nc.Type) {
			out = append(out, fmt.Sprintf("%s: %s to %s", c.Object(), oc.Type, nc.Type))
		}
	}
	return out
}

// canonicalTypes respells the column types of s as compile does, so that a state
// recorded with another spelling of the same type (int8, timestamptz) is no change.
func canonicalTypes(s *schema.Schema) {
	var cache sqlparse.Cache
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if typ, err := cache.Type(c.Type, sqlident.Quote); err == nil {
				c.Type = typ
			}
		}
	}
}

var validName = regexp.MustCompile(`^[a-z0-9_]{1,100}$`)

// migrationName describes changes in a few words: "init" for the first migration, the
// table's name when one table changes, "update" otherwise.
func migrationName(changes []*diff.Change, first bool) string {
	if first {
		return "init"
	}
	tables := map[string]bool{}
	verb := "alter"
	for _, c := range changes {
		if c.Table == "" {
			return "update"
		}
		tables[c.Table] = true
		switch c.Kind {
		case diff.TableCreate:
			verb = "create"
		case diff.TableDrop:
			verb = "drop"
		}
	}
	if len(tables) != 1 {
		return "update"
	}
	for t := range tables {
		if n := strings.ToLower(t); validName.MatchString(verb + "_" + n) {
			return verb + "_" + n
		}
	}
	return "update"
}

// firstHandWritten returns the name of the directory's first migration when
// rlsmigrate did not write it, or "".
func firstHandWritten(md migdir.Dir) (string, error) {
	names, err := md.Migrations()
	if err != nil || len(names) == 0 {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(md.Path, names[0]))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", names[0], err)
	}
	if strings.HasPrefix(string(data), render.Header) {
		return "", nil
	}
	return names[0], nil
}

func runState(_ context.Context, e *env, args []string) int {
	fs := e.flags("state", "show [--dir migrations]",
		`Print the schema the migrations build, as the state file (rlsmigrate.state.json)
records it, with the migration files and their checksums: indented JSON, every value
the file writes once and refers to (a column or condition many tables repeat) in place.
Review it beside the migrations; generate is what writes it.`)
	dir := fs.String("dir", "migrations", "the migrations directory")
	show := len(args) > 0 && args[0] == "show"
	if show {
		args = args[1:]
	}
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	if !show || fs.NArg() > 0 {
		fmt.Fprintln(e.stderr, "usage: rlsmigrate state show [--dir migrations]")
		return ExitError
	}
	path := filepath.Join(*dir, migdir.StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return e.fail(fmt.Errorf("reading the migration state: %w", err))
	}
	out, err := migdir.Show(path, data)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "%s\n", out)
	return ExitOK
}

func runHash(_ context.Context, e *env, args []string) int {
	fs := e.flags("hash", "[--dir migrations] [--schema schema.yaml]",
		`Record the checksum of every migration file as it is now. Run it after editing,
adding or deleting a migration on purpose; generate and up refuse to build on a
directory whose files differ from the recorded checksums. The schema the migrations
build stays as recorded; with --schema, the given schema.yaml is recorded as that
schema instead (needed when the state file is missing, and when the edit changed what
the migrations build). When the first migration was written by hand, the identity
setup (roles, schema auth and its functions) is not recorded as built: the next
generate writes it, in statements that do nothing where it exists.`)
	dir := fs.String("dir", "migrations", "the migrations directory")
	schemaPath := fs.String("schema", "", "record this schema.yaml as what the migrations build")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	var desired *schema.Schema
	if *schemaPath != "" {
		var ok bool
		if _, desired, ok = e.loadSchema(*schemaPath, "; nothing was written"); !ok {
			return ExitError
		}
	}
	md := migdir.Dir{Path: *dir}
	unlock, err := md.Lock()
	if err != nil {
		return e.fail(err)
	}
	defer unlock()
	handWritten, err := firstHandWritten(md)
	if err != nil {
		return e.fail(err)
	}
	if desired != nil && handWritten != "" {
		// A hand-written first migration may not have made the identity setup (roles,
		// schema auth, its functions): it is not recorded as built, and the next
		// migration makes it, as every statement of it does nothing where it exists.
		desired.Auth, desired.Functions, desired.Roles = nil, nil, nil
		fmt.Fprintf(e.stdout, "%s was not written by rlsmigrate: the identity setup (roles, auth functions) is left to the next generate, which writes it so that it does nothing where it exists\n", handWritten)
	}
	if err := md.Rehash(desired); errors.Is(err, migdir.ErrNoState) {
		return e.fail(fmt.Errorf("%s has no %s, so there is no recorded schema to keep: run \"rlsmigrate hash --schema schema.yaml\" with the schema.yaml these migrations build; nothing was written", *dir, migdir.StateFile))
	} else if err != nil {
		return e.fail(err)
	}
	names, _ := md.Migrations()
	fmt.Fprintf(e.stdout, "recorded %d migration(s) in %s/%s\n", len(names), *dir, migdir.StateFile)
	return ExitOK
}

// buildIdentity names the rlsmigrate that runs: its module version, or the commit it
// was built from; "" when neither is known or the build's tree had changes, which
// leaves every generate to compile.
var buildIdentity = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			revision = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			return ""
		}
	}
	return revision
})

// sourceFingerprint identifies the schema.yaml content data as this rlsmigrate
// compiles it, for the state file (migdir.State.Source); "" when the build is unknown.
func sourceFingerprint(data []byte) string {
	id := buildIdentity()
	if id == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
