// Package inspect reads a live database's catalog into the neutral schema model, in a
// fixed number of round trips whatever the number of tables, and lets PostgreSQL put a
// desired schema's expressions and type names into the same catalog form.
package inspect

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Options says what to read.
type Options struct {
	Schemas   []string // database schemas whose tables are read
	Roles     []string // roles whose existence, grants and schema usage are read
	Functions []string // function signatures, such as auth.user_id(), whose existence is read
	// Definitions are function signatures whose definitions are read, unless an
	// extension (pg_session_jwt) provides them.
	Definitions []string
	// RoutineSchemas are the database schemas whose functions without arguments
	// rlsmigrate owns (rls): each is read with its definition and EXECUTE grants.
	RoutineSchemas []string
	// AllGrantees reads the privileges every role holds on the tables, not only the
	// declared roles': a role schema.yaml does not know is still one that can read.
	AllGrantees bool
	// Exposures reads what lets a declared role past row-level security around the
	// policies: views and SECURITY DEFINER functions over tables with it, default
	// privileges, CREATE on the schemas (see schema.Schema).
	Exposures bool
	// External are the tables rlsmigrate does not manage whose existence, and that of
	// their columns, is read into Schema.External.
	External []*schema.Table
	// Kinds are the object kinds read (see package objects); nil reads every kind.
	Kinds []*objects.Kind
	// Helper, if set, reads the policies on its own connection while Inspect reads the
	// rest, in the snapshot it exported.
	Helper *Helper
}

// Helper is a second connection that reads the policies while Inspect reads the rest
// of the catalog on its own connection, both in one snapshot. Printing the policies'
// conditions opens every table they are on (PostgreSQL builds each table's cache entry
// on a new connection), which is about half of the catalog's time at hundreds of
// tables: on a second connection, on another of the server's cores, it is hidden
// behind the rest.
type Helper struct {
	conn     *pgx.Conn
	snapshot string
}

// Export begins, on conn, a read-only repeatable-read transaction and exports its
// snapshot (one round trip), for Inspect to read in through Options.Helper. conn is
// the helper's until it is closed, which ends the transaction: close it after Inspect.
func Export(ctx context.Context, conn *pgx.Conn) (*Helper, error) {
	h := &Helper{conn: conn}
	batch := &pgx.Batch{}
	batch.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	batch.Queue("SELECT pg_export_snapshot()").QueryRow(func(row pgx.Row) error { return row.Scan(&h.snapshot) })
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("exporting a snapshot: %w", err)
	}
	return h, nil
}

// Close closes the helper's connection, which ends its transaction.
func (h *Helper) Close() {
	h.conn.Close(context.Background())
}

// helped is a policy the Helper read, with its table's oid.
type helped struct {
	oid uint32
	p   *schema.Policy
}

// policies starts reading the policies of the tables the query tables selects; the
// channel gives them, or the error, once.
func (h *Helper) policies(ctx context.Context, tables string, args []any) <-chan helpedRead {
	out := make(chan helpedRead, 1)
	go func() {
		var read helpedRead
		batch := &pgx.Batch{}
		queuePolicies(batch, tables, args, func(oid uint32, p *schema.Policy) { read.policies = append(read.policies, helped{oid, p}) })
		read.err = h.conn.SendBatch(ctx, batch).Close()
		out <- read
	}()
	return out
}

// helpedRead is what a Helper read.
type helpedRead struct {
	policies []helped
	err      error
}

// readSnapshot runs batch in one read-only repeatable-read transaction, its BEGIN and
// COMMIT sent with it: one round trip, not three. The transaction reads in snapshot, one
// another transaction exported, unless it is "".
func readSnapshot(ctx context.Context, conn *pgx.Conn, batch *pgx.Batch, snapshot string) error {
	all := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, batch.Len()+3)}
	all.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	if snapshot != "" {
		all.Queue("SET TRANSACTION SNAPSHOT " + sqlident.Literal(snapshot))
	}
	all.QueuedQueries = append(all.QueuedQueries, batch.QueuedQueries...)
	all.Queue("COMMIT")
	err := conn.SendBatch(ctx, all).Close()
	if err != nil && conn.PgConn().TxStatus() != 'I' {
		// A failed query left the transaction open: end it, so that the connection can
		// be used again.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return err
}

// IgnoredTables are never reported: goose's version table.
var IgnoredTables = []string{"goose_db_version"}

