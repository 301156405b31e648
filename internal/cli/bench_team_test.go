package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/pgtest"
)

const (
	teamOrgs     = 10_000
	teamUsers    = 33_333 // each in 3 orgs: 99,999 memberships
	teamProjects = 100_000
	teamRows     = 1_000_000 // in items and in tasks
)

// teamSetup builds the team workload from testdata/bench/team.yaml with generate and
// up: 10,000 orgs, 99,999 memberships (each user in 3 orgs), 100,000 projects, and
// 1,000,000 rows in items (reached by org) and in tasks (reached through the project).
// It also creates the functions the hand-written forms call.
func teamSetup(b *testing.B) string {
	b.Helper()
	dbURL := upFrom(b, "testdata/bench/team.yaml")
	conn := pgtest.Connect(b, dbURL)
	pgtest.MustExec(b, conn, fmt.Sprintf(`
		INSERT INTO organizations (name) SELECT 'org ' || i FROM generate_series(1, %[1]d) i;
		INSERT INTO memberships (org_id, user_id)
			SELECT (u * 3 + k) %% %[1]d + 1, 'user_' || u FROM generate_series(0, %[2]d - 1) u, generate_series(0, 2) k;
		INSERT INTO projects (org_id) SELECT i %% %[1]d + 1 FROM generate_series(0, %[3]d - 1) i;
		INSERT INTO items (org_id, title) SELECT i %% %[1]d + 1, 'item ' || i FROM generate_series(0, %[4]d - 1) i;
		INSERT INTO tasks (project_id, title) SELECT i %% %[3]d + 1, 'task ' || i FROM generate_series(0, %[4]d - 1) i;
		CREATE FUNCTION my_org_ids() RETURNS SETOF bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
			AS $$ SELECT org_id FROM public.memberships WHERE user_id = auth.user_id() $$;
		CREATE FUNCTION my_project_ids() RETURNS SETOF bigint LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
			AS $$ SELECT p.id FROM public.projects p JOIN public.memberships m ON m.org_id = p.org_id WHERE m.user_id = auth.user_id() $$;
		GRANT EXECUTE ON FUNCTION my_org_ids(), my_project_ids() TO authenticated`,
		teamOrgs, teamUsers, teamProjects, teamRows))
	pgtest.MustExec(b, conn, "VACUUM ANALYZE organizations, memberships, projects, items, tasks")
	return dbURL
}

// teamForms are the policies compared on items and tasks: the generated ones, and the
// forms teams write by hand, put in place inside the measured transaction.
var teamForms = []struct {
	name        string
	items, task string // the condition on items and on tasks; "" keeps the generated policy
}{
	{"floor", "", ""},
	{"rlsmigrate", "", ""},
	{"in-function", "org_id IN (SELECT my_org_ids())", "project_id IN (SELECT my_project_ids())"},
	{"exists", "EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = items.org_id AND m.user_id = (SELECT auth.user_id()))",
		"EXISTS (SELECT 1 FROM projects p WHERE p.id = tasks.project_id AND p.org_id IN (SELECT m.org_id FROM memberships m WHERE m.user_id = (SELECT auth.user_id())))"},
}

