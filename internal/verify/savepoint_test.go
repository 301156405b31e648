package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSavepointKeepsTheCause: when a savepoint's first round trip fails before the
// savepoint exists (SQL that does not parse; a query cancelled by an interrupt), undoing
// it fails too, and the error says why it began to fail, not only that there was no
// savepoint to undo. An interrupted verify said "savepoint does not exist".
func TestSavepointKeepsTheCause(t *testing.T) {
	ctx := context.Background()
	conn := pgtest.Connect(t, pgtest.NewDB(t))
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	v := &verifier{tx: tx}
	ran := false
	err = v.savepointWith(ctx, false, "SELEC 1;", "", func() error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), `syntax error at or near "SELEC"`) {
		t.Errorf("savepoint whose begin does not parse: ran %v, error %v; want the syntax error", ran, err)
	}
}
