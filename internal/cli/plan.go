package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rlsmigrate/rlsmigrate/internal/diff"
	"github.com/rlsmigrate/rlsmigrate/internal/migdir"
	"github.com/rlsmigrate/rlsmigrate/internal/render"
)

// planStatement is one statement of a planned migration, as plan --format json shows it.
type planStatement struct {
	SQL     string        `json:"sql"`
	Change  string        `json:"change"`            // the change it belongs to: kind and object
	Lock    string        `json:"lock,omitempty"`    // the lock it takes on a table that holds rows
	Hazards []render.Note `json:"hazards,omitempty"` // of the change, then of how it runs
}

// planMigration is one migration file generate would write.
type planMigration struct {
	File        string          `json:"file"`
	Transaction bool            `json:"transaction"` // false: -- +goose NO TRANSACTION
	Statements  []planStatement `json:"statements"`
}

// plan is what generate would write.
type plan struct {
	Migrations []planMigration `json:"migrations"`
	// Refused lists the changes generate would refuse without --allow-hazards.
	Refused []string `json:"refused,omitempty"`
}

func runPlan(_ context.Context, e *env, args []string) int {
	fs := e.flags("plan", "[--schema schema.yaml] [--dir migrations] [--format FORMATS]",
		`Show the statements the next generate would write, in the migrations it would write
them to, each with the lock it takes on a table that holds rows and its hazards: what
the change does (deletes-data, drops-policy, disables-rls, widens-access,
changes-access, may-fail) and how it runs (rewrites-table, blocks-writes, blocks-reads,
long-validation). Writes nothing. Exit 0 with nothing to do, 1 with a plan, 2 on error.`)
	schemaPath := fs.String("schema", "schema.yaml", "the schema file")
	dir := fs.String("dir", "migrations", "the migrations directory")
	format := formatFlag(fs, planFormats...)
	if code := e.parse(fs, args); code >= 0 {
		return code
	}
	md := migdir.Dir{Path: *dir}
	preload := md.Preload() // decoded while schema.yaml compiles
	_, desired, ok := e.loadSchema(*schemaPath, "")
	if !ok {
		return ExitError
	}
	state, err := md.LoadWith(preload)
	if err != nil {
		return e.fail(err)
	}
	canonicalTypes(state.Schema)
	changes := diff.Diff(state.Schema, desired)
	last, err := md.LastVersion()
	if err != nil {
		return e.fail(err)
	}
	p := plan{Migrations: []planMigration{}}
	if len(changes) > 0 {
		name := migrationName(changes, last == 0)
		main := planMigration{File: fmt.Sprintf("%05d_%s.sql", last+1, name), Transaction: true, Statements: []planStatement{}}
		online := planMigration{File: fmt.Sprintf("%05d_%s_online.sql", last+2, name)}
		stmts := render.Statements(changes)
		notes := render.Notes(stmts)
		for i, st := range stmts {
			ps := planStatement{SQL: st.SQL, Change: string(st.Change.Kind) + " " + st.Change.Object(), Hazards: notes[i]}
			ps.Lock, _ = render.Locking(st)
			if st.Online {
				online.Statements = append(online.Statements, ps)
			} else {
				main.Statements = append(main.Statements, ps)
			}
		}
		p.Migrations = append(p.Migrations, main)
		if len(online.Statements) > 0 {
			p.Migrations = append(p.Migrations, online)
		}
		p.Refused, _ = refusedChanges(changes, nil, false)
	}
	fmt.Fprint(e.stdout, format.Write(p))
	if len(changes) == 0 {
		return ExitOK
	}
	return ExitFound
}

// planFormats are plan's output formats.
var planFormats = []outputFormat[plan]{{"text", planText}, {"json", planJSON}}

func planJSON(p plan) string {
	data, _ := json.MarshalIndent(p, "", "  ")
	return string(data) + "\n"
}

func planText(p plan) string {
	if len(p.Migrations) == 0 {
		return "no changes: nothing to plan\n"
	}
	var sb strings.Builder
	for _, m := range p.Migrations {
		how := "in one transaction"
		if !m.Transaction {
			how = "outside a transaction, each statement on its own"
		}
		fmt.Fprintf(&sb, "%s (%s)\n", m.File, how)
		for _, st := range m.Statements {
			fmt.Fprintf(&sb, "  %s\n", strings.ReplaceAll(st.SQL, "\n", "\n  "))
			if st.Lock != "" {
				fmt.Fprintf(&sb, "      lock: %s\n", st.Lock)
			}
			for _, h := range st.Hazards {
				fmt.Fprintf(&sb, "      hazard %s: %s\n", h.Type, h.Message)
			}
		}
		sb.WriteString("\n")
	}
	if len(p.Refused) > 0 {
		fmt.Fprintf(&sb, "generate would refuse %d change(s) without --allow-hazards or --allow-destructive:\n  %s\n", len(p.Refused), strings.Join(p.Refused, "\n  "))
	}
	return sb.String()
}
