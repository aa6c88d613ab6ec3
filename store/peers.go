package store

import (
	"database/sql"

	"errors"
	"fmt"
	"time"
)

// Peer is one card of a peer office in the keyring.
type Peer struct {
	Agency      string
	Fingerprint string
	Card        []byte
	// Status: trusted (current key), retiring (replaced by a rotation,
	// still accepted until a bundle signed by the new key arrives), retired,
	// revoked, or pending (introduced by a revocation; trusted only once
	// its fingerprint is compared out of band with valise peer confirm).
	Status    string
	AddedAt   string
	RevokedAt string
}

// AddPeer stores a card the operator has compared by fingerprint. A card
// for an agency already trusted under another fingerprint is refused: key
// changes travel as signed statements. A pending card is confirmed.
func (s *Store) AddPeer(p Peer) error {
	return s.write(func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT fingerprint, status FROM peers WHERE agency = ?`, p.Agency)
		if err != nil {
			return err
		}
		type row struct{ fpr, status string }
		var have []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.fpr, &r.status); err != nil {
				rows.Close()
				return err
			}
			have = append(have, r)
		}
		rows.Close()
		for _, r := range have {
			switch {
			case r.fpr == p.Fingerprint && r.status == "trusted":
				return nil
			case r.fpr == p.Fingerprint && r.status == "pending":
				if _, err := tx.Exec(`UPDATE peers SET status = 'trusted' WHERE agency = ? AND fingerprint = ?`, p.Agency, p.Fingerprint); err != nil {
					return err
				}
				return appendAudit(tx, s.now(), "peer confirm", fmt.Sprintf("%s %s (announced by a revocation)", p.Agency, p.Fingerprint))
			case r.fpr == p.Fingerprint:
				return fmt.Errorf("card %s of %s is %s; it is not trusted again", p.Fingerprint, p.Agency, r.status)
			case r.status == "trusted":
				return fmt.Errorf("peer %s is already trusted with fingerprint %s; a new key arrives as a signed statement in its bundles", p.Agency, r.fpr)
			}
		}
		now := s.now().UTC().Format(time.RFC3339)
		if _, err := tx.Exec(`INSERT INTO peers(agency, fingerprint, card, status, added_at) VALUES (?, ?, ?, 'trusted', ?)`,
			p.Agency, p.Fingerprint, string(p.Card), now); err != nil {
			return err
		}
		return appendAudit(tx, s.now(), "peer add", fmt.Sprintf("%s %s", p.Agency, p.Fingerprint))
	})
}

// RevokePeer marks every accepted card of a peer revoked: its bundles are
// refused from now on, whatever their created time.
func (s *Store) RevokePeer(agency string) error {
	return s.write(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE peers SET status = 'revoked', revoked_at = ? WHERE agency = ? AND status IN ('trusted', 'retiring', 'pending')`,
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

// Peers returns every card in the keyring, by agency.
func (s *Store) Peers() ([]Peer, error) { return peers(s.db) }

// Peers is Store.Peers inside the transaction.
func (t *Tx) Peers() ([]Peer, error) { return peers(t.tx) }

func peers(q querier) ([]Peer, error) {
	rows, err := q.Query(`SELECT agency, fingerprint, card, status, added_at, COALESCE(revoked_at, '') FROM peers ORDER BY agency, added_at, fingerprint`)
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

// SetPeer inserts or updates a card of the keyring inside a transaction
// (keyring statements arriving in a bundle).
func (t *Tx) SetPeer(p Peer) error {
	now := t.s.now().UTC().Format(time.RFC3339)
	var revoked any
	if p.Status == "revoked" {
		revoked = now
	}
	_, err := t.tx.Exec(`INSERT INTO peers(agency, fingerprint, card, status, added_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(agency, fingerprint) DO UPDATE SET status = excluded.status, revoked_at = COALESCE(peers.revoked_at, excluded.revoked_at)`,
		p.Agency, p.Fingerprint, string(p.Card), p.Status, now, revoked)
	return mapErr(err)
}

// RetireOthers marks the retiring cards of agency other than fpr retired:
// a bundle signed by the new key has arrived.
func (t *Tx) RetireOthers(agency, fpr string) (int64, error) {
	res, err := t.tx.Exec(`UPDATE peers SET status = 'retired' WHERE agency = ? AND fingerprint <> ? AND status = 'retiring'`, agency, fpr)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

// OwnCard is one generation of this office's own keys.
type OwnCard struct {
	Generation  int
	Fingerprint string
	Card        []byte
	Status      string // current, retiring (announced, not yet acknowledged by every peer) or revoked
}

// OwnCards returns every generation, oldest first.
func (s *Store) OwnCards() ([]OwnCard, error) {
	rows, err := s.db.Query(`SELECT generation, fingerprint, card, status FROM own_cards ORDER BY generation`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []OwnCard
	for rows.Next() {
		var c OwnCard
		var card string
		if err := rows.Scan(&c.Generation, &c.Fingerprint, &card, &c.Status); err != nil {
			return nil, mapErr(err)
		}
		c.Card = []byte(card)
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// SetOwnCard records a generation of this office's keys.
func (t *Tx) SetOwnCard(c OwnCard) error {
	_, err := t.tx.Exec(`INSERT INTO own_cards(generation, fingerprint, card, status, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(generation) DO UPDATE SET status = excluded.status`,
		c.Generation, c.Fingerprint, string(c.Card), c.Status, t.s.now().UTC().Format(time.RFC3339))
	return mapErr(err)
}

// Statement is a keyring statement, this office's own or a peer's.
type Statement struct {
	N      int64
	Agency string
	Kind   string
	Key    string // fingerprint the statement retires
	Body   []byte
	Own    bool
	At     string
}

// AddStatement records a statement inside a transaction and returns its number.
func (t *Tx) AddStatement(st Statement) (int64, error) {
	res, err := t.tx.Exec(`INSERT INTO statements(agency, kind, key, body, own, at) VALUES (?, ?, ?, ?, ?, ?)`,
		st.Agency, st.Kind, st.Key, string(st.Body), st.Own, t.s.now().UTC().Format(time.RFC3339))
	if err != nil {
		return 0, mapErr(err)
	}
	return res.LastInsertId()
}

// PendingStatements returns this office's own statements that peer has not
// yet acknowledged: no bundle carrying them to peer has been acknowledged.
func (s *Store) PendingStatements(peer string) ([]Statement, error) {
	rows, err := s.db.Query(`SELECT n, agency, kind, key, body, at FROM statements s WHERE own = 1 AND NOT EXISTS (
		SELECT 1 FROM statement_sent ss JOIN ledger l ON l.bundle = ss.bundle AND l.peer = ss.peer AND l.direction = 'sent'
		WHERE ss.statement = s.n AND ss.peer = ? AND l.acked_at IS NOT NULL) ORDER BY n`, peer)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []Statement
	for rows.Next() {
		var st Statement
		var body string
		if err := rows.Scan(&st.N, &st.Agency, &st.Kind, &st.Key, &body, &st.At); err != nil {
			return nil, mapErr(err)
		}
		st.Body, st.Own = []byte(body), true
		out = append(out, st)
	}
	return out, mapErr(rows.Err())
}

// StatementSent notes that a bundle to peer carried statement n.
func (t *Tx) StatementSent(n int64, peer, bundle string) error {
	_, err := t.tx.Exec(`INSERT INTO statement_sent(statement, peer, bundle) VALUES (?, ?, ?)`, n, peer, bundle)
	return mapErr(err)
}

// Acknowledge marks the bundles sent to peer under the given sequence
// numbers as acknowledged (peer's receipts said it imported them).
func (t *Tx) Acknowledge(peer string, contains func(seq uint64) bool) (int, error) {
	rows, err := t.tx.Query(`SELECT n, sequence FROM ledger WHERE peer = ? AND direction = 'sent' AND acked_at IS NULL`, peer)
	if err != nil {
		return 0, mapErr(err)
	}
	var ns []int64
	for rows.Next() {
		var n int64
		var seq uint64
		if err := rows.Scan(&n, &seq); err != nil {
			rows.Close()
			return 0, mapErr(err)
		}
		if contains(seq) {
			ns = append(ns, n)
		}
	}
	rows.Close()
	now := t.s.now().UTC().Format(time.RFC3339)
	for _, n := range ns {
		if _, err := t.tx.Exec(`UPDATE ledger SET acked_at = ? WHERE n = ?`, now, n); err != nil {
			return 0, mapErr(err)
		}
	}
	return len(ns), nil
}

// ReceivedSequences returns the sequence numbers of peer's bundles this
// office has imported, ascending.
func (s *Store) ReceivedSequences(peer string) ([]uint64, error) {
	rows, err := s.db.Query(`SELECT DISTINCT sequence FROM ledger WHERE peer = ? AND direction = 'received' ORDER BY sequence`, peer)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var n uint64
		if err := rows.Scan(&n); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, n)
	}
	return out, mapErr(rows.Err())
}

// PeerKnows records that peer holds version vhash of record id (it sent it
// to us, or we sent it in bundle).
func (t *Tx) PeerKnows(peer, id, vhash, bundle string) error {
	_, err := t.tx.Exec(`INSERT INTO peer_state(peer, id, vhash, bundle) VALUES (?, ?, ?, ?)
		ON CONFLICT(peer, id) DO UPDATE SET vhash = excluded.vhash, bundle = excluded.bundle`, peer, id, vhash, bundle)
	return mapErr(err)
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
	HighWater     int64  // for sent bundles: the store's change counter when packed
	Signer        string // fingerprint of the key that signed the bundle
	At            string
	Result        string
	AckedAt       string // for sent bundles: when the peer's receipts acknowledged it
	Withheld      int64  // for sent bundles: the records the pack withheld from the peer
}

func insertLedger(tx *sql.Tx, now time.Time, e LedgerEntry) error {
	_, err := tx.Exec(`INSERT INTO ledger(bundle, direction, peer, sequence, records, payload_sha256, file, high_water, signer, at, result, withheld)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Bundle, e.Direction, e.Peer, e.Sequence, e.Records, e.PayloadSHA256, e.File, e.HighWater, e.Signer, now.UTC().Format(time.RFC3339), e.Result, e.Withheld)
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
	rows, err := s.db.Query(`SELECT n, bundle, direction, peer, COALESCE(sequence, 0), records, COALESCE(payload_sha256, ''), COALESCE(file, ''), COALESCE(signer, ''), at, result, COALESCE(acked_at, ''), withheld FROM ledger ORDER BY n`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []LedgerEntry
	for rows.Next() {
		var e LedgerEntry
		if err := rows.Scan(&e.N, &e.Bundle, &e.Direction, &e.Peer, &e.Sequence, &e.Records, &e.PayloadSHA256, &e.File, &e.Signer, &e.At, &e.Result, &e.AckedAt, &e.Withheld); err != nil {
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

// ReceivedBefore reports, inside a write transaction (so that no other
// import can slip in between), whether bundle was already imported or
// peer's sequence seq already used.
func (t *Tx) ReceivedBefore(bundle, peer string, seq uint64) (byID, bySeq bool, err error) {
	var n int
	if err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE bundle = ? AND direction = 'received'`, bundle).Scan(&n); err != nil {
		return false, false, mapErr(err)
	}
	var m int
	if err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE peer = ? AND sequence = ? AND direction = 'received'`, peer, seq).Scan(&m); err != nil {
		return false, false, mapErr(err)
	}
	return n > 0, m > 0, nil
}

// SequenceTaken reports, inside a write transaction, whether a bundle was
// already sent to peer under sequence seq or a later one.
func (t *Tx) SequenceTaken(peer string, seq uint64) (bool, error) {
	var n int
	err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE peer = ? AND direction = 'sent' AND sequence >= ?`, peer, seq).Scan(&n)
	return n > 0, mapErr(err)
}
