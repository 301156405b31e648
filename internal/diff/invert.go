package diff

import "github.com/rlsmigrate/rlsmigrate/internal/schema"

// opposite maps each kind to the kind that undoes it. Kinds missing here are not undone:
// roles, the identity functions and schemas may be shared, so a rollback leaves them.
var opposite = map[Kind]Kind{
	TableRename:     TableRename,
	ColumnRename:    ColumnRename,
	PolicyRename:    PolicyRename,
	IndexRename:     IndexRename,
	PolicyDrop:      PolicyCreate,
	PolicyCreate:    PolicyDrop,
	PolicyAlter:     PolicyAlter,
	IndexDrop:       IndexCreate,
	IndexCreate:     IndexDrop,
	ForeignKeyDrop:  ForeignKeyAdd,
	ForeignKeyAdd:   ForeignKeyDrop,
	UniqueDrop:      UniqueAdd,
	UniqueAdd:       UniqueDrop,
	PrimaryKeyDrop:  PrimaryKeyAdd,
	PrimaryKeyAdd:   PrimaryKeyDrop,
	GrantRevoke:     GrantAdd,
	GrantAdd:        GrantRevoke,
	UsageRevoke:     UsageGrant,
	UsageGrant:      UsageRevoke,
	TableCreate:     TableDrop,
	TableDrop:       TableCreate,
	ColumnAdd:       ColumnDrop,
	ColumnDrop:      ColumnAdd,
	ColumnType:      ColumnType,
	ColumnDefault:   ColumnDefault,
	ColumnNotNull:   ColumnNotNull,
	ColumnIdentity:  ColumnIdentity,
	RLSEnable:       RLSDisable,
	RLSDisable:      RLSEnable,
	ForceRLSEnable:  ForceRLSDisable,
	ForceRLSDisable: ForceRLSEnable,
}

// Invert returns the changes that undo changes, in apply order. Hazards are not carried:
// a rollback is asked for explicitly.
func Invert(changes []*Change) []*Change {
	var out []*Change
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		k, ok := opposite[c.Kind]
		if !ok {
			continue
		}
		if c.Kind == ForeignKeyAdd && c.Old != nil && c.New != nil {
			k = ForeignKeyAdd // a changed key is changed back
		}
		inv := &Change{Kind: k, Schema: c.Schema, Table: c.Table, Name: c.Name, Role: c.Role,
			OldTable: c.NewTable, NewTable: c.OldTable, Old: c.New, New: c.Old}
		if inv.NewTable != nil {
			inv.Table = inv.NewTable.Name
		}
		// Column changes name the column as it is after they apply.
		if col, ok := inv.New.(*schema.Column); ok && col != nil {
			inv.Name = col.Name
		} else if col, ok := inv.Old.(*schema.Column); ok && col != nil {
			inv.Name = col.Name
		}
		out = append(out, inv)
	}
	return Sorted(out)
}