// BenchmarkTeamPolicies measures select *, count(*) and a one-row update on items (the
// member rule on org_id) and on tasks (the member rule through projects), for a random
// user in 3 orgs per transaction: on the floor (the table owner's indexed WHERE col =
// ANY('{...}') with the user's ids written out), through the generated policies, and
// through the hand-written forms. It fails if the generated plan reads items or tasks
// without an index. Only the statement is timed.
func BenchmarkTeamPolicies(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 2 million rows")
	}
	dbURL := teamSetup(b)
	conn := pgtest.Connect(b, dbURL)
	ctx := context.Background()
	// The ids each user's rows carry, for the floor's literal filter and the update.
	idsOf := func(user string) (orgs, projects []int64, item, task int64) {
		if err := conn.QueryRow(ctx, `SELECT array_agg(org_id ORDER BY org_id) FROM memberships WHERE user_id = $1`, user).Scan(&orgs); err != nil {
			b.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT array_agg(id ORDER BY id) FROM projects WHERE org_id = ANY($1)`, orgs).Scan(&projects); err != nil {
			b.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT (SELECT min(id) FROM items WHERE org_id = $1), (SELECT min(id) FROM tasks WHERE project_id = $2)`, orgs[0], projects[0]).Scan(&item, &task); err != nil {
			b.Fatal(err)
		}
		return
	}
	type op struct {
		name, floor, as string
		args            func(ids []int64, row int64) (floor, as []any)
	}
	ops := func(table, col string) []op {
		return []op{
			{"select", fmt.Sprintf("SELECT * FROM %s WHERE %s = ANY($1)", table, col), "SELECT * FROM " + table,
				func(ids []int64, _ int64) ([]any, []any) { return []any{ids}, nil }},
			{"count", fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = ANY($1)", table, col), "SELECT count(*) FROM " + table,
				func(ids []int64, _ int64) ([]any, []any) { return []any{ids}, nil }},
			{"update", fmt.Sprintf("UPDATE %s SET done = NOT done WHERE id = $1 AND %s = ANY($2)", table, col),
				fmt.Sprintf("UPDATE %s SET done = NOT done WHERE id = $1", table),
				func(ids []int64, row int64) ([]any, []any) { return []any{row, ids}, []any{row} }},
		}
	}
	for _, rule := range []struct{ name, table, col string }{{"member", "items", "org_id"}, {"through", "tasks", "project_id"}} {
		if err := indexScanned(ctx, conn, rule.table); err != nil {
			b.Fatal(err)
		}
		for _, o := range ops(rule.table, rule.col) {
			for _, form := range teamForms {
				b.Run(rule.name+"/"+o.name+"/"+form.name, func(b *testing.B) {
					rng := rand.New(rand.NewPCG(3, 4))
					timeStatements(b, conn, func(_ int, tx pgx.Tx) (string, []any, func(int64) error) {
						user := fmt.Sprintf("user_%d", rng.IntN(teamUsers))
						orgs, projects, item, task := idsOf(user)
						ids, row := orgs, item
						if rule.table == "tasks" {
							ids, row = projects, task
						}
						floorArgs, asArgs := o.args(ids, row)
						sql, args := o.floor, floorArgs
						if form.name != "floor" {
							sql, args = o.as, asArgs
							if err := useForm(ctx, tx, rule.table, form.items, form.task); err != nil {
								b.Fatal(err)
							}
							actAs(b, tx, user)
						}
						return sql, args, func(n int64) error {
							if want := int64(300); (o.name == "select" && n != want) || (o.name != "select" && n != 1) {
								return fmt.Errorf("as %s (%s): %d rows", user, form.name, n)
							}
							return nil
						}
					})
				})
			}
		}
	}
}

// useForm replaces, inside tx, the policies of table with one per operation on the
// hand-written condition for it; "" keeps the generated ones.
func useForm(ctx context.Context, tx pgx.Tx, table, items, tasks string) error {
	cond := items
	if table == "tasks" {
		cond = tasks
	}
	if cond == "" {
		return nil
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(`
		DROP POLICY %[1]s_select_member ON %[1]s; DROP POLICY %[1]s_insert_member ON %[1]s;
		DROP POLICY %[1]s_update_member ON %[1]s; DROP POLICY %[1]s_delete_member ON %[1]s;
		CREATE POLICY hand ON %[1]s FOR ALL TO authenticated USING (%[2]s) WITH CHECK (%[2]s)`, table, cond))
	return err
}

// indexScanned checks that the generated policy on table is answered from an index for
// a user in 3 orgs: the plan of SELECT * names no sequential scan of the table.
func indexScanned(ctx context.Context, conn *pgx.Conn, table string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', '{"sub":"user_7"}', true)`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, "EXPLAIN SELECT * FROM "+table)
	if err != nil {
		return err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	plan := strings.Join(lines, "\n")
	if strings.Contains(plan, "Seq Scan on "+table) || !strings.Contains(plan, "Index") {
		return fmt.Errorf("the generated policy on %s scans the table:\n%s", table, plan)
	}
	return nil
}