// Inspect reads the tables of opts.Schemas with their columns, keys, indexes, row-level
// security, policies and grants, plus the roles, schemas and functions named in opts, in
// one read-only repeatable-read transaction: one round trip.
func Inspect(ctx context.Context, conn *pgx.Conn, opts Options) (*schema.Schema, *schema.Access, error) {
	s := &schema.Schema{SchemaUsage: map[string][]string{}}
	a := &schema.Access{Bypass: map[string]string{}, MemberOf: map[string][]string{}, Tables: map[string]*schema.TableAccess{}}
	r := newReader(s)
	r.access = a
	r.kinds = opts.Kinds
	r.policiesElsewhere = opts.Helper != nil
	batch := &pgx.Batch{}
	filter := "n.nspname = ANY($1) AND NOT (c.relname = ANY($2))"
	args := []any{opts.Schemas, IgnoredTables}
	r.queue(batch, filter, args, true)
	batch.Queue(`SELECT n.nspname,
		coalesce(array(SELECT `+granteeName+`
			FROM aclexplode(n.nspacl) a WHERE a.privilege_type = 'USAGE' ORDER BY 1), '{}')
		FROM pg_namespace n WHERE n.nspname = ANY($1) ORDER BY 1`, opts.Schemas).Query(func(rows pgx.Rows) error {
		var name string
		var usage []string
		_, err := pgx.ForEachRow(rows, []any{&name, &usage}, func() error {
			s.Schemas = append(s.Schemas, name)
			s.SchemaUsage[name] = slices.DeleteFunc(usage, func(r string) bool { return !slices.Contains(opts.Roles, r) })
			return nil
		})
		return err
	})
	batch.Queue(`SELECT rolname, CASE WHEN rolsuper THEN 'superuser' WHEN rolbypassrls THEN 'bypassrls' ELSE '' END
		FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1`, opts.Roles).Query(func(rows pgx.Rows) error {
		var name, bypass string
		_, err := pgx.ForEachRow(rows, []any{&name, &bypass}, func() error {
			s.Roles = append(s.Roles, name)
			if bypass != "" {
				a.Bypass[name] = bypass
			}
			return nil
		})
		return err
	})
	// The roles each declared role acts as that own a table of the schemas or get past
	// row-level security (a superuser is a member of every role: its bypass is reported),
	// the predefined roles that read or write the server's files or run its programs
	// (as good as superuser) or read or write all data, and the other declared roles
	// (whose policies and privileges it then takes).
	batch.Queue(`SELECT m.rolname, array_agg(g.rolname::text ORDER BY g.rolname)
		FROM pg_roles m JOIN pg_roles g ON g.oid <> m.oid AND pg_has_role(m.oid, g.oid, 'MEMBER')
		WHERE m.rolname = ANY($1) AND NOT m.rolsuper AND (g.rolsuper OR g.rolbypassrls OR g.oid IN (
			SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = ANY($2) AND c.relkind IN ('r', 'p'))
			OR g.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program',
				'pg_read_all_data', 'pg_write_all_data')
			OR g.rolname = ANY($1))
		GROUP BY m.rolname ORDER BY 1`, opts.Roles, opts.Schemas).Query(func(rows pgx.Rows) error {
		var name string
		var groups []string
		_, err := pgx.ForEachRow(rows, []any{&name, &groups}, func() error {
			a.MemberOf[name] = groups
			return nil
		})
		return err
	})
	if len(opts.Definitions) > 0 {
		a.Definitions = map[string]string{}
		batch.Queue(`SELECT f, l.lanname, p.provolatile::text, p.prosecdef, coalesce(p.proconfig, '{}'), p.prosrc
			FROM unnest($1::text[]) f JOIN pg_proc p ON p.oid = to_regprocedure(f) JOIN pg_language l ON l.oid = p.prolang
			WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
			opts.Definitions).Query(func(rows pgx.Rows) error {
			var sig, lang, volatility, body string
			var definer bool
			var settings []string
			_, err := pgx.ForEachRow(rows, []any{&sig, &lang, &volatility, &definer, &settings, &body}, func() error {
				a.Definitions[sig] = schema.Definition(lang, volatility, definer, settings, body)
				return nil
			})
			return err
		})
	}
	if len(opts.RoutineSchemas) > 0 {
		queueRoutines(batch, s, opts)
	}
	for _, k := range r.objectKinds() {
		if !k.OnTable {
			batch.Queue(k.Query, opts.Schemas).Query(func(rows pgx.Rows) error {
				return scanObjects(rows, k, func(_ uint32, o *schema.Object) { s.Objects = append(s.Objects, o) })
			})
		}
	}
	if len(opts.External) > 0 {
		queueExternal(batch, s, opts.External)
	}
	var exposed *exposures
	if opts.Exposures {
		exposed = queueExposures(batch, s, opts)
	}
	batch.Queue(`SELECT coalesce((SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('goose_db_version')), '')`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&a.MigrationRole)
	})
	batch.Queue(`SELECT f FROM unnest($1::text[]) f WHERE to_regprocedure(f) IS NOT NULL ORDER BY 1`, opts.Functions).Query(func(rows pgx.Rows) error {
		var err error
		s.Functions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	var snapshot string
	var policies <-chan helpedRead
	if opts.Helper != nil {
		snapshot = opts.Helper.snapshot
		policies = opts.Helper.policies(ctx, tablesQuery(filter), args)
	}
	err := readSnapshot(ctx, conn, batch, snapshot)
	if policies != nil {
		read := <-policies
		if err != nil || read.err != nil {
			// The snapshot could not be read in (a pooler that sent the two connections
			// to different servers), or the helper failed: read it all here.
			opts.Helper = nil
			return Inspect(ctx, conn, opts)
		}
		for _, h := range read.policies {
			if t := r.byOID[h.oid]; t != nil {
				t.Policies = append(t.Policies, h.p)
			}
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("inspecting the database: %w", err)
	}
	r.finish(opts.Roles, opts.AllGrantees)
	if exposed != nil {
		exposed.finish(a, opts.Roles, opts.AllGrantees)
	}
	s.Normalize()
	return s, a, nil
}

// scanObjects reads rows of (table oid or schema, name, attrs, items) of object kind k,
// as Kind.Query returns them, and hands each object to add with its table's oid (0 for
// an object of a database schema, whose Schema is then set).
func scanObjects(rows pgx.Rows, k *objects.Kind, add func(oid uint32, o *schema.Object)) error {
	for rows.Next() {
		var owner any
		o := &schema.Object{Kind: k.Name}
		if err := rows.Scan(&owner, &o.Name, &o.Attrs, &o.Items); err != nil {
			return fmt.Errorf("reading %s objects: %w", k.Name, err)
		}
		var oid uint32
		switch v := owner.(type) {
		case uint32:
			oid = v
		case string:
			o.Schema = v
		}
		add(oid, o)
	}
	return rows.Err()
}

// queueExternal reads which of the tables external exist (tables, views, foreign
// tables), with the columns they have of those each declares and their types.
func queueExternal(batch *pgx.Batch, s *schema.Schema, external []*schema.Table) {
	var schemas, names []string
	for _, x := range external {
		schemas, names = append(schemas, x.Schema), append(names, x.Name)
	}
	batch.Queue(`SELECT n.nspname::text, c.relname::text, coalesce(a.attname::text, ''), coalesce(format_type(a.atttypid, a.atttypmod), '')
		FROM unnest($1::text[], $2::text[]) x(s, t)
		JOIN pg_namespace n ON n.nspname = x.s
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY 1, 2, a.attnum`, schemas, names).Query(func(rows pgx.Rows) error {
		var schemaName, name, col, typ string
		_, err := pgx.ForEachRow(rows, []any{&schemaName, &name, &col, &typ}, func() error {
			if n := len(s.External); n == 0 || s.External[n-1].Schema != schemaName || s.External[n-1].Name != name {
				s.External = append(s.External, &schema.Table{Schema: schemaName, Name: name})
			}
			if col != "" {
				t := s.External[len(s.External)-1]
				t.Columns = append(t.Columns, &schema.Column{Name: col, Type: typ})
			}
			return nil
		})
		return err
	})
}

// queueRoutines reads the functions without arguments of opts.RoutineSchemas, with the
// declared roles (and PUBLIC) that may execute them.
func queueRoutines(batch *pgx.Batch, s *schema.Schema, opts Options) {
	batch.Queue(`SELECT n.nspname, p.proname, pg_get_function_result(p.oid), l.lanname, p.provolatile::text,
		p.prosecdef, coalesce(p.proconfig, '{}'), p.prosrc,
		array(SELECT `+granteeName+`
			FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
			WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner ORDER BY 1)
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE n.nspname = ANY($1) AND p.pronargs = 0 AND p.prokind = 'f' ORDER BY 1, 2`, opts.RoutineSchemas).Query(func(rows pgx.Rows) error {
		var f schema.Function
		_, err := pgx.ForEachRow(rows, []any{&f.Schema, &f.Name, &f.Returns, &f.Language, &f.Volatility, &f.SecurityDefiner, &f.Settings, &f.Body, &f.Execute}, func() error {
			fn := f
			fn.Execute = slices.DeleteFunc(slices.Clone(f.Execute), func(r string) bool { return r != "public" && !slices.Contains(opts.Roles, r) })
			if len(fn.Settings) == 0 {
				fn.Settings = nil
			}
			if len(fn.Execute) == 0 {
				fn.Execute = nil
			}
			s.Routines = append(s.Routines, &fn)
			return nil
		})
		return err
	})
}

// reader gathers the rows of the catalog queries into tables, keyed by table OID.
type reader struct {
	kinds  []*objects.Kind // the object kinds read; nil: every kind
	s      *schema.Schema
	access *schema.Access // nil when only the schema is read (normalisation)
	byOID  map[uint32]*schema.Table
	grants map[uint32]map[string][]string
	// columns maps table, role and privilege to the columns it is held on.
	columns map[uint32]map[string]map[string][]string
	// policiesElsewhere leaves the policies to a Helper.
	policiesElsewhere bool
}

// tableAccess returns what the database says about the access to the table of oid, or
// nil when it is not read.
func (r *reader) tableAccess(oid uint32) *schema.TableAccess {
	if t := r.byOID[oid]; t != nil && r.access != nil {
		return r.access.Tables[t.QualifiedName()]
	}
	return nil
}

// objectKinds returns the object kinds r reads.
func (r *reader) objectKinds() []*objects.Kind {
	if r.kinds == nil {
		return objects.Kinds
	}
	return r.kinds
}

func newReader(s *schema.Schema) *reader {
	return &reader{s: s, byOID: map[uint32]*schema.Table{}, grants: map[uint32]map[string][]string{},
		columns: map[uint32]map[string]map[string][]string{}}
}

// tablesQuery selects the oids of the tables filter selects (on pg_class c and
// pg_namespace n).
func tablesQuery(filter string) string {
	return fmt.Sprintf(`SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND %s`, filter)
}

// queuePolicies reads the policies of the tables the query tables selects, and hands
// each to add with its table's oid, by table and name.
func queuePolicies(batch *pgx.Batch, tables string, args []any, add func(oid uint32, p *schema.Policy)) {
	batch.Queue(fmt.Sprintf(`SELECT p.polrelid, p.polname, p.polcmd::text, p.polpermissive,
		array(SELECT CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x) END FROM unnest(p.polroles) x ORDER BY 1),
		coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
		FROM pg_policy p WHERE p.polrelid IN (%s) ORDER BY p.polrelid, p.polname`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var p schema.Policy
		var cmd string
		var permissive bool
		_, err := pgx.ForEachRow(rows, []any{&oid, &p.Name, &cmd, &permissive, &p.Roles, &p.Using, &p.Check}, func() error {
			pol := p
			pol.Command = map[string]string{"r": "select", "a": "insert", "w": "update", "d": "delete", "*": "all"}[cmd]
			pol.Restrictive = !permissive
			add(oid, &pol)
			return nil
		})
		return err
	})
}

// queue adds the per-table catalog queries for the tables that filter selects (a
// condition on pg_class c and pg_namespace n, with args) to batch. withAccess adds
// grants, which normalisation does not need.
func (r *reader) queue(batch *pgx.Batch, filter string, args []any, withAccess bool) {
	tables := tablesQuery(filter)
	batch.Queue(fmt.Sprintf(`SELECT c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner),
		coalesce(ds.description, '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
		WHERE c.oid IN (%s) ORDER BY n.nspname, c.relname`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var t schema.Table
		var owner string
		_, err := pgx.ForEachRow(rows, []any{&oid, &t.Schema, &t.Name, &t.RLS, &t.ForceRLS, &owner, &t.Comment}, func() error {
			tb := t
			r.byOID[oid] = &tb
			r.s.Tables = append(r.s.Tables, &tb)
			if r.access != nil {
				r.access.Tables[tb.QualifiedName()] = &schema.TableAccess{OwnerRole: owner}
			}
			return nil
		})
		return err
	})
	// A default cannot refer to a column, so it is printed without its table: with the
	// table, pg_get_expr opens every table, which was most of this query's time. The
	// descriptions are joined, not looked up per column through col_description.
	batch.Queue(fmt.Sprintf(`SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		coalesce(CASE a.attgenerated WHEN '' THEN pg_get_expr(d.adbin, 0) ELSE pg_get_expr(d.adbin, d.adrelid) END, ''),
		a.attidentity::text, coalesce(ds.description, ''), a.attgenerated::text
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_description ds ON ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum
		WHERE a.attrelid IN (%s) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attrelid, a.attnum`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var c schema.Column
		var identity, generated string
		_, err := pgx.ForEachRow(rows, []any{&oid, &c.Name, &c.Type, &c.NotNull, &c.Default, &identity, &c.Comment, &generated}, func() error {
			col := c
			col.Identity = map[string]string{"a": "always", "d": "by default"}[identity]
			if generated == "s" { // the expression is where a default would be
				col.Generated, col.Default = col.Default, ""
			}
			if t := r.byOID[oid]; t != nil {
				t.Columns = append(t.Columns, &col)
			}
			return nil
		})
		return err
	})
	batch.Queue(fmt.Sprintf(`SELECT con.conrelid, con.conname, con.contype::text,
		array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
			JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
		coalesce(fn.nspname::text, ''), coalesce(fc.relname::text, ''),
		coalesce(array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
			JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o), '{}'),
		con.confdeltype::text, con.convalidated
		FROM pg_constraint con
		LEFT JOIN pg_class fc ON fc.oid = con.confrelid
		LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
		WHERE con.conrelid IN (%s) AND con.contype IN ('p', 'u', 'f')
		ORDER BY con.conrelid, con.conname`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var name, typ, fSchema, fTable, onDelete string
		var cols, fCols []string
		var validated bool
		_, err := pgx.ForEachRow(rows, []any{&oid, &name, &typ, &cols, &fSchema, &fTable, &fCols, &onDelete, &validated}, func() error {
			r.constraint(oid, name, typ, cols, fSchema, fTable, fCols, onDelete, validated)
			return nil
		})
		return err
	})
	batch.Queue(fmt.Sprintf(`SELECT i.indrelid, ic.relname, i.indisunique,
		CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL
			THEN array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)
			ELSE ARRAY[pg_get_indexdef(i.indexrelid)] END
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid IN (%s) AND i.indisvalid
		AND NOT EXISTS (SELECT FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
		ORDER BY i.indrelid, ic.relname`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var ix schema.Index
		_, err := pgx.ForEachRow(rows, []any{&oid, &ix.Name, &ix.Unique, &ix.Columns}, func() error {
			index := ix
			if t := r.byOID[oid]; t != nil {
				t.Indexes = append(t.Indexes, &index)
			}
			return nil
		})
		return err
	})
	for _, k := range r.objectKinds() {
		if k.OnTable && k.Query != "" {
			batch.Queue(fmt.Sprintf(k.Query, tables), args...).Query(func(rows pgx.Rows) error {
				return scanObjects(rows, k, func(oid uint32, o *schema.Object) {
					if t := r.byOID[oid]; t != nil {
						o.Schema, o.Table = t.Schema, t.Name
						t.Objects = append(t.Objects, o)
					}
				})
			})
		}
	}
	if !r.policiesElsewhere {
		queuePolicies(batch, tables, args, func(oid uint32, p *schema.Policy) {
			if t := r.byOID[oid]; t != nil {
				t.Policies = append(t.Policies, p)
			}
		})
	}
	if !withAccess {
		return
	}
	batch.Queue(fmt.Sprintf(`SELECT c.oid, `+granteeName+`,
		lower(a.privilege_type), a.is_grantable
		FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid IN (%s) AND a.grantee <> c.relowner ORDER BY 1, 2`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var role, priv string
		var grantable bool
		_, err := pgx.ForEachRow(rows, []any{&oid, &role, &priv, &grantable}, func() error {
			if r.grants[oid] == nil {
				r.grants[oid] = map[string][]string{}
			}
			r.grants[oid][role] = append(r.grants[oid][role], priv)
			if ta := r.tableAccess(oid); ta != nil && grantable {
				if ta.GrantOptions == nil {
					ta.GrantOptions = map[string][]string{}
				}
				ta.GrantOptions[role] = append(ta.GrantOptions[role], priv)
			}
			return nil
		})
		return err
	})
	// Privileges on the table's own sequences (identity, serial) held by other roles
	// than their owner.
	batch.Queue(fmt.Sprintf(`SELECT d.refobjid, s.relname, `+granteeName+`,
		array_agg(lower(a.privilege_type) ORDER BY a.privilege_type)
		FROM pg_class s JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
			AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'),
		aclexplode(s.relacl) a
		WHERE s.relkind = 'S' AND d.refobjid IN (%s) AND a.grantee <> s.relowner
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var g schema.SequenceGrant
		_, err := pgx.ForEachRow(rows, []any{&oid, &g.Sequence, &g.Role, &g.Privileges}, func() error {
			if ta := r.tableAccess(oid); ta != nil {
				sg := g
				ta.SequenceGrants = append(ta.SequenceGrants, &sg)
			}
			return nil
		})
		return err
	})
	batch.Queue(fmt.Sprintf(`SELECT a.attrelid, CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee) END,
		lower(x.privilege_type), a.attname
		FROM pg_attribute a, aclexplode(a.attacl) x
		WHERE a.attrelid IN (%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
		ORDER BY 1, 2, 3, a.attnum`, tables), args...).Query(func(rows pgx.Rows) error {
		var oid uint32
		var role, priv, col string
		_, err := pgx.ForEachRow(rows, []any{&oid, &role, &priv, &col}, func() error {
			if r.columns[oid] == nil {
				r.columns[oid] = map[string]map[string][]string{}
			}
			if r.columns[oid][role] == nil {
				r.columns[oid][role] = map[string][]string{}
			}
			r.columns[oid][role][priv] = append(r.columns[oid][role][priv], col)
			return nil
		})
		return err
	})
}

