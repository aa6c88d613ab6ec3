package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"valise/schema"
)

// Held is what the peer state says one peer holds of a record: the hash of
// the version sent to it or received from it (VHash, "" when none) and the
// bundle that version travelled in.
type Held struct{ VHash, Bundle string }

// Changed is one record ChangedFor found: its stored canonical body, its
// authorship claims (Write.Claims), its place in the store's changes
// (compare a peer's SentHighWater) and what each of the peers holds of
// it. Body, Claims and Held are valid only during the call.
type Changed struct {
	Record       *schema.Record
	Body, Claims []byte
	Changed      int64
	Held         []Held
	conn         querier
	parsed       map[string]schema.Handling
}

// Envelopes is Store.Envelopes read on the connection of ChangedFor's
// scan, in its snapshot. Looked up on another connection while the scan
// is open, the same lookups made SQLite read pages from the file again
// and again: 3.1M reads instead of 21k for a status at a hub of 200k
// records and 16 peers.
func (c *Changed) Envelopes(ids []string) (map[string][]*schema.Record, error) {
	return envelopes(c.conn, c.parsed, ids)
}

// connQuerier runs queries on one connection.
type connQuerier struct{ c *sql.Conn }

func (q connQuerier) Query(query string, args ...any) (*sql.Rows, error) {
	return q.c.QueryContext(context.Background(), query, args...)
}

// ChangedFor calls fn for each record changed since since, in key order,
// with what each of peers holds of it (Changed). It asks SQLite to join
// the peer state rather than loading it: pack's memory does not grow with
// the number of records the peers hold.
func (s *Store) ChangedFor(since int64, peers []string, fn func(c *Changed) error) error {
	var q strings.Builder
	q.WriteString(`SELECT r.id, r.origin, r.n, r.schema, r.deleted, r.recalled, r.handling, r.content_hash, r.body, r.proofs, r.mac, r.changed`) // recordColumns, changed
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
	// Every row a pack reads is checked against its MAC: a pack never
	// sends a record whose handling or origin was changed by hand.
	m, err := s.sealer()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		return mapErr(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(context.Background(), q.String(), args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	c := &Changed{Held: make([]Held, len(peers)), conn: connQuerier{conn}, parsed: map[string]schema.Handling{}}
	var row recordRow
	dest := append(make([]any, 0, 12+2*len(peers)), row.dest()...)
	dest = append(dest, &c.Changed)
	for i := range c.Held {
		dest = append(dest, &c.Held[i].VHash, &c.Held[i].Bundle)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return mapErr(err)
		}
		if te := row.check(m); te != nil {
			return te
		}
		r, err := schema.Decode(row.body)
		if err != nil {
			return fmt.Errorf("store holds a malformed record: %w", err)
		}
		c.Record, c.Body, c.Claims = r, row.body, row.claims
		if err := fn(c); err != nil {
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
