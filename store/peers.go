package store

import (
	"database/sql"

	"errors"
	"fmt"
	"time"
	"valise/schema"
)

// Peer is a trusted (or revoked) office card in the keyring.
type Peer struct {
	Agency      string
	Fingerprint string
	Card        []byte
	Status      string // trusted or revoked
	AddedAt     string
	RevokedAt   string
}

// AddPeer stores a card the operator has compared by fingerprint. A card
// for an agency already trusted under another fingerprint is refused: key
// changes travel as signed statements, not as a new card.
func (s *Store) AddPeer(p Peer) error {
	return s.write(func(tx *sql.Tx) error {
		var fpr, status string
		err := tx.QueryRow(`SELECT fingerprint, status FROM peers WHERE agency = ?`, p.Agency).Scan(&fpr, &status)
		switch {
		case err == nil && fpr == p.Fingerprint && status == "trusted":
			return nil
		case err == nil && status == "revoked":
			return fmt.Errorf("peer %s was revoked; a revoked office is not trusted again", p.Agency)
		case err == nil:
			return fmt.Errorf("peer %s is already trusted with fingerprint %s", p.Agency, fpr)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		now := s.now().UTC().Format(time.RFC3339)
		if _, err := tx.Exec(`INSERT INTO peers(agency, fingerprint, card, status, added_at) VALUES (?, ?, ?, 'trusted', ?)`,
			p.Agency, p.Fingerprint, string(p.Card), now); err != nil {
			return err
		}
		return appendAudit(tx, s.now(), "peer add", fmt.Sprintf("%s %s", p.Agency, p.Fingerprint))
	})
}

// RevokePeer marks a peer revoked: its bundles are refused from now on.
func (s *Store) RevokePeer(agency string) error {
	return s.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE peers SET status = 'revoked', revoked_at = ? WHERE agency = ? AND status = 'trusted'`,
			s.now().UTC().Format(time.RFC3339), agency)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("no trusted peer %s: %w", agency, ErrNotFound)
		}
		return appendAudit(tx, s.now(), "peer revoke", agency)
	})
}

// Peers returns every peer, by agency.
func (s *Store) Peers() ([]Peer, error) {
	rows, err := s.db.Query(`SELECT agency, fingerprint, card, status, added_at, COALESCE(revoked_at, '') FROM peers ORDER BY agency`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []Peer
	for rows.Next() {
		var p Peer
		var card string
		if err := rows.Scan(&p.Agency, &p.Fingerprint, &card, &p.Status, &p.AddedAt, &p.RevokedAt); err != nil {
			return nil, mapErr(err)
		}
		p.Card = []byte(card)
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// LedgerEntry is one bundle sent, received or refused.
type LedgerEntry struct {
	N             int64
	Bundle        string
	Direction     string // sent, received, refused
	Peer          string
	Sequence      uint64
	Records       int64
	PayloadSHA256 string
	File          string
	HighWater     int64 // for sent bundles: the store's change counter when packed
	At            string
	Result        string
}

func insertLedger(tx *sql.Tx, now time.Time, e LedgerEntry) error {
	_, err := tx.Exec(`INSERT INTO ledger(bundle, direction, peer, sequence, records, payload_sha256, file, high_water, at, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Bundle, e.Direction, e.Peer, e.Sequence, e.Records, e.PayloadSHA256, e.File, e.HighWater, now.UTC().Format(time.RFC3339), e.Result)
	return err
}

// AddLedger records a bundle inside the transaction.
func (t *Tx) AddLedger(e LedgerEntry) error { return insertLedger(t.tx, t.s.now(), e) }

// Refused records a refused bundle and an audit entry, in a transaction of
// its own (the records are untouched).
func (s *Store) Refused(e LedgerEntry) error {
	e.Direction = "refused"
	return s.write(func(tx *sql.Tx) error {
		if err := insertLedger(tx, s.now(), e); err != nil {
			return err
		}
		return appendAudit(tx, s.now(), "import refused", fmt.Sprintf("%s from %s: %s", e.Bundle, e.Peer, e.Result))
	})
}

// Ledger returns every entry, oldest first.
func (s *Store) Ledger() ([]LedgerEntry, error) {
	rows, err := s.db.Query(`SELECT n, bundle, direction, peer, COALESCE(sequence, 0), records, COALESCE(payload_sha256, ''), COALESCE(file, ''), at, result FROM ledger ORDER BY n`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var e LedgerEntry
		if err := rows.Scan(&e.N, &e.Bundle, &e.Direction, &e.Peer, &e.Sequence, &e.Records, &e.PayloadSHA256, &e.File, &e.At, &e.Result); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// Received returns the ledger entry of a bundle imported earlier, if any.
func (s *Store) Received(bundle string) (*LedgerEntry, error) {
	var e LedgerEntry
	err := s.db.QueryRow(`SELECT n, bundle, peer, COALESCE(sequence, 0), records, COALESCE(payload_sha256, ''), at FROM ledger WHERE bundle = ? AND direction = 'received' LIMIT 1`, bundle).
		Scan(&e.N, &e.Bundle, &e.Peer, &e.Sequence, &e.Records, &e.PayloadSHA256, &e.At)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &e, nil
}

// ReceivedSequence returns the bundle imported from peer under sequence
// seq, if any.
func (s *Store) ReceivedSequence(peer string, seq uint64) (*LedgerEntry, error) {
	var e LedgerEntry
	err := s.db.QueryRow(`SELECT bundle, COALESCE(payload_sha256, '') FROM ledger WHERE peer = ? AND sequence = ? AND direction = 'received' LIMIT 1`, peer, seq).
		Scan(&e.Bundle, &e.PayloadSHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &e, nil
}

// NextSequence returns the next sequence number of the channel to peer.
func (s *Store) NextSequence(peer string) (uint64, error) {
	var n uint64
	err := s.db.QueryRow(`SELECT COALESCE(MAX(sequence), 0) FROM ledger WHERE peer = ? AND direction = 'sent'`, peer).Scan(&n)
	return n + 1, mapErr(err)
}

// SentHighWater returns the store change counter of the last bundle sent to
// peer (0 when none was sent): records changed since then are news to it.
func (s *Store) SentHighWater(peer string) (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COALESCE(MAX(high_water), 0) FROM ledger WHERE peer = ? AND direction = 'sent'`, peer).Scan(&n)
	return n, mapErr(err)
}

// ChangedSince calls fn for every record changed after the change counter
// since (tombstones included), in id order.
func (s *Store) ChangedSince(since int64, fn func(*schema.Record) error) error {
	rows, err := s.db.Query(`SELECT body FROM records WHERE changed > ? ORDER BY id`, since)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return mapErr(err)
		}
		r, err := schema.Decode(body)
		if err != nil {
			return fmt.Errorf("store holds a malformed record: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// HighWater returns the store's current change counter.
func (s *Store) HighWater() (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COALESCE(MAX(changed), 0) FROM records`).Scan(&n)
	return n, mapErr(err)
}

// Meta returns a value of the meta table.
func (s *Store) Meta(key string) (string, error) {
	var v string
	err := s.db.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, mapErr(err)
}
