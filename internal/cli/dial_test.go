package cli

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	url := fmt.Sprintf("postgres://app@%s/app?sslmode=disable&connect_timeout=60", ln.Addr())
	// A file large enough for diff to open a helper connection too (see helperMinSize).
	padded := strings.Repeat("# a comment that makes the file large\n", int(helperMinSize)/38+1)
	for _, file := range []string{"small.yaml", "large.yaml"} {
		path := filepath.Join(dir, file)
		text := "version: 1\ntables:\n  - name: todos\n    colums: []\n"
		if file == "large.yaml" {
			text = padded + text
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"diff", "verify"} {
			start := time.Now()
			r := run(t, dir, cmd, "--database-url", url, "--schema", path)
			if r.code != ExitError || !strings.Contains(r.stderr, "did you mean \"columns\"") {
				t.Errorf("%s %s: want the file's problem and exit 2, got:\n%s", cmd, file, r)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("%s %s took %v: it waited for the database (connect_timeout 60 s)", cmd, file, took)
			}
		}
	}
}

// turnCounter forwards connections to a server and counts the client's turns on each:
// each time the client sends after the server has (or first), one round trip.
type turnCounter struct {
	ln    net.Listener
	mu    sync.Mutex
	turns []int // per connection, in the order they were accepted
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
			tc.mu.Lock()
			conn := len(tc.turns)
			tc.turns = append(tc.turns, 0)
			tc.mu.Unlock()
			var last atomic.Int32 // 1: the client sent last, 2: the server
			relay := func(dst, src net.Conn, side int32) {
				buf := make([]byte, 64<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if side == 1 && last.Swap(1) != 1 {
							tc.mu.Lock()
							tc.turns[conn]++
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

// counts returns the turns of each connection, most first.
func (tc *turnCounter) counts() []int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return slices.Sorted(slices.Values(tc.turns))
}

// TestDiffRoundTrips counts the round trips of a whole diff, connecting included, on
// each connection: each costs tens of milliseconds to a hosted database. It took 15
// before the catalog's snapshot was begun and ended with its queries (13) and each
// statement went in one round trip rather than two (9). A schema.yaml from
// helperMinSize on has the policies read on a helper connection, which makes its own
// round trips beside the main one's.
func TestDiffRoundTrips(t *testing.T) {
	for _, tables := range []int{3, 40} {
		t.Run(fmt.Sprintf("tables=%d", tables), func(t *testing.T) {
			dbURL := pgtest.NewDB(t)
			schemaPath, _ := builtMany(t, tables, dbURL)
			fi, err := os.Stat(schemaPath)
			if err != nil {
				t.Fatal(err)
			}
			helped := fi.Size() >= helperMinSize
			if helped != (tables == 40) {
				t.Fatalf("schema.yaml of %d tables is %d bytes: with helperMinSize %d, the cases do not test what they say", tables, fi.Size(), helperMinSize)
			}
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
			// The main connection: connecting 1, the catalog 1, normalising schema.yaml 4
			// (begin, its tables, their catalog, rollback), declared rows none, goose's
			// version 2, closing 1. The helper: connecting 1, its snapshot 1, the
			// policies 1, closing 1.
			want := []int{9}
			if helped {
				want = []int{4, 9}
			}
			got := tc.counts()
			t.Logf("diff: %v round trips", got)
			if len(got) != len(want) {
				t.Fatalf("diff made %d connection(s), want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] > want[i] {
					t.Errorf("diff took %v round trips, want at most %v", got, want)
				}
			}
		})
	}
}
