package store

import (
	"database/sql"
	"fmt"
	"time"

	"valise/merge"
	"valise/proof"
	"valise/schema"
)

// Write is one new version of a record: what package merge decided an
// ingest, an edit or an import makes of what the store holds under the
// record's key (id and origin).
type Write struct {
	Rec  *schema.Record
	Body []byte  // Rec's canonical encoding; nil: encoded by Apply
	Hash string  // Rec's hex content hash (schema.ContentHash); "": computed by Apply
	Held *Stored // what the store holds under Rec's id (HeldMany), nil when nothing
	// Purge drops the record's earlier versions instead of keeping them
	// in its history: Rec is a recall stub, and this office may no longer
	// hold what the record said.
	Purge bool
	// Claims are the authorship claims (package proof, proof.MarshalClaims)
	// of Rec's authors other than this office. Nil carries the claims of
	// the version held over to Rec (a change of this office's: the items
	// it replaced become extras); an import gives them.
	Claims []byte
}

// Known is a version of a record that a peer is known to hold.
type Known struct {
	schema.Key
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
		if w.Claims == nil && w.Held != nil && w.Held.Claims != nil {
			var err error
			if w.Claims, err = t.carryClaims(w.Held, w.Rec); err != nil {
				return err
			}
		}
		if w.Hash == "" {
			w.Hash = schema.HexContentHash(w.Body)
		}
		switch {
		case w.Purge:
			if _, err := t.tx.Exec(`DELETE FROM versions WHERE id = ? AND origin = ?`, w.Rec.ID, w.Rec.Origin); err != nil {
				return mapErr(err)
			}
		case w.Held != nil:
			replaced = append(replaced, w.Rec.ID, w.Rec.Origin)
		}
		if w.Rec.Deleted {
			t.tombs = 1
		}
	}
	if len(replaced) > 0 {
		// The versions held move to versions before they are replaced.
		st, err := t.multi("retire", len(replaced)/2, func(rows int) string { return fmt.Sprintf(retireSQL, placeholders(rows, 2)) })
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
	if t.seal == nil {
		var err error
		if t.seal, err = t.s.sealer(); err != nil {
			return err
		}
	}
	args := make([]any, 0, 5+12*n)
	args = append(args, source, at, c.Action, c.Agency, bundle)
	for i, w := range ws {
		r := w.Rec
		var claims any
		var claimBytes []byte
		if len(w.Claims) > 0 && string(w.Claims) != "[]" && string(w.Claims) != "null" {
			claims, claimBytes = w.Claims, w.Claims
		}
		// The version number here: the one held plus one. It is set
		// here rather than in SQL because the row's MAC covers it.
		vn := int64(1)
		if w.Held != nil {
			vn = w.Held.N + 1
		}
		h := schema.HandlingString(r.Handling)
		t.seal.record(r.ID, r.Origin, vn, r.Schema, r.Deleted, r.Recalled != nil, h, w.Hash, w.Body, claimBytes)
		args = append(args, vn, t.changed+1+int64(i), r.ID, r.Schema, r.Origin, r.Deleted, r.Recalled != nil, h, claims, w.Hash, w.Body, t.seal.sum())
	}
	t.changed += int64(n)
	st, err := t.multi("put", n, func(rows int) string {
		return fmt.Sprintf(putSQL, values(rows, "?1", "?2", "?3", "?4", "?5", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?"))
	})
	if err != nil {
		return err
	}
	if _, err := st.Exec(args...); err != nil {
		return mapErr(err)
	}
	if err := t.keepRefs(ws); err != nil {
		return err
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
			cs = append(cs, Conflict{Key: w.Rec.Key(), Property: pc.Property, Candidates: pc.Candidates, Bundle: c.Bundle, At: at})
		}
		if err := t.setConflicts(w.Rec.Key(), cs); err != nil {
			return err
		}
	}
	return nil
}

// keepRefs keeps the refs table (which record names which id) in step
// with the versions written, and marks as changed the records that name a
// record whose handling changed: a pack then looks at them again, and
// recalls them from a peer that may no longer hold what they name.
func (t *Tx) keepRefs(ws []Write) error {
	var ins []any
	for _, w := range ws {
		k := w.Rec.Key()
		if w.Held != nil {
			if _, err := t.exec("refs-del", `DELETE FROM refs WHERE id = ? AND origin = ?`, k.ID, k.Origin); err != nil {
				return err
			}
			if w.Held.Handling != schema.HandlingString(w.Rec.Handling) {
				if _, err := t.exec("refs-bump", `UPDATE records SET changed = ?1
					WHERE (id, origin) IN (SELECT id, origin FROM refs WHERE target = ?2)`, t.changed, k.ID); err != nil {
					return err
				}
			}
		}
		if w.Rec.Recalled != nil {
			// A tombstone keeps its properties and travels like the
			// record: it names what the record named.
			continue
		}
		for _, id := range w.Rec.Refs() {
			ins = append(ins, id, k.ID, k.Origin)
		}
	}
	for len(ins) > 0 {
		n := min(len(ins)/3, BatchSize)
		st, err := t.multi("refs-ins", n, func(rows int) string {
			return `INSERT OR IGNORE INTO refs(target, id, origin) VALUES ` + placeholders(rows, 3)
		})
		if err != nil {
			return err
		}
		if _, err := st.Exec(ins[:3*n]...); err != nil {
			return mapErr(err)
		}
		ins = ins[3*n:]
	}
	return nil
}

// exec runs a one-row statement prepared once per transaction.
func (t *Tx) exec(kind, query string, args ...any) (sql.Result, error) {
	st, err := t.multi(kind, 1, func(int) string { return query })
	if err != nil {
		return nil, err
	}
	res, err := st.Exec(args...)
	return res, mapErr(err)
}

// carryClaims carries the claims of the version held over to rec, a
// change of this office's (see Write.Claims).
func (t *Tx) carryClaims(held *Stored, rec *schema.Record) ([]byte, error) {
	claims, err := proof.ParseClaims(held.Claims)
	if err != nil {
		return nil, fmt.Errorf("record %s: its stored claims: %w", rec.Key(), err)
	}
	from, err := held.Record()
	if err != nil {
		return nil, err
	}
	var out []proof.Claim
	for _, c := range claims {
		if c2, ok := proof.Carry(from, rec, c); ok {
			out = append(out, c2)
		}
	}
	return proof.MarshalClaims(out), nil
}
