package store

import (
	"fmt"
	"time"

	"valise/merge"
	"valise/schema"
)

// Write is one new version of a record: what package merge decided an
// ingest, an edit or an import makes of what the store holds.
type Write struct {
	Rec  *schema.Record
	Body []byte  // Rec's canonical encoding; nil: encoded by Apply
	Hash string  // Rec's hex content hash (schema.ContentHash); "": computed by Apply
	Held *Stored // what the store holds under Rec's id (HeldMany), nil when nothing
}

// Known is a version of a record that a peer is known to hold.
type Known struct {
	ID    string
	VHash string // schema.VersionHash of the version
}

// Apply is the one way records change in the store. In the transaction it
// writes each version of ws — every Held must be what the store holds
// under its record's id, and the ids distinct — with its place in the
// record's history (the version it replaces moves to versions), keeps the
// open conflicts of each record in step with its alternatives (a
// conflict already open keeps the bundle and time that opened it), and
// records that c.Agency holds the versions in known (an import: what the
// sender sent is what it holds). Edit, ingest and import all write through
// it, so that records, versions, conflicts and peer state cannot
// disagree.
func (t *Tx) Apply(c Change, ws []Write, known []Known) error {
	for len(ws) > 0 {
		n := min(len(ws), BatchSize)
		if err := t.putBatch(ws[:n], c); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return t.PeerHolds(c.Agency, c.Bundle, known)
}

func (t *Tx) putBatch(ws []Write, c Change) error {
	n := len(ws)
	at := t.s.now().UTC().Format(time.RFC3339)
	var replaced []any
	for i := range ws {
		w := &ws[i]
		if w.Body == nil {
			w.Body = w.Rec.AppendCanonical(nil)
		}
		if w.Hash == "" {
			w.Hash = schema.HexContentHash(w.Body)
		}
		if w.Held != nil {
			replaced = append(replaced, w.Rec.ID)
		}
		if w.Rec.Deleted {
			t.tombs = 1
		}
	}
	if len(replaced) > 0 {
		// The versions held move to versions before they are replaced.
		st, err := t.multi("retire", len(replaced), func(rows int) string { return fmt.Sprintf(retireSQL, inList(rows)) })
		if err != nil {
			return err
		}
		if _, err := st.Exec(replaced...); err != nil {
			return mapErr(err)
		}
	}
	var source, bundle any
	if c.Source != "" {
		source = c.Source
	}
	if c.Bundle != "" {
		bundle = c.Bundle
	}
	args := make([]any, 0, 5+7*n)
	args = append(args, source, at, c.Action, c.Agency, bundle)
	for i, w := range ws {
		r := w.Rec
		args = append(args, t.changed+1+int64(i), r.ID, r.Schema, r.Origin, r.Deleted, w.Hash, w.Body)
	}
	t.changed += int64(n)
	st, err := t.multi("put", n, func(rows int) string {
		return fmt.Sprintf(putSQL, values(rows, "?1", "?2", "?3", "?4", "?5", "1", "?", "?", "?", "?", "?", "?", "?"))
	})
	if err != nil {
		return err
	}
	if _, err := st.Exec(args...); err != nil {
		return mapErr(err)
	}
	// Open conflicts follow the alternatives each version carries. When
	// neither the version held nor the new one has any there is nothing
	// to keep in step, which saves a query per record.
	for _, w := range ws {
		if (w.Held == nil || !w.Held.Alts) && len(w.Rec.Version.Alts) == 0 {
			continue
		}
		var cs []Conflict
		for _, pc := range merge.Conflicts(w.Rec) {
			cs = append(cs, Conflict{ID: w.Rec.ID, Property: pc.Property, Candidates: pc.Candidates, Bundle: c.Bundle, At: at})
		}
		if err := t.setConflicts(w.Rec.ID, cs); err != nil {
			return err
		}
	}
	return nil
}