var onDeleteActions = map[string]string{"a": "", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}

func (r *reader) constraint(oid uint32, name, typ string, cols []string, fSchema, fTable string, fCols []string, onDelete string, validated bool) {
	t := r.byOID[oid]
	if t == nil {
		return
	}
	switch typ {
	case "p":
		t.PrimaryKey, t.PKName = cols, name
	case "u":
		if len(cols) == 1 {
			if c := t.Column(cols[0]); c != nil {
				c.Unique, c.UniqueName = true, name
			}
		}
	case "f":
		if len(cols) == 1 && len(fCols) == 1 {
			if c := t.Column(cols[0]); c != nil {
				c.References = &schema.ForeignKey{Name: name, Schema: fSchema, Table: fTable, Column: fCols[0], OnDelete: onDeleteActions[onDelete], NotValid: !validated}
			}
		}
	}
}

// finish turns the grant rows into grants of the given roles (and PUBLIC), or of
// every role but the table's owner when all is set.
func (r *reader) finish(roles []string, all bool) {
	for oid, byRole := range r.grants {
		t := r.byOID[oid]
		for role, privs := range byRole {
			if all || role == "public" || slices.Contains(roles, role) {
				t.Grants = append(t.Grants, &schema.Grant{Role: role, Privileges: privs})
			}
		}
	}
	for oid, byRole := range r.columns {
		t := r.byOID[oid]
		for role, cols := range byRole {
			if !all && role != "public" && !slices.Contains(roles, role) {
				continue
			}
			g := t.GrantOf(role)
			if g == nil {
				g = &schema.Grant{Role: role}
				t.Grants = append(t.Grants, g)
			}
			g.Columns = cols
		}
	}
}

