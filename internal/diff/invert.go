package diff

// Invert returns the changes that undo changes, in apply order. Hazards are not carried:
// a rollback is asked for explicitly. Kinds without an inverse (roles, the identity
// functions, schemas) are left in place.
func Invert(changes []*Change) []*Change {
	var out []*Change
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		d, _ := describeKind(c.Kind)
		k := d.inverse
		if k == "" {
			continue
		}
		if c.Kind == ColumnDrop {
			// Dropping a column dropped its key and reference with it: restore all three.
			out = append(out, columnAdded(c.NewTable, c.OldTable, c.Old.Column)...)
			continue
		}
		if c.Effect() == Alters && c.Kind == ForeignKeyAdd {
			k = ForeignKeyAdd // a replaced key is replaced back
		}
		// A rollback makes objects anew: what it restores may be used by what it restores.
		_, op := c.ObjectChange()
		inv := &Change{Kind: k, Schema: c.Schema, Table: c.Table, Name: c.Name, Role: c.Role,
			OldTable: c.NewTable, NewTable: c.OldTable, Old: c.New, New: c.Old, Revoke: c.Revoke, Anew: op == ObjectAlter}
		if c.OldUnrenamed != nil {
			inv.New = *c.OldUnrenamed
		}
		if c.NewUnrenamed != nil {
			inv.Old = *c.NewUnrenamed
		}
		if inv.NewTable != nil {
			inv.Table = inv.NewTable.Name
		}
		// Column changes name the column as it is after they apply.
		if col := inv.New.Column; col != nil {
			inv.Name = col.Name
		} else if col := inv.Old.Column; col != nil {
			inv.Name = col.Name
		}
		out = append(out, inv)
	}
	return Sorted(out)
}
