// Package change carries out an officer's changes to records held by the
// office: Edit (set, add and remove property values, handling), Delete,
// Resolve of an open conflict, and Judge of a likely duplicate pair.
//
// Each change is checked against the record's handling (only the
// originator may widen it) and written through the store's one write
// path (store.Tx.Apply), which keeps versions, conflicts and what each
// peer holds consistent.
package change
