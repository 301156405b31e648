package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
)

// The hazards of how a statement runs, beside those of what its change does (see
// diff.Hazard): they are shown, never refused.
const (
	RewritesTable  diff.Hazard = "rewrites-table"  // the table is copied, under ACCESS EXCLUSIVE
	BlocksWrites   diff.Hazard = "blocks-writes"   // writes wait for as long as it reads the table
	BlocksReads    diff.Hazard = "blocks-reads"    // reads and writes wait for as long as it reads the table
	LongValidation diff.Hazard = "long-validation" // reads every row, while writers go on
)

// Note is one hazard of a statement, with what it means for the table.
type Note struct {
	Type    diff.Hazard `json:"type"`
	Message string      `json:"message"`
}

// Locking returns the lock st takes on a table that already holds rows (PostgreSQL's
// name for it, and for how long), or "" when it takes none that queries wait on, and
// the hazards of how it runs.
func Locking(st Statement) (string, []Note) {
	c := st.Change
	if c.Kind == diff.TableCreate || c.Table == "" {
		return "", nil // a new table holds no rows; roles, schemas and functions lock no table
	}
	t := c.Schema + "." + c.Table
	sql := st.SQL
	switch {
	case strings.HasPrefix(sql, "GRANT") || strings.HasPrefix(sql, "REVOKE"):
		return "", nil
	case strings.HasPrefix(sql, "DROP INDEX CONCURRENTLY"):
		return "SHARE UPDATE EXCLUSIVE on " + t + ", until the transactions using the index end (writers go on)", nil
	case strings.Contains(sql, " CONCURRENTLY "):
		return "SHARE UPDATE EXCLUSIVE on " + t + ", while it builds (writers go on)", nil
	case strings.Contains(sql, "VALIDATE CONSTRAINT"):
		return "SHARE UPDATE EXCLUSIVE on " + t + ", while it reads the rows", []Note{{LongValidation,
			"reads every row of " + t + " to validate; writers go on, and it waits for no one once it holds its lock"}}
	case strings.HasPrefix(sql, "CREATE INDEX") || strings.HasPrefix(sql, "CREATE UNIQUE INDEX"):
		return "SHARE on " + t + ", while it builds", []Note{{BlocksWrites, "writes to " + t + " wait while the index builds"}}
	case strings.Contains(sql, " TYPE ") && strings.Contains(sql, "ALTER COLUMN"):
		return "ACCESS EXCLUSIVE on " + t + ", while it rewrites the table", []Note{
			{RewritesTable, "every row of " + t + " is rewritten with the new type"},
			{BlocksReads, "reads and writes of " + t + " wait for the whole rewrite"}}
	case uniqueOrKey.MatchString(sql):
		return "ACCESS EXCLUSIVE on " + t + ", while its index builds", []Note{{BlocksReads, "reads and writes of " + t + " wait while the key's index builds"}}
	case strings.Contains(sql, "FOREIGN KEY") && strings.HasSuffix(sql, "NOT VALID;"):
		return "SHARE ROW EXCLUSIVE on " + t + " and the table it references (brief)", nil
	case strings.Contains(sql, "FOREIGN KEY"):
		return "SHARE ROW EXCLUSIVE on " + t + " and the table it references, while it reads the rows", []Note{{BlocksWrites, "writes to " + t + " wait while every row is checked"}}
	case strings.Contains(sql, "ADD COLUMN") && volatileDefault.MatchString(sql):
		return "ACCESS EXCLUSIVE on " + t + ", while it rewrites the table", []Note{
			{RewritesTable, "a volatile default is computed for every row of " + t},
			{BlocksReads, "reads and writes of " + t + " wait for the whole rewrite"}}
	case strings.Contains(sql, "SET NOT NULL") && !st.Online:
		return "ACCESS EXCLUSIVE on " + t + ", while it reads the rows", []Note{{BlocksReads, "reads and writes of " + t + " wait while every row is checked"}}
	}
	return "ACCESS EXCLUSIVE on " + t + " (brief)", nil
}

var (
	uniqueOrKey     = regexp.MustCompile(`ADD CONSTRAINT \S+ (UNIQUE|PRIMARY KEY) `)
	volatileDefault = regexp.MustCompile(`(?i)DEFAULT .*(random|uuid|clock_timestamp|nextval)`)
)

// comments spells a statement's hazards, and a lock it holds for more than an instant,
// as comment lines.
func comments(st Statement, notes []Note) string {
	var sb strings.Builder
	for _, n := range notes {
		sb.WriteString(Comment(fmt.Sprintf("hazard %s: %s", n.Type, n.Message)))
	}
	if lock, _ := Locking(st); strings.Contains(lock, "while") || strings.Contains(lock, "until") {
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
	noted := map[*diff.Change]bool{}
	for i, st := range stmts {
		if (st.Kind == st.Change.Kind || (st.Kind == diff.PolicyDrop && st.Change.Kind == diff.PolicyAlter)) && !noted[st.Change] {
			noted[st.Change] = true
			for _, h := range st.Change.Hazards {
				out[i] = append(out[i], changeNote(h, st.Change))
			}
		}
		_, notes := Locking(st)
		out[i] = append(out[i], notes...)
	}
	return out
}
