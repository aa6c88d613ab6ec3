package store

import (
	"fmt"
	"strings"

	"valise/schema"
)

// Held is what the peer state says one peer holds of a record: the hash of
// the version sent to it or received from it (VHash, "" when none) and the
// bundle that version travelled in.
type Held struct{ VHash, Bundle string }

// ChangedFor calls fn for each record changed since since, in key order,
// with its stored canonical body, its authorship claims (Write.Claims) and
// what each of peers holds of it. It
// asks SQLite to join the peer state rather than loading it: pack's memory
// does not grow with the number of records the peers hold. held and body
// are valid only during the call.
func (s *Store) ChangedFor(since int64, peers []string, fn func(r *schema.Record, body, claims []byte, held []Held) error) error {
	var q strings.Builder
	q.WriteString(`SELECT r.id, r.origin, r.n, r.schema, r.deleted, r.recalled, r.handling, r.content_hash, r.body, r.proofs, r.mac`) // recordColumns
	for i := range peers {
		fmt.Fprintf(&q, `, COALESCE(p%d.vhash, ''), COALESCE(p%d.bundle, '')`, i, i)
	}
	q.WriteString(` FROM records r`)
	args := make([]any, 0, len(peers)+1)
	for i, p := range peers {
		fmt.Fprintf(&q, ` LEFT JOIN peer_state p%d ON p%d.peer = ? AND p%d.id = r.id AND p%d.origin = r.origin`, i, i, i, i)
		args = append(args, p)
	}
	q.WriteString(` WHERE r.changed > ? ORDER BY r.id, r.origin`)
	args = append(args, since)
	rows, err := s.db.Query(q.String(), args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	// Every row a pack reads is checked against its MAC: a pack never
	// sends a record whose handling or origin was changed by hand.
	m, err := s.sealer()
	if err != nil {
		return err
	}
	held := make([]Held, len(peers))
	var row recordRow
	dest := append(make([]any, 0, 11+2*len(peers)), row.dest()...)
	for i := range held {
		dest = append(dest, &held[i].VHash, &held[i].Bundle)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return mapErr(err)
		}
		if te := row.check(m); te != nil {
			return te
		}
		body := row.body
		r, err := schema.Decode(body)
		if err != nil {
			return fmt.Errorf("store holds a malformed record: %w", err)
		}
		if err := fn(r, body, row.claims, held); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// UnacknowledgedBundles returns the bundles sent to peer that peer has
// not acknowledged: what --resend sends again.
func (s *Store) UnacknowledgedBundles(peer string) (map[string]bool, error) {
	rows, err := s.db.Query(`SELECT bundle FROM ledger WHERE peer = ? AND direction = 'sent' AND acked_at IS NULL`, peer)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, mapErr(err)
		}
		out[b] = true
	}
	return out, mapErr(rows.Err())
}

// UnacknowledgedSent returns the bundles sent to peer that peer has not
// acknowledged, by sequence number: the ones a --resend carries again.
func (s *Store) UnacknowledgedSent(peer string) (map[uint64]string, error) {
	rows, err := s.db.Query(`SELECT sequence, bundle FROM ledger WHERE peer = ? AND direction = 'sent' AND acked_at IS NULL AND sequence IS NOT NULL`, peer)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[uint64]string{}
	for rows.Next() {
		var seq uint64
		var b string
		if err := rows.Scan(&seq, &b); err != nil {
			return nil, mapErr(err)
		}
		out[seq] = b
	}
	return out, mapErr(rows.Err())
}

// CountChanged counts the records changed after since (store.ChangedFor's
// records), from the index of changes: the total of a pack's progress.
func (s *Store) CountChanged(since int64) (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COUNT(*) FROM records WHERE changed > ?`, since).Scan(&n)
	return n, mapErr(err)
}
