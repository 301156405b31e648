package cli

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// dbFlag adds --database-url, defaulting to $DATABASE_URL.
func (e *env) dbFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", "", "the database to connect to (default: $DATABASE_URL)")
}

// databaseURL returns the URL to use, or an error that says how to give one.
func (e *env) databaseURL(flagValue string) (string, error) {
	v := flagValue
	if v == "" {
		v = e.getenv("DATABASE_URL")
	}
	if v == "" {
		return "", errors.New("no database given: pass --database-url or set DATABASE_URL")
	}
	return v, nil
}

// checkURL refuses a URL whose user part holds an unescaped "@": drivers disagree on
// where such a password ends, and the part read as a host would be printed in errors.
func checkURL(dbURL string) error {
	rest, ok := strings.CutPrefix(dbURL, "postgres://")
	if !ok {
		if rest, ok = strings.CutPrefix(dbURL, "postgresql://"); !ok {
			return nil // key=value form: quoting is the writer's
		}
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	if strings.Count(authority, "@") > 1 {
		return errors.New(`the database URL has an "@" in its user name or password: write it as %40 (the URL is not shown, as it holds a password)`)
	}
	return nil
}

// connConfig parses url into a pgx configuration; the error never holds the password.
func connConfig(dbURL string) (*pgx.ConnConfig, error) {
	if err := checkURL(dbURL); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the database URL: %s", redact(err.Error(), dbURL))
	}
	// Each statement in one round trip, not two (a description of it, then its
	// execution): rlsmigrate's queries run once per connection, so a cached description
	// would never be used again, and to a hosted database each round trip costs tens of
	// milliseconds. The URL's own default_query_exec_mode is kept.
	if !strings.Contains(dbURL, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return cfg, nil
}

// target names the server and database of cfg for messages, without the password.
func target(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("database %q on %s:%d as user %q", cfg.Database, cfg.Host, cfg.Port, cfg.User)
}

// openDB opens a database/sql handle for goose and checks that it connects. The
// server's notices (such as the one the identity-function fallback raises) go to
// notices, one line each.
func openDB(ctx context.Context, dbURL string, notices io.Writer) (*sql.DB, *pgx.ConnConfig, error) {
	cfg, err := connConfig(dbURL)
	if err != nil {
		return nil, nil, err
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		fmt.Fprintf(notices, "%s: %s\n", strings.ToLower(n.Severity), n.Message)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connecting to %s: %s", target(cfg), redact(connectProblem(err), dbURL))
	}
	return db, cfg, nil
}

// connectTo connects to the database the flag names, or $DATABASE_URL, and returns the
// connection and the URL used.
func (e *env) connectTo(ctx context.Context, flagValue string) (*pgx.Conn, string, error) {
	dbURL, err := e.databaseURL(flagValue)
	if err != nil {
		return nil, "", err
	}
	conn, err := connect(ctx, dbURL)
	return conn, dbURL, err
}

// dialing is a connection being opened while schema.yaml is read, so that its round
// trips (a TLS handshake and authentication, tens of milliseconds to a hosted
// database) overlap the reading.
type dialing struct {
	done   chan struct{}
	cancel context.CancelFunc
	conn   *pgx.Conn
	url    string
	err    error
}

// dial starts connecting as connectTo does.
func (e *env) dial(ctx context.Context, flagValue string) *dialing {
	ctx, cancel := context.WithCancel(ctx)
	d := &dialing{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(d.done)
		d.conn, d.url, d.err = e.connectTo(ctx, flagValue)
	}()
	return d
}

// wait returns the connection and the URL it was made to, as connectTo does. The
// context it was made under is released: a connection uses it only while connecting.
func (d *dialing) wait() (*pgx.Conn, string, error) {
	<-d.done
	d.cancel()
	return d.conn, d.url, d.err
}

// abandon stops connecting, or closes the connection made, for a command that ends
// before using it.
func (d *dialing) abandon() {
	d.cancel()
	if conn, _, err := d.wait(); err == nil {
		conn.Close(context.Background())
	}
}

// connect opens one pgx connection.
func connect(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	cfg, err := connConfig(dbURL)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %s", target(cfg), redact(connectProblem(err), dbURL))
	}
	return conn, nil
}

// redact removes the password of dbURL, and the URL itself, from msg.
func redact(msg, dbURL string) string {
	var secrets []string
	if u, err := url.Parse(dbURL); err == nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p, url.QueryEscape(p), url.PathEscape(p))
		}
		if p := u.Query().Get("password"); p != "" {
			secrets = append(secrets, p)
		}
	}
	for _, field := range strings.Fields(dbURL) {
		if v, ok := strings.CutPrefix(field, "password="); ok {
			secrets = append(secrets, strings.Trim(v, `'`))
		}
	}
	msg = strings.ReplaceAll(msg, dbURL, "<database-url>")
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// connectProblem returns the cause of a failed connection in one line: the server's
// message, or the network error.
func connectProblem(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return ne.Error()
	}
	return err.Error()
}
