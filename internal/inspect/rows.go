package inspect

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rlsmigrate/rlsmigrate/internal/objects"
	"github.com/rlsmigrate/rlsmigrate/internal/schema"
	"github.com/rlsmigrate/rlsmigrate/internal/sqlident"
)

// Rows reads into actual the objects of want (normalised) that tables hold as rows
// rather than the catalog (declared reference rows), as the tables of actual hold them:
// one round trip, none when want declares no such object. Only declared rows are read,
// and only from tables actual has with every column they give; a row the table lacks
// is not added.
func Rows(ctx context.Context, conn *pgx.Conn, actual, want *schema.Schema) error {
	batch := &pgx.Batch{}
	tables := actual.TableIndex()
	for _, wt := range want.Tables {
		at := tables[[2]string{wt.Schema, wt.Name}]
		if at == nil {
			continue
		}
		byKind := map[*objects.Kind][]*schema.Object{}
		var kinds []*objects.Kind
		for _, o := range wt.Objects {
			k := objects.Of(o)
			if k.Rows == nil || !hasColumns(at, o) {
				continue
			}
			if byKind[k] == nil {
				kinds = append(kinds, k)
			}
			byKind[k] = append(byKind[k], o)
		}
		for _, k := range kinds {
			os := byKind[k]
			batch.Queue(k.Rows(sqlident.Qualified(at.Schema, at.Name), os)).Query(func(rows pgx.Rows) error {
				var i int
				var attrs map[string]string
				_, err := pgx.ForEachRow(rows, []any{&i, &attrs}, func() error {
					if i < 0 || i >= len(os) {
						return fmt.Errorf("row %d of %d", i, len(os))
					}
					o := *os[i]
					o.Attrs = attrs
					at.Objects = append(at.Objects, &o)
					return nil
				})
				return err
			})
		}
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := readSnapshot(ctx, conn, batch, ""); err != nil {
		return fmt.Errorf("reading declared rows: %w", err)
	}
	return nil
}

// hasColumns reports whether t has every column o names (its items).
func hasColumns(t *schema.Table, o *schema.Object) bool {
	for _, c := range o.Items {
		if c != "" && t.Column(c) == nil {
			return false
		}
	}
	return true
}