// GooseVersion returns the highest migration version goose recorded as applied, and
// whether goose's version table exists and can be read; it never creates that table.
func GooseVersion(ctx context.Context, conn *pgx.Conn) (int64, bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL
		AND has_table_privilege('goose_db_version', 'SELECT')`).Scan(&exists); err != nil {
		return 0, false, fmt.Errorf("reading the migration version: %w", err)
	}
	if !exists {
		return 0, false, nil
	}
	var v int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		return 0, true, fmt.Errorf("reading the migration version: %w", err)
	}
	return v, true, nil
}

// Access is what the database says about the roles that run queries.
type Access struct {
	LoginRole   string   // the role the connection runs as
	BypassRoles []string // of the roles asked and the login role: superusers and BYPASSRLS roles
}

// ReadAccess reads, in one round trip, which of roles (and the connection's own role)
// bypass row-level security. Who owns each table, Inspect reads (schema.Access).
func ReadAccess(ctx context.Context, conn *pgx.Conn, roles []string) (*Access, error) {
	a := &Access{}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT current_user::text`).QueryRow(func(row pgx.Row) error { return row.Scan(&a.LoginRole) })
	batch.Queue(`SELECT rolname::text FROM pg_roles WHERE (rolname = ANY($1) OR rolname = current_user)
		AND (rolsuper OR rolbypassrls) ORDER BY 1`, roles).Query(func(rows pgx.Rows) error {
		var err error
		a.BypassRoles, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("reading the roles that bypass row-level security: %w", err)
	}
	return a, nil
}
