package cli

import (
	"path/filepath"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
	"strings"
	"testing"
)

// TestHelpOnceAndVersion: --help printed each command's help twice, once on stderr and
// once on stdout; rlsmigrate --version was an unknown command.
func TestHelpOnceAndVersion(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		r := run(t, "", c.name, "--help")
		if r.code != 0 || r.stderr != "" || strings.Count(r.stdout, "Usage: rlsmigrate "+c.name) != 1 {
			t.Errorf("%s --help: want the usage once on stdout and nothing on stderr:\n%s", c.name, r)
		}
		bad := run(t, "", c.name, "--no-such-flag")
		if bad.code != ExitError || bad.stdout != "" || !strings.Contains(bad.stderr, "flag provided but not defined: -no-such-flag") ||
			!strings.Contains(bad.stderr, c.name+" --help") {
			t.Errorf("%s --no-such-flag:\n%s", c.name, bad)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if r := run(t, "", args...); r.code != 0 || r.stdout != "rlsmigrate "+Version+"\n" {
			t.Errorf("%v:\n%s", args, r)
		}
	}
}

// TestUpShowsNotices: the NOTICE that pg_session_jwt is missing, raised by the first
// migration, was never shown.
func TestUpShowsNotices(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	dir := filepath.Join("..", "..", "migrations")
	r := run(t, "", "up", "--database-url", dbURL, "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stderr, "notice: pg_session_jwt is not available on this server") {
		t.Fatalf("up on a server without pg_session_jwt:\n%s", r)
	}
	if again := run(t, "", "up", "--database-url", dbURL, "--dir", dir); again.code != 0 || again.stderr != "" {
		t.Errorf("a second up printed more than nothing to do:\n%s", again)
	}
}
