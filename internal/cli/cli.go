// Package cli is the rlsmigrate command line: subcommands, flags and exit codes. It is the
// only package that prints.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes shared by every command.
const (
	ExitOK    = 0 // success, nothing found
	ExitFound = 1 // a check found something
	ExitError = 2 // bad input or a failure
)

// Version is the rlsmigrate version, set at build time.
var Version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) int
}

func commands() []command {
	return []command{
		{"validate", "check schema.yaml and report every problem with its line and column", runValidate},
		{"generate", "write the next goose migration from the changes in schema.yaml", runGenerate},
		{"plan", "show the statements generate would write, with their locks and hazards", runPlan},
		{"hash", "record the current migration files as intended after a hand edit", runHash},
		{"state", "print what the migrations build, as the state file records it (state show)", runState},
		{"up", "apply pending migrations to a database", runUp},
		{"down", "roll back the last migration, or down to a version", runDown},
		{"status", "list migrations and whether each is applied", runStatus},
		{"diff", "compare schema.yaml with a live database", runDiff},
		{"pull", "write schema.yaml from a live database, its policies read back as rules", runPull},
		{"lint", "catch row-level-security mistakes in schema.yaml and the database", runLint},
		{"verify", "prove on a database that the policies isolate users", runVerify},
		{"version", "print the rlsmigrate version", runVersion},
	}
}

// env is what every command writes to and reads from.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Run runs the rlsmigrate command line with args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		usage(stderr)
		return ExitError
	}
	name := args[0]
	switch name {
	case "--version", "-version":
		fmt.Fprintf(stdout, "rlsmigrate %s\n", Version)
		return ExitOK
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return Run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "rlsmigrate: unknown command %q\n\n", name)
	usage(stderr)
	return ExitError
}

func usage(w io.Writer) {
	fmt.Fprint(w, `rlsmigrate keeps a Postgres app's tables and their row-level-security rules as code.

Usage:
  rlsmigrate <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "rlsmigrate <command> --help" for a command's flags.
Exit codes: 0 success, 1 the check found something, 2 bad input or error.
`)
}

// flags returns a flag set for a command whose help text is synopsis and description.
func (e *env) flags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		if f := fs.Lookup("format"); f != nil {
			if c, ok := f.Value.(interface{ choices() string }); ok {
				synopsis = strings.Replace(synopsis, "FORMATS", c.choices(), 1) // from the command's format table
			}
		}
		fmt.Fprintf(out, "Usage: rlsmigrate %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and returns the exit code to stop with, or -1 to go on. Help goes
// to stdout once; a flag error goes to stderr with where to find the flags.
func (e *env) parse(fs *flag.FlagSet, args []string) int {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return ExitOK
		}
		fmt.Fprintf(e.stderr, "rlsmigrate %s: %v\nrun \"rlsmigrate %s --help\" for its flags\n", fs.Name(), err, fs.Name())
		return ExitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "rlsmigrate %s: unexpected argument %q (flags go before nothing else; see --help)\n", fs.Name(), fs.Arg(0))
		return ExitError
	}
	return -1
}

// fail prints err and returns ExitError.
func (e *env) fail(err error) int {
	msg := err.Error()
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprint(e.stderr, "error: "+msg)
	return ExitError
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := e.flags("version", "", "Print the rlsmigrate version.")
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	fmt.Fprintf(e.stdout, "rlsmigrate %s\n", Version)
	return ExitOK
}
