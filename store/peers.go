package store

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"valise/schema"
)

// Peer is one card of a peer office in the keyring.
type Peer struct {
	Agency      string
	Fingerprint string
	Card        []byte
	// Status: trusted (the agency's current card: at most one per
	// agency), retiring (replaced by a rotation, still accepted until a
	// bundle signed by the new key arrives), retired, revoked, or pending
	// (introduced by a revocation; trusted only once its fingerprint is
	// compared out of band with valise peer confirm).
	Status    string
	AddedAt   string
	RevokedAt string
	// IntroducedBy is the fingerprint of the key whose signed statement
	// introduced the card; "" when the operator compared its fingerprint
	// out of band (peer add, peer confirm). Revoking that key revokes the
	// card with it.
	IntroducedBy string
	// RevokedBy is the fingerprint of the revoked key that introduced the
	// card and whose revocation revoked it too; "" when the card itself
	// was revoked. Such a card can be confirmed by fingerprint again.
	RevokedBy string
}

// Peer statuses.
const (
	Trusted  = "trusted"
	Retiring = "retiring"
	Retired  = "retired"
	Revoked  = "revoked"
	Pending  = "pending"
)

const peerColumns = `agency, fingerprint, card, status, added_at, COALESCE(revoked_at, ''), COALESCE(introduced_by, ''), COALESCE(revoked_by, ''), mac`

// scanPeersAll reads the peers table in key order and checks each row's
// MAC when m is not nil: with collect nil it stops at the first failure,
// otherwise it passes each to collect and goes on.
func scanPeersAll(q querier, m *sealer, collect func(*TamperError)) ([]Peer, [][]byte, error) {
	rows, err := q.Query(`SELECT ` + peerColumns + ` FROM peers ORDER BY agency, fingerprint`)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	var out []Peer
	var macs [][]byte
	for rows.Next() {
		var p Peer
		var card string
		var mac []byte
		if err := rows.Scan(&p.Agency, &p.Fingerprint, &card, &p.Status, &p.AddedAt, &p.RevokedAt, &p.IntroducedBy, &p.RevokedBy, &mac); err != nil {
			return nil, nil, mapErr(err)
		}
		p.Card = []byte(card)
		if m != nil {
			m.peer(&p)
			if !m.check(mac) {
				te := rowFailure("peers", fmt.Sprintf("agency=%s fingerprint=%s", schema.Printable(p.Agency), schema.Printable(p.Fingerprint)), mac)
				if collect == nil {
					return nil, nil, te
				}
				collect(te)
			}
		}
		out = append(out, p)
		macs = append(macs, mac)
	}
	return out, macs, mapErr(rows.Err())
}

func scanPeers(q querier, m *sealer) ([]Peer, [][]byte, error) { return scanPeersAll(q, m, nil) }

func readPeersRaw(q querier) ([]Peer, error) {
	ps, _, err := scanPeersAll(q, nil, nil)
	return ps, err
}

// Peers returns every card in the keyring, by agency and the time it was
// added, after checking the MAC of every row and of the table.
func (s *Store) Peers() ([]Peer, error) { return peers(s.db, s, true) }

// Peers is Store.Peers inside the transaction. Once the transaction has
// written the table, its table MAC is checked no more (it was before the
// first write, and is written again at commit).
func (t *Tx) Peers() ([]Peer, error) { return peers(t.tx, t.s, !t.dirty["peers"]) }

func peers(q rowQuerier, s *Store, table bool) ([]Peer, error) {
	m, err := s.sealer()
	if err != nil {
		return nil, err
	}
	out, macs, err := scanPeers(q, m)
	if err != nil {
		return nil, err
	}
	if table {
		if err := checkTable(q, m, "peers", macs); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Agency != b.Agency {
			return a.Agency < b.Agency
		}
		return a.AddedAt < b.AddedAt
	})
	return out, nil
}

