package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Through is the case of a check made through a view or function that reads tables
// with row-level security as its owner; the caller follows it: "through it as alice".
const Through = "through it as "

// exposures runs each view, materialized view and function without arguments of xs as
// every caller, and compares what it returns with what the same query returns when it
// reads as its caller (the view's definition run directly; the function made SECURITY
// INVOKER, in a savepoint that is rolled back): more is a row the base tables' rules
// deny, read past them.
func (v *verifier) exposures(ctx context.Context, xs []*schema.Exposure) ([]TableReport, error) {
	var out []TableReport
	for _, x := range xs {
		tr := TableReport{Table: x.Kind + " " + x.QualifiedName()}
		if why := notExercised(x); why != "" {
			tr.Skipped = why
			out = append(out, tr)
			continue
		}
		direct, invoker, prep, err := v.probes(ctx, x)
		if err != nil {
			return nil, err
		}
		if direct == "" {
			tr.Skipped = "takes arguments: rlsmigrate cannot call it with meaningful ones"
			out = append(out, tr)
			continue
		}
		callers := []caller{{user: Alice}, {user: Bob}, {}}
		for _, role := range v.f.Auth.Roles {
			if role != v.role {
				callers = append(callers, caller{role: role})
			}
		}
		for _, who := range callers {
			role := who.role
			if role == "" {
				role = v.role
			}
			name := map[string]string{Alice: "alice", Bob: "bob", "": "nobody"}[who.user]
			through, err := v.probe(ctx, role, who.user, "", direct)
			if err != nil {
				return nil, fmt.Errorf("verifying %s: %w", x.QualifiedName(), err)
			}
			rules, err := v.probe(ctx, role, who.user, prep, invoker)
			if err != nil {
				return nil, fmt.Errorf("verifying %s: %w", x.QualifiedName(), err)
			}
			c := Check{Operation: "select", Case: Through + name, Role: who.role, Expected: Denied, Observed: Denied}
			if n, m, beyond := compareReads(through, rules); beyond {
				c.Observed = Allowed
				c.Detail = fmt.Sprintf("reads %s row(s) through it, %s by the base tables' rules", n, m)
				if n == m {
					c.Detail = fmt.Sprintf("returns %s row(s) through it that differ from what the base tables' rules give", n)
				}
			}
			if who.role != "" {
				c.Case = Through + "nobody"
			}
			tr.Checks = append(tr.Checks, c)
		}
		out = append(out, tr)
	}
	return out, nil
}

// notExercised says why verify does not run x as its callers, or "": it runs views,
// materialized views, and functions without arguments that can act on nothing outside
// its transaction (not volatile, a body it can read). A volatile or opaque routine may
// write a file or reach another database; a procedure cannot be read through; a table
// that exposes rows is judged by diff and lint alone.
func notExercised(x *schema.Exposure) string {
	switch {
	case x.Kind == "procedure":
		return "a procedure: rlsmigrate does not call it"
	case x.Kind == "parent table" || x.Kind == "copy table":
		return "a " + x.Kind + ": diff reports it, with the REVOKE that closes it"
	case x.Kind == "function" && x.Opaque != "":
		return "its body cannot be analysed (" + x.Opaque + "): rlsmigrate does not call it"
	case x.Kind == "function" && x.Volatile:
		return "volatile: it may act outside verify's transaction (write a file, reach another database), so rlsmigrate does not call it"
	}
	return ""
}

// compareReads compares two probe outputs ("N row(s): hash,hash..."): their counts, and
// whether the first holds a row the second lacks.
func compareReads(through, rules string) (n, m string, beyond bool) {
	split := func(s string) (string, []string) {
		count, hashes, _ := strings.Cut(s, " row(s): ")
		if hashes == "" {
			return count, nil
		}
		return count, strings.Split(hashes, ",")
	}
	n, seen := split(through)
	m, allowed := split(rules)
	for _, h := range seen {
		if !slices.Contains(allowed, h) {
			beyond = true
		}
	}
	// Rows alike (all columns NULL) hash alike: more of them is more too.
	return n, m, beyond || len(seen) > len(allowed)
}

// probes returns the query that reads x as it is, the one that reads it as its caller,
// and a statement that must run first (as the connecting role) for the latter; "" for
// a function that takes arguments.
func (v *verifier) probes(ctx context.Context, x *schema.Exposure) (direct, invoker, prep string, err error) {
	name := sqlident.Qualified(x.Schema, x.Name)
	const agg = "SELECT count(*) || ' row(s): ' || coalesce(string_agg(md5(q::text), ',' ORDER BY md5(q::text)), '') FROM (%s) q"
	if x.Kind != "function" {
		var def string
		if err := v.tx.QueryRow(ctx, "SELECT pg_get_viewdef($1::regclass)", name).Scan(&def); err != nil {
			return "", "", "", fmt.Errorf("reading the definition of %s: %w", x.QualifiedName(), err)
		}
		return fmt.Sprintf(agg, "SELECT * FROM "+name), fmt.Sprintf(agg, strings.TrimSuffix(strings.TrimSpace(def), ";")), "", nil
	}
	if x.Args != "" {
		return "", "", "", nil
	}
	call := sqlident.Qualified(x.Schema, x.Routine) + "()"
	return fmt.Sprintf(agg, "SELECT * FROM "+call), fmt.Sprintf(agg, "SELECT * FROM "+call), "ALTER FUNCTION " + call + " SECURITY INVOKER", nil
}

// probe runs query as role with user's claims and returns what it printed, or the
// SQLSTATE it failed with (a caller without the privilege reads nothing).
func (v *verifier) probe(ctx context.Context, role, user, prep, query string) (string, error) {
	var out string
	fn, err := v.confine(ctx, role)
	if err != nil {
		return "", err
	}
	err = v.asRole(ctx, role, user, nil, nil, prep, func(sp pgx.Tx) error {
		err := sp.QueryRow(ctx, "SELECT "+fn+"($1, false)", query).Scan(&out)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			out = "0 row(s): " // refused: nothing read
			if pe.Code != "42501" {
				out = "error " + pe.Code
			}
			return nil
		}
		return err
	})
	return out, err
}
