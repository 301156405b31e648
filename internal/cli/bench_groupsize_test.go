package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

// groupSizes are the numbers of projects in the caller's organisation that
// BenchmarkTeamGroupSize measures; RLSMIGRATE_GROUP_SIZES (comma-separated) picks others.
func groupSizes(b *testing.B) []int {
	return envSizes(b, "RLSMIGRATE_GROUP_SIZES", 10, 1000, 10000, 100000)
}

// envSizes returns the comma-separated numbers of environment variable name, or sizes
// where it is unset.
func envSizes(b *testing.B, name string, sizes ...int) []int {
	v := os.Getenv(name)
	if v == "" {
		return sizes
	}
	sizes = nil
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// groupOps are the statements BenchmarkTeamGroupSize times on tasks (the member rule
// through projects) as user_1, who belongs to organisation 1 alone: as the generated
// policies see them, and as the floor, the table owner's indexed join that scales.
// $1 is a task of organisation 1 (select, update) or a project of it (insert).
var groupOps = []struct {
	name, generated, floor string
	rows                   func(size int) int64
}{
	{"select-by-id", "SELECT * FROM tasks WHERE id = $1",
		"SELECT t.* FROM tasks t WHERE t.id = $1 AND EXISTS (SELECT 1 FROM projects p JOIN memberships m ON m.org_id = p.org_id WHERE p.id = t.project_id AND m.user_id = 'user_1')",
		func(int) int64 { return 1 }},
	{"update-one", "UPDATE tasks SET done = NOT done WHERE id = $1",
		"UPDATE tasks t SET done = NOT done WHERE t.id = $1 AND EXISTS (SELECT 1 FROM projects p JOIN memberships m ON m.org_id = p.org_id WHERE p.id = t.project_id AND m.user_id = 'user_1')",
		func(int) int64 { return 1 }},
	{"insert", "INSERT INTO tasks (project_id, title) VALUES ($1, 'new')",
		"INSERT INTO tasks (project_id, title) SELECT $1, 'new' WHERE EXISTS (SELECT 1 FROM projects p JOIN memberships m ON m.org_id = p.org_id WHERE p.id = $1 AND m.user_id = 'user_1')",
		func(int) int64 { return 1 }},
	{"page-50", "SELECT * FROM tasks ORDER BY id DESC LIMIT 50",
		"SELECT t.* FROM tasks t JOIN projects p ON p.id = t.project_id JOIN memberships m ON m.org_id = p.org_id AND m.user_id = 'user_1' ORDER BY t.id DESC LIMIT 50",
		func(size int) int64 { return int64(min(50, 10*size)) }},
	{"count", "SELECT count(*) FROM tasks",
		"SELECT count(*) FROM tasks t JOIN projects p ON p.id = t.project_id JOIN memberships m ON m.org_id = p.org_id AND m.user_id = 'user_1'",
		func(int) int64 { return 1 }},
}

// BenchmarkTeamGroupSize measures the member rule through a table as the caller's group
// grows: user_1 in organisation 1, which holds N projects of 10 tasks each (another
// organisation holds 10 projects of its own); each statement of groupOps through the
// generated policies, through them again where tasks hold a copy of their project's
// organisation (copy), and on the floor, in a transaction rolled back. It reports the
// client and server medians and logs the generated plans of the page and of the
// select by id, for docs/team-access.md.
func BenchmarkTeamGroupSize(b *testing.B) {
	if testing.Short() {
		b.Skip("builds up to a million rows")
	}
	ctx := context.Background()
	for _, size := range groupSizes(b) {
		// The through rule as it is (generated), the same rule over a copy of the
		// project's organisation on each task (copy), and the floor: one database
		// each for the first two, the floor on the first.
		through, copied := groupSizeDB(b, "team.yaml", size), groupSizeDB(b, "team_copy.yaml", size)
		var task, project int64
		if err := through.QueryRow(ctx, `SELECT max(t.id), max(p.id) FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.org_id = 1`).Scan(&task, &project); err != nil {
			b.Fatal(err)
		}
		for _, o := range groupOps {
			arg := task
			if o.name == "insert" {
				arg = project
			}
			for _, form := range []string{"generated", "copy", "floor"} {
				conn := map[string]*pgx.Conn{"generated": through, "copy": copied, "floor": through}[form]
				b.Run(fmt.Sprintf("projects=%d/%s/%s", size, o.name, form), func(b *testing.B) {
					sql := map[string]string{"generated": o.generated, "copy": o.generated, "floor": o.floor}[form]
					args := []any{arg}
					if !strings.Contains(sql, "$1") {
						args = nil
					}
					timeStatements(b, conn, func(i int, tx pgx.Tx) (string, []any, func(int64) error) {
						if form != "floor" {
							actAs(b, tx, "user_1")
							if i == 0 && (o.name == "page-50" || o.name == "select-by-id") {
								b.Logf("plan of %q at %d projects:\n%s", sql, size, explainPlan(ctx, b, tx, sql, args))
							}
						}
						return sql, args, func(n int64) error {
							if want := o.rows(size); n != want {
								return fmt.Errorf("%s, %d projects: %d rows, want %d", form, size, n, want)
							}
							return nil
						}
					})
				})
			}
		}
	}
}

// groupSizeDB returns a connection to a database built from testdata/bench/<file> that
// holds BenchmarkTeamGroupSize's rows: user_1's organisation 1 with size projects,
// organisation 2 with 10, 10 tasks per project.
func groupSizeDB(b *testing.B, file string, size int) *pgx.Conn {
	conn := pgtest.Connect(b, upFrom(b, "testdata/bench/"+file))
	pgtest.MustExec(b, conn, fmt.Sprintf(`
		INSERT INTO organizations (name) VALUES ('one'), ('two');
		INSERT INTO memberships (org_id, user_id) VALUES (1, 'user_1'), (2, 'user_2');
		INSERT INTO projects (org_id) SELECT 1 FROM generate_series(1, %[1]d);
		INSERT INTO projects (org_id) SELECT 2 FROM generate_series(1, 10);
		INSERT INTO tasks (project_id, title) SELECT p.id, 'task ' || k FROM projects p, generate_series(1, 10) k`, size))
	pgtest.MustExec(b, conn, "VACUUM ANALYZE organizations, memberships, projects, tasks")
	return conn
}

// explainPlan returns the plan PostgreSQL runs sql with, without costs.
func explainPlan(ctx context.Context, b *testing.B, tx pgx.Tx, sql string, args []any) string {
	rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+sql, args...)
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			b.Fatal(err)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}
