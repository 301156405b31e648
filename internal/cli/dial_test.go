package cli

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// TestProblemsDoNotWaitForTheDatabase: diff and verify start connecting while they read
// schema.yaml; when the file has problems, those are reported and the connection is
// abandoned, not waited for, even to a server that accepts and never answers.
func TestProblemsDoNotWaitForTheDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	dir := t.TempDir()
	path := filepath.Join(dir, "schema.yaml")
	if err := os.WriteFile(path, []byte("version: 1\ntables:\n  - name: todos\n    colums: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://app@%s/app?sslmode=disable&connect_timeout=60", ln.Addr())
	for _, cmd := range []string{"diff", "verify"} {
		start := time.Now()
		r := run(t, dir, cmd, "--database-url", url, "--schema", path)
		if r.code != ExitError || !strings.Contains(r.stderr, "did you mean \"columns\"") {
			t.Errorf("%s: want the file's problem and exit 2, got:\n%s", cmd, r)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s took %v: it waited for the database (connect_timeout 60 s)", cmd, took)
		}
	}
}

// turnCounter forwards connections to a server and counts the client's turns: each
// time the client sends after the server has (or first), one round trip.
type turnCounter struct {
	ln    net.Listener
	mu    sync.Mutex
	turns int
}

func countTurns(t *testing.T, target string) *turnCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &turnCounter{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			var last atomic.Int32 // 1: the client sent last, 2: the server
			relay := func(dst, src net.Conn, side int32) {
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if side == 1 && last.Swap(1) != 1 {
							tc.mu.Lock()
							tc.turns++
							tc.mu.Unlock()
						}
						if side == 2 {
							last.Store(2)
						}
						if _, err := dst.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				dst.Close()
				src.Close()
			}
			go relay(server, client, 1)
			go relay(client, server, 2)
		}
	}()
	return tc
}

func (tc *turnCounter) count() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.turns
}

// TestDiffRoundTrips counts the round trips of a whole diff, connecting included: each
// costs tens of milliseconds to a hosted database. It took 15 before the catalog's
// snapshot was begun and ended with its queries (13) and each statement went in one
// round trip rather than two (9).
func TestDiffRoundTrips(t *testing.T) {
	dbURL := pgtest.NewDB(t)
	schemaPath, _ := builtMany(t, 3, dbURL)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	tc := countTurns(t, u.Host)
	u.Host = tc.ln.Addr().String()
	r := run(t, "", "diff", "--database-url", u.String(), "--schema", schemaPath)
	if r.code != ExitOK {
		t.Fatalf("diff: %s", r)
	}
	// Connecting 1, the catalog 1, normalising schema.yaml 4 (begin, its tables, their
	// catalog, rollback), declared rows none, goose's version 2, closing 1.
	t.Logf("diff: %d round trips", tc.count())
	if got, want := tc.count(), 9; got > want {
		t.Errorf("diff took %d round trips, want at most %d", got, want)
	}
}
