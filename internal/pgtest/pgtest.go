// Package pgtest gives tests a real PostgreSQL: a throwaway server started from the
// machine's initdb and pg_ctl on a free port in a temporary directory (as an unprivileged
// user when the tests run as root), and a fresh database per test. Setting
// RLSMIGRATE_TEST_DATABASE_URL to a superuser URL uses that server instead.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "RLSMIGRATE_TEST_DATABASE_URL"

// Server is a running PostgreSQL server.
type Server struct {
	// URL connects as a superuser to the server's maintenance database.
	URL  string
	stop func()
}

var (
	shared   *Server
	sharedMu sync.Mutex
	counter  atomic.Int64
)

// Main starts a server for the package's tests, runs them, and stops the server.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.Stop()
	}
	sharedMu.Unlock()
	os.Exit(code)
}

// Shared returns the package's server, starting it on first use.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		s, err := Start()
		if err != nil {
			t.Fatalf("starting PostgreSQL for tests: %v", err)
		}
		shared = s
	}
	return shared
}

// Stop stops a server this package started; it leaves an external server running.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
	}
}

// Start returns the server named by RLSMIGRATE_TEST_DATABASE_URL, or starts one.
func Start() (*Server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{URL: u}, nil
	}
	return startWith(nil)
}

// startWith starts a throwaway server with settings over the suite's, trying three
// times (a free port can be taken before the server binds it).
func startWith(settings []string) (*Server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startCluster(bin, settings)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// findBinDir returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/N/bin, else the one on PATH.
func findBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb not found: install PostgreSQL (apt-get install postgresql) or set %s", EnvURL)
}

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// clusterParent returns where a throwaway cluster's files go: /dev/shm when the machine
// has it (a cluster the tests throw away needs no disk, and there CREATE DATABASE takes
// 20 ms instead of 300), else the temporary directory.
func clusterParent() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Bavail*uint64(st.Bsize) >= 2<<30 {
		if f, err := os.CreateTemp("/dev/shm", "rlsmigrate-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return ""
}

// Private starts a server of the test's own with the given settings ("name=value") over
// the suite's, stopped when the test ends; it skips the test when the suite uses an
// external server (EnvURL).
func Private(t testing.TB, settings ...string) *Server {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		t.Skipf("needs a server of its own (%s is set)", EnvURL)
	}
	s, err := startWith(settings)
	if err != nil {
		t.Fatalf("starting PostgreSQL for the test: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func startCluster(bin string, settings []string) (*Server, error) {
	dir, err := os.MkdirTemp(clusterParent(), "rlsmigrate-pg-")
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// max_locks_per_transaction: the first migration of the 10,000-table benchmarks
	// takes a lock per table, index and sequence in one transaction (64, the default,
	// holds about 19,000 at 300 connections).
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB "+
		"-c max_locks_per_transaction=512", port)
	for _, s := range settings {
		opts += " -c " + s // a later -c wins
	}
	if err := run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return &Server{
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		stop: func() {
			_ = run("pg_ctl", "stop", "-D", data, "-m", "immediate", "-w")
			os.RemoveAll(dir)
		},
	}, nil
}

// unprivileged returns the credential of user nobody when running as root (PostgreSQL
// refuses to run as root) and hands it dir; otherwise nil.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and no user nobody to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// NewDB creates a fresh database for t on the shared server, drops it when t ends, and
// returns a URL that connects to it as a superuser.
func NewDB(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = fmt.Sprintf("t%d_%d_%s", os.Getpid(), counter.Add(1), name)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := s.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Exec runs sql on the server's maintenance database.
func (s *Server) Exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Connect opens a connection to dbURL that is closed when t ends.
func Connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connecting to test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// MustExec runs sql on conn and fails t on error.
func MustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// RunScript runs the statements of a SQL script one at a time, as psql runs a file:
// each in its own transaction unless the script opens one, so that statements that
// cannot run in a transaction block (CREATE INDEX CONCURRENTLY) run.
func RunScript(t testing.TB, conn *pgx.Conn, script string) {
	t.Helper()
	stmts, err := sqlparse.Split(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := conn.Exec(context.Background(), st); err != nil {
			t.Fatalf("exec %q: %v", st, err)
		}
	}
}

// Counter is a pgx tracer that counts round trips to the server: each query, exec or
// batch counts once. It also keeps the text of each query and exec.
type Counter struct {
	n   atomic.Int64
	mu  sync.Mutex
	sql []string
}

// Count returns the round trips counted so far.
func (c *Counter) Count() int64 { return c.n.Load() }

// SQL returns the text of every query and exec so far, in order.
func (c *Counter) SQL() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sql...)
}

// TraceQueryStart counts a query.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.mu.Lock()
	c.sql = append(c.sql, d.SQL)
	c.mu.Unlock()
	return ctx
}

// TraceQueryEnd does nothing.
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts a batch.
func (c *Counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

// TraceBatchQuery does nothing.
func (c *Counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd does nothing.
func (c *Counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// ConnectCounting opens a connection to dbURL whose round trips c counts.
func ConnectCounting(t testing.TB, dbURL string, c *Counter) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = c
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connecting to test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
