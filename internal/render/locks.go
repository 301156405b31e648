package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlparse"
)

// The hazards of how a statement runs, beside those of what its change does (see
// diff.Hazard): they are shown, never refused.
const (
	RewritesTable  diff.Hazard = "rewrites-table"   // the table is copied, under ACCESS EXCLUSIVE
	BlocksWrites   diff.Hazard = "blocks-writes"    // writes wait for as long as it reads the table
	BlocksReads    diff.Hazard = "blocks-reads"     // reads and writes wait for as long as it reads the table
	LongValidation diff.Hazard = "long-validation"  // reads every row, while writers go on
	WritesRows     diff.Hazard = "writes-every-row" // updates every row, each locked until the migration commits
)

// Note is one hazard of a statement, with what it means for the table.
type Note struct {
	Type    diff.Hazard `json:"type"`
	Message string      `json:"message"`
}

// addColumnHold is the lock ADD COLUMN takes: a volatile default (an identity's next
// value among them) is computed for every row, which rewrites the table.
func addColumnHold(c *schema.Column) objects.Lock {
	if c.Identity != "" || volatileDefault(c.Default) {
		return objects.LockDefaultRewrite
	}
	return objects.LockBrief
}

// steadyFunctions are functions PostgreSQL marks stable or immutable that defaults often
// call: a default calling only these is computed once for the existing rows.
var steadyFunctions = []string{"now", "transaction_timestamp", "statement_timestamp", "current_setting",
	"auth.user_id", "auth.session", "auth.uid", "auth.jwt", "lower", "upper", "btrim", "concat", "format",
	"to_jsonb", "jsonb_build_object", "json_build_object", "jsonb_build_array", "make_interval", "to_char", "length"}

// volatileDefault reports whether a default may give each row its own value: it calls a
// function not known to be stable (a sequence, a random value, a user's function, which
// PostgreSQL makes volatile unless declared otherwise), so ADD COLUMN fills every row
// by rewriting the table. A default that does not parse counts as volatile.
func volatileDefault(def string) bool {
	if def == "" {
		return false
	}
	e, err := sqlparse.ParseExpr(def)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(e.Functions(), func(fn string) bool {
		return !slices.Contains(steadyFunctions, strings.TrimPrefix(strings.ToLower(fn), "pg_catalog."))
	})
}

// Locking returns the lock st takes on a table that already holds rows (PostgreSQL's
// name for it, and for how long), or "" when it takes none that queries wait on, and
// the hazards of how it runs.
func Locking(st Statement) (string, []Note) {
	t := st.Change.Schema + "." + st.Change.Table
	if st.Change.Table == "" { // an object outside tables whose change rewrites the tables using it
		t = "every table with a column of " + st.Change.Object()
	}
	switch st.hold {
	case objects.LockNone:
		return "", nil
	case objects.LockConcurrentDrop:
		return "SHARE UPDATE EXCLUSIVE on " + t + ", until the transactions using the index end (writers go on)", nil
	case objects.LockConcurrentBuild:
		return "SHARE UPDATE EXCLUSIVE on " + t + ", while it builds (writers go on)", nil
	case objects.LockValidate:
		return "SHARE UPDATE EXCLUSIVE on " + t + ", while it reads the rows", []Note{{LongValidation,
			"reads every row of " + t + " to validate; writers go on, and it waits for no one once it holds its lock"}}
	case objects.LockBuild:
		return "SHARE on " + t + ", while it builds", []Note{{BlocksWrites, "writes to " + t + " wait while the index builds"}}
	case objects.LockRewrite:
		return "ACCESS EXCLUSIVE on " + t + ", while it rewrites the table", []Note{
			{RewritesTable, "every row of " + t + " is rewritten with the new type"},
			{BlocksReads, "reads and writes of " + t + " wait for the whole rewrite"}}
	case objects.LockKeyBuild:
		return "ACCESS EXCLUSIVE on " + t + ", while its index builds", []Note{{BlocksReads, "reads and writes of " + t + " wait while the key's index builds"}}
	case objects.LockReference:
		return "SHARE ROW EXCLUSIVE on " + t + " and the table it references (brief)", nil
	case objects.LockReferenceScan:
		return "SHARE ROW EXCLUSIVE on " + t + " and the table it references, while it reads the rows", []Note{{BlocksWrites, "writes to " + t + " wait while every row is checked"}}
	case objects.LockDefaultRewrite:
		return "ACCESS EXCLUSIVE on " + t + ", while it rewrites the table", []Note{
			{RewritesTable, "a volatile default is computed for every row of " + t},
			{BlocksReads, "reads and writes of " + t + " wait for the whole rewrite"}}
	case objects.LockRowWrites:
		return "ROW EXCLUSIVE on " + t + ", and each of its rows until the migration commits (reads and inserts go on)", []Note{{WritesRows,
			"updates every row of " + t + " (a new version of each); updates and deletes of them wait until the migration commits"}}
	case objects.LockScan:
		return "ACCESS EXCLUSIVE on " + t + ", while it reads the rows", []Note{{BlocksReads, "reads and writes of " + t + " wait while every row is checked"}}
	}
	return "ACCESS EXCLUSIVE on " + t + " (brief)", nil
}

// comments spells a statement's hazards, and a lock it holds for more than an instant,
// as comment lines.
func comments(st Statement, notes []Note) string {
	var sb strings.Builder
	for _, n := range notes {
		sb.WriteString(Comment(fmt.Sprintf("hazard %s: %s", n.Type, n.Message)))
	}
	if st.hold.Lasts() {
		lock, _ := Locking(st)
		sb.WriteString(Comment("lock: " + lock))
	}
	return sb.String()
}

// changeNote describes hazard h of change c.
func changeNote(h diff.Hazard, c *diff.Change) Note {
	what := map[diff.Hazard]string{
		diff.DeletesData:   "deletes data: ",
		diff.DropsPolicy:   "removes a policy: ",
		diff.DisablesRLS:   "turns row-level security (or its forcing) off: ",
		diff.WidensAccess:  "lets more roles or rows through: ",
		diff.ChangesAccess: "rewrites who may do what: ",
		diff.MayFail:       "fails if rows already break it: ",
	}[h]
	return Note{Type: h, Message: what + string(c.Kind) + " " + c.Object()}
}

// Notes returns the hazards of each statement: its change's (on the first statement
// that does the change itself), then those of how it runs.
func Notes(stmts []Statement) [][]Note {
	out := make([][]Note, len(stmts))
	var n noter
	for i, st := range stmts {
		out[i] = n.notes(st)
	}
	return out
}

// noter gives Notes of a list of statements one statement at a time.
type noter struct {
	noted map[*diff.Change]bool // the changes whose hazards are written
}

// notes returns the hazards of st, the next statement of the list.
func (n *noter) notes(st Statement) []Note {
	var out []Note
	if (st.Kind == st.Change.Kind || (st.Kind == diff.PolicyDrop && st.Change.Kind == diff.PolicyAlter)) && !n.noted[st.Change] {
		if n.noted == nil {
			n.noted = map[*diff.Change]bool{}
		}
		n.noted[st.Change] = true
		for _, h := range st.Change.Hazards {
			out = append(out, changeNote(h, st.Change))
		}
	}
	_, notes := Locking(st)
	return append(out, notes...)
}
