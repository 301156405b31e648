// Command rlsmigrate keeps a Postgres app's tables and their row-level-security rules as
// code: it compiles schema.yaml into goose migrations, applies them, and diffs them
// against a live database.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rlsmigrate/rlsmigrate/internal/cli"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