// SetPeer inserts or replaces a card of the keyring inside a transaction,
// with its MAC. AddedAt defaults to now, and RevokedAt to now for a
// revoked card. At most one card of an agency is trusted: setting a
// second one fails (the unique index peers_one_trusted).
func (t *Tx) SetPeer(p Peer) error {
	if err := t.touch("peers"); err != nil {
		return err
	}
	now := t.s.now().UTC().Format(time.RFC3339)
	if p.AddedAt == "" {
		p.AddedAt = now
	}
	if p.Status == Revoked && p.RevokedAt == "" {
		p.RevokedAt = now
	}
	if p.Status != Revoked {
		p.RevokedAt, p.RevokedBy = "", ""
	}
	m, err := t.s.sealer()
	if err != nil {
		return err
	}
	m.peer(&p)
	_, err = t.tx.Exec(`INSERT INTO peers(agency, fingerprint, card, status, added_at, revoked_at, introduced_by, revoked_by, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(agency, fingerprint) DO UPDATE SET card = excluded.card, status = excluded.status, added_at = excluded.added_at,
		revoked_at = excluded.revoked_at, introduced_by = excluded.introduced_by, revoked_by = excluded.revoked_by, mac = excluded.mac`,
		p.Agency, p.Fingerprint, string(p.Card), p.Status, p.AddedAt, nullIfEmpty(p.RevokedAt), nullIfEmpty(p.IntroducedBy), nullIfEmpty(p.RevokedBy), m.sum())
	if isUnique(err) {
		return fmt.Errorf("%s already has a trusted card: one card per agency is trusted at a time", p.Agency)
	}
	return mapErr(err)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RetireOthers marks the retiring cards of agency other than fpr retired:
// a bundle signed by the new key has arrived.
func (t *Tx) RetireOthers(agency, fpr string) (int64, error) {
	ps, err := t.Peers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range ps {
		if p.Agency == agency && p.Fingerprint != fpr && p.Status == Retiring {
			p.Status = Retired
			if err := t.SetPeer(p); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// OwnCard is one generation of this office's own keys.
type OwnCard struct {
	Generation  int
	Fingerprint string
	Card        []byte
	Status      string // current, retiring (announced, not yet acknowledged by every peer) or revoked
}

func scanOwnCardsAll(q querier, m *sealer, collect func(*TamperError)) ([]OwnCard, [][]byte, error) {
	rows, err := q.Query(`SELECT generation, fingerprint, card, status, mac FROM own_cards ORDER BY generation`)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	var out []OwnCard
	var macs [][]byte
	for rows.Next() {
		var c OwnCard
		var card string
		var mac []byte
		if err := rows.Scan(&c.Generation, &c.Fingerprint, &card, &c.Status, &mac); err != nil {
			return nil, nil, mapErr(err)
		}
		c.Card = []byte(card)
		if m != nil {
			m.ownCard(&c)
			if !m.check(mac) {
				te := rowFailure("own_cards", fmt.Sprintf("generation=%d fingerprint=%s", c.Generation, schema.Printable(c.Fingerprint)), mac)
				if collect == nil {
					return nil, nil, te
				}
				collect(te)
			}
		}
		out = append(out, c)
		macs = append(macs, mac)
	}
	return out, macs, mapErr(rows.Err())
}

func scanOwnCards(q querier, m *sealer) ([]OwnCard, [][]byte, error) {
	return scanOwnCardsAll(q, m, nil)
}

func readOwnCardsRaw(q querier) ([]OwnCard, error) {
	cs, _, err := scanOwnCardsAll(q, nil, nil)
	return cs, err
}

// OwnCards returns every generation, oldest first, after checking the MAC
// of every row and of the table.
func (s *Store) OwnCards() ([]OwnCard, error) {
	m, err := s.sealer()
	if err != nil {
		return nil, err
	}
	out, macs, err := scanOwnCards(s.db, m)
	if err != nil {
		return nil, err
	}
	return out, checkTable(s.db, m, "own_cards", macs)
}

// SetOwnCard records a generation of this office's keys.
func (t *Tx) SetOwnCard(c OwnCard) error {
	if err := t.touch("own_cards"); err != nil {
		return err
	}
	m, err := t.s.sealer()
	if err != nil {
		return err
	}
	m.ownCard(&c)
	_, err = t.tx.Exec(`INSERT INTO own_cards(generation, fingerprint, card, status, created_at, mac) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(generation) DO UPDATE SET fingerprint = excluded.fingerprint, card = excluded.card, status = excluded.status, mac = excluded.mac`,
		c.Generation, c.Fingerprint, string(c.Card), c.Status, t.s.now().UTC().Format(time.RFC3339), m.sum())
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

func scanStatementsAll(q querier, m *sealer, collect func(*TamperError)) ([]Statement, [][]byte, error) {
	rows, err := q.Query(`SELECT n, agency, kind, key, body, own, at, mac FROM statements ORDER BY n`)
	if err != nil {
		return nil, nil, mapErr(err)
	}
	defer rows.Close()
	var out []Statement
	var macs [][]byte
	for rows.Next() {
		var st Statement
		var body string
		var mac []byte
		if err := rows.Scan(&st.N, &st.Agency, &st.Kind, &st.Key, &body, &st.Own, &st.At, &mac); err != nil {
			return nil, nil, mapErr(err)
		}
		st.Body = []byte(body)
		if m != nil {
			m.statement(&st)
			if !m.check(mac) {
				te := rowFailure("statements", fmt.Sprintf("n=%d agency=%s kind=%s", st.N, schema.Printable(st.Agency), schema.Printable(st.Kind)), mac)
				if collect == nil {
					return nil, nil, te
				}
				collect(te)
			}
		}
		out = append(out, st)
		macs = append(macs, mac)
	}
	return out, macs, mapErr(rows.Err())
}

func scanStatements(q querier, m *sealer) ([]Statement, [][]byte, error) {
	return scanStatementsAll(q, m, nil)
}

func readStatementsRaw(q querier) ([]Statement, error) {
	sts, _, err := scanStatementsAll(q, nil, nil)
	return sts, err
}

// Statements returns every statement held, this office's own and the
// peers' it applied, oldest first, after checking their MACs.
func (s *Store) Statements() ([]Statement, error) {
	m, err := s.sealer()
	if err != nil {
		return nil, err
	}
	out, macs, err := scanStatements(s.db, m)
	if err != nil {
		return nil, err
	}
	return out, checkTable(s.db, m, "statements", macs)
}

// AddStatement records a statement inside a transaction and returns its number.
func (t *Tx) AddStatement(st Statement) (int64, error) {
	if err := t.touch("statements"); err != nil {
		return 0, err
	}
	if err := t.tx.QueryRow(`SELECT COALESCE(MAX(n), 0) + 1 FROM statements`).Scan(&st.N); err != nil {
		return 0, mapErr(err)
	}
	m, err := t.s.sealer()
	if err != nil {
		return 0, err
	}
	m.statement(&st)
	_, err = t.tx.Exec(`INSERT INTO statements(n, agency, kind, key, body, own, at, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		st.N, st.Agency, st.Kind, st.Key, string(st.Body), st.Own, t.s.now().UTC().Format(time.RFC3339), m.sum())
	if err != nil {
		return 0, mapErr(err)
	}
	return st.N, nil
}

// PendingStatements returns this office's own statements that peer has not
// yet acknowledged: no bundle carrying them to peer has been acknowledged.
func (s *Store) PendingStatements(peer string) ([]Statement, error) {
	if _, err := readTrust(s.db, s, "statements"); err != nil {
		return nil, err
	}
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

// resentResult is the result of a ledger entry MarkResent writes.
const resentResult = "records re-sent in bundle %s"

// MarkResent records that peer's bundle under sequence seq never arrived
// and that bundle by, imported now, carried its records again (valise
// pack --resend): a received entry without payload, which closes the gap
// and goes into the receipts to peer. It does nothing when that bundle or
// sequence is already recorded as received. When the bundle itself turns
// up later, its import replaces the mark (DropResentMark).
func (t *Tx) MarkResent(peer string, seq uint64, bundle, by string) (bool, error) {
	var n int
	if err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE direction = 'received' AND (bundle = ? OR (peer = ? AND sequence = ?))`,
		bundle, peer, seq).Scan(&n); err != nil {
		return false, mapErr(err)
	}
	if n > 0 {
		return false, nil
	}
	err := insertLedger(t.tx, t.s.now(), LedgerEntry{Bundle: bundle, Direction: "received", Peer: peer, Sequence: seq, Result: fmt.Sprintf(resentResult, by)})
	return err == nil, mapErr(err)
}

// DropResentMark removes the mark MarkResent left for bundle, which is
// being imported itself.
func (t *Tx) DropResentMark(bundle string) error {
	_, err := t.tx.Exec(`DELETE FROM ledger WHERE bundle = ? AND direction = 'received' AND COALESCE(payload_sha256, '') = ''`, bundle)
	return mapErr(err)
}

// ReceivedBefore reports, inside a write transaction (so that no other
// import can slip in between), whether bundle was already imported or
// peer's sequence seq already used.
func (t *Tx) ReceivedBefore(bundle, peer string, seq uint64) (byID, bySeq bool, err error) {
	var n int
	if err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE bundle = ? AND direction = 'received' AND COALESCE(payload_sha256, '') != ''`, bundle).Scan(&n); err != nil {
		return false, false, mapErr(err)
	}
	// A re-send mark of this very bundle (MarkResent) is no earlier use.
	var m int
	if err := t.tx.QueryRow(`SELECT COUNT(*) FROM ledger WHERE peer = ? AND sequence = ? AND direction = 'received'
		AND NOT (bundle = ? AND COALESCE(payload_sha256, '') = '')`, peer, seq, bundle).Scan(&m); err != nil {
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
