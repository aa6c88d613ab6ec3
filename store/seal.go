package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"

	"valise/schema"
)

// Sealing. The rows the store acts on when it decides whom to trust and
// what may go where — every row of peers, own_cards and statements, and
// each record's row — carry a MAC (HMAC-SHA256, truncated to 16 bytes)
// under a key only the office holds (package office derives it from the
// office's first signing key; docs/STORE.md). A row changed, added or
// copied by hand no longer matches its MAC. Each of the three trust
// tables also has a MAC over the MACs of all its rows, in key order, kept
// in meta ("mac:peers", …), so that a row removed, or put back from an
// older copy, shows too. Records have row MACs only: see docs/STORE.md
// for exactly what is and is not detected.
//
// Every read the store acts on checks the MACs of what it reads (the
// keyring, the statements, the records a pack sends and the records an
// import merges with); CheckSeals checks every row, for valise audit.

// Sentinel errors.
var (
	// ErrTampered: a protected row does not match its MAC: the store was
	// edited outside valise.
	ErrTampered = errors.New("store edited outside valise")
	// ErrNoMACKey: the store was opened without a way to get its MAC key.
	ErrNoMACKey = errors.New("no MAC key for the store")
)

// TamperError names a protected row that fails its MAC.
type TamperError struct {
	Table string // peers, own_cards, statements, records
	Row   string // the row's key, e.g. "agency=KZ-NCB fingerprint=3F2A-…"; "" for the table as a whole
	Why   string
}

func (e *TamperError) Error() string {
	if e.Row == "" {
		return fmt.Sprintf("%v: table %s: %s", ErrTampered, e.Table, e.Why)
	}
	return fmt.Sprintf("%v: table %s, row %s: %s", ErrTampered, e.Table, e.Row, e.Why)
}

func (e *TamperError) Unwrap() error { return ErrTampered }

// Option configures Create and Open.
type Option func(*Store)

// WithMACKey gives the store the function that returns its MAC key (at
// least 32 bytes). It is called once, when the store first needs the key.
func WithMACKey(key func() ([]byte, error)) Option {
	return func(s *Store) { s.keyFn = key }
}

// macKeyMu guards the key of every store: it is asked for once.
var macKeyMu sync.Mutex

func (s *Store) macKey() ([]byte, error) {
	macKeyMu.Lock()
	defer macKeyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	if s.keyFn == nil {
		return nil, ErrNoMACKey
	}
	k, err := s.keyFn()
	if err != nil {
		return nil, fmt.Errorf("the store's trust tables are sealed with a key derived from this office's signing key: %w", err)
	}
	if len(k) < 32 {
		return nil, fmt.Errorf("%w: key of %d bytes, want 32", ErrNoMACKey, len(k))
	}
	s.key = k
	return k, nil
}

// macLen is the length of a row MAC.
const macLen = 16

// sealer computes MACs. It is not safe for concurrent use: each
// goroutine makes its own. The fields of a row are gathered in buf and
// hashed in one write.
type sealer struct {
	h   hash.Hash
	buf []byte
	out [sha256.Size]byte
}

func (s *Store) sealer() (*sealer, error) {
	k, err := s.macKey()
	if err != nil {
		return nil, err
	}
	return &sealer{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 1024)}, nil
}

// The MAC input is a domain string, the table name, then each field as
// its length (unsigned varint) and bytes; integers as 8 bytes big-endian,
// booleans as the integers 0 and 1.
const sealDomain = "valise-row-mac/v1"

func (m *sealer) begin(table string) {
	m.buf = m.buf[:0]
	m.str(sealDomain)
	m.str(table)
}

func (m *sealer) str(v string) {
	m.buf = binary.AppendUvarint(m.buf, uint64(len(v)))
	m.buf = append(m.buf, v...)
}

func (m *sealer) bytes(v []byte) {
	m.buf = binary.AppendUvarint(m.buf, uint64(len(v)))
	m.buf = append(m.buf, v...)
}

func (m *sealer) int(v int64) {
	m.buf = binary.AppendUvarint(m.buf, 8)
	m.buf = binary.BigEndian.AppendUint64(m.buf, uint64(v))
}

func (m *sealer) bool(v bool) {
	if v {
		m.int(1)
	} else {
		m.int(0)
	}
}

func (m *sealer) mac() []byte {
	m.h.Reset()
	m.h.Write(m.buf)
	return m.h.Sum(m.out[:0])
}

// sum returns the MAC of what was written since begin.
func (m *sealer) sum() []byte {
	return append([]byte(nil), m.mac()[:macLen]...)
}

// check reports whether mac is the MAC of what was written since begin.
func (m *sealer) check(mac []byte) bool {
	return len(mac) == macLen && hmac.Equal(m.mac()[:macLen], mac)
}

func (m *sealer) peer(p *Peer) {
	m.begin("peers")
	m.str(p.Agency)
	m.str(p.Fingerprint)
	m.bytes(p.Card)
	m.str(p.Status)
	m.str(p.AddedAt)
	m.str(p.RevokedAt)
	m.str(p.IntroducedBy)
	m.str(p.RevokedBy)
}

func (m *sealer) ownCard(c *OwnCard) {
	m.begin("own_cards")
	m.int(int64(c.Generation))
	m.str(c.Fingerprint)
	m.bytes(c.Card)
	m.str(c.Status)
}

func (m *sealer) statement(st *Statement) {
	m.begin("statements")
	m.int(st.N)
	m.str(st.Agency)
	m.str(st.Kind)
	m.str(st.Key)
	m.bytes(st.Body)
	m.bool(st.Own)
}

// record covers what a record's row says of it: key, version number
// here, type, tombstone and recall flags, handling, content hash, the
// canonical body (which repeats origin and handling in its envelope) and
// the authorship claims (proofs; NULL as empty).
func (m *sealer) record(id, origin string, n int64, schemaName string, deleted, recalled bool, handling, contentHash string, body, claims []byte) {
	m.begin("records")
	m.str(id)
	m.str(origin)
	m.int(n)
	m.str(schemaName)
	m.bool(deleted)
	m.bool(recalled)
	m.str(handling)
	m.str(contentHash)
	m.bytes(body)
	m.bytes(claims)
}

// table returns the MAC of a trust table: over its rows' MACs in key order.
func (m *sealer) table(name string, rows [][]byte) string {
	m.begin("table " + name)
	m.int(int64(len(rows)))
	for _, r := range rows {
		m.bytes(r)
	}
	return hex.EncodeToString(m.mac())
}

// trustTables are the tables sealed as a whole.
var trustTables = []string{"peers", "own_cards", "statements"}

func tableMACKey(table string) string { return "mac:" + table }

type rowQuerier interface {
	querier
	QueryRow(query string, args ...any) *sql.Row
}

// checkTable compares a trust table's MAC with the one meta holds; rows
// are the MACs of its rows in key order, each already checked.
func checkTable(q rowQuerier, m *sealer, table string, rows [][]byte) error {
	var have string
	err := q.QueryRow(`SELECT value FROM meta WHERE key = ?`, tableMACKey(table)).Scan(&have)
	if errors.Is(err, sql.ErrNoRows) {
		return &TamperError{Table: table, Why: "its table MAC is missing from meta"}
	}
	if err != nil {
		return mapErr(err)
	}
	if m.table(table, rows) != have {
		return &TamperError{Table: table, Why: "rows were removed, or put back from an older copy of the store"}
	}
	return nil
}

// touch checks trust table table in full before the transaction first
// writes to it, and marks it to be sealed again when fn returns: a row
// removed by hand cannot be laundered by the next legitimate write.
func (t *Tx) touch(table string) error {
	if t.dirty == nil {
		t.dirty = map[string]bool{}
	}
	if t.dirty[table] {
		return nil
	}
	if _, err := readTrust(t.tx, t.s, table); err != nil {
		return err
	}
	t.dirty[table] = true
	return nil
}

// reseal writes the table MAC of each trust table the transaction wrote.
func (t *Tx) reseal() error {
	for _, table := range trustTables {
		if !t.dirty[table] {
			continue
		}
		if err := sealTable(t.tx, t.s, table); err != nil {
			return err
		}
	}
	return nil
}

// sealTable checks every row of a trust table and writes its table MAC.
func sealTable(tx *sql.Tx, s *Store, table string) error {
	m, err := s.sealer()
	if err != nil {
		return err
	}
	macs, err := rowMACs(tx, m, table)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		tableMACKey(table), m.table(table, macs))
	return mapErr(err)
}

// readTrust checks a whole trust table, rows and table MAC.
func readTrust(q rowQuerier, s *Store, table string) ([][]byte, error) {
	m, err := s.sealer()
	if err != nil {
		return nil, err
	}
	macs, err := rowMACs(q, m, table)
	if err != nil {
		return nil, err
	}
	return macs, checkTable(q, m, table, macs)
}

// rowMACs checks each row of a trust table and returns their MACs in key
// order.
func rowMACs(q querier, m *sealer, table string) ([][]byte, error) {
	var macs [][]byte
	var err error
	switch table {
	case "peers":
		_, macs, err = scanPeers(q, m)
	case "own_cards":
		_, macs, err = scanOwnCards(q, m)
	case "statements":
		_, macs, err = scanStatements(q, m)
	default:
		err = fmt.Errorf("no trust table %q", table)
	}
	return macs, err
}

// Finding is one protected row (or table) that fails its check.
type Finding = TamperError

// MaxFindings is how many failing rows CheckSeals lists; it counts the
// rest.
const MaxFindings = 1000

// CheckSeals checks every protected row of the store and each trust
// table's MAC, and returns every failure (the first MaxFindings, and the
// number of the others).
func (s *Store) CheckSeals() (found []Finding, more int, err error) {
	m, err := s.sealer()
	if err != nil {
		return nil, 0, err
	}
	add := func(f *TamperError) {
		if len(found) < MaxFindings {
			found = append(found, *f)
		} else {
			more++
		}
	}
	for _, table := range trustTables {
		macs, bad, err := checkRows(s.db, m, table)
		if err != nil {
			return nil, 0, err
		}
		for _, b := range bad {
			add(b)
		}
		if len(bad) == 0 {
			var te *TamperError
			if err := checkTable(s.db, m, table, macs); errors.As(err, &te) {
				add(te)
			} else if err != nil {
				return nil, 0, err
			}
		}
	}
	rows, err := s.db.Query(`SELECT ` + recordColumns + ` FROM records ORDER BY id, origin`)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r recordRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, 0, mapErr(err)
		}
		if te := r.check(m); te != nil {
			add(te)
		}
	}
	return found, more, mapErr(rows.Err())
}

// checkRows is rowMACs that goes on past a failing row, listing each.
func checkRows(q querier, m *sealer, table string) ([][]byte, []*TamperError, error) {
	var bad []*TamperError
	var macs [][]byte
	var err error
	collect := func(te *TamperError) { bad = append(bad, te) }
	switch table {
	case "peers":
		_, macs, err = scanPeersAll(q, m, collect)
	case "own_cards":
		_, macs, err = scanOwnCardsAll(q, m, collect)
	case "statements":
		_, macs, err = scanStatementsAll(q, m, collect)
	}
	return macs, bad, err
}

// recordRow is what a record's row says, as its MAC covers it.
type recordRow struct {
	id, origin      string
	n               int64
	schema          string
	deleted         bool
	recalled        bool
	handling, chash string
	body            sql.RawBytes
	claims          sql.RawBytes
	mac             []byte
}

// recordColumns are the columns recordRow.dest scans, in its order.
const recordColumns = `id, origin, n, schema, deleted, recalled, handling, content_hash, body, proofs, mac`

func (r *recordRow) dest() []any {
	return []any{&r.id, &r.origin, &r.n, &r.schema, &r.deleted, &r.recalled, &r.handling, &r.chash, &r.body, &r.claims, &r.mac}
}

func (r *recordRow) check(m *sealer) *TamperError {
	m.record(r.id, r.origin, r.n, r.schema, r.deleted, r.recalled, r.handling, r.chash, r.body, r.claims)
	if m.check(r.mac) {
		return nil
	}
	why := "MAC does not match: changed outside valise"
	if len(r.mac) == 0 {
		why = "no MAC: added outside valise"
	}
	return &TamperError{Table: "records", Row: recordRowName(r.id, r.origin), Why: why}
}

func recordRowName(id, origin string) string {
	return fmt.Sprintf("id=%s origin=%s", schema.Printable(id), schema.Printable(origin))
}

func rowFailure(table, row string, mac []byte) *TamperError {
	why := "MAC does not match: changed outside valise"
	if len(mac) == 0 {
		why = "no MAC: added outside valise"
	}
	return &TamperError{Table: table, Row: row, Why: why}
}

// ResealUnsafe seals every protected row as it stands, hand edits
// included, as a modified valise that holds the office's key could. It
// launders any edit: valise never calls it; tests use it to play an
// office running modified software.
func (s *Store) ResealUnsafe() error {
	return s.write(func(tx *sql.Tx) error { return sealAll(tx, s) })
}

// sealAll writes the MAC of every protected row and trust table (the
// migration that introduces them).
func sealAll(tx *sql.Tx, s *Store) error {
	m, err := s.sealer()
	if err != nil {
		return err
	}
	ps, err := readPeersRaw(tx)
	if err != nil {
		return err
	}
	for i := range ps {
		m.peer(&ps[i])
		if _, err := tx.Exec(`UPDATE peers SET mac = ? WHERE agency = ? AND fingerprint = ?`, m.sum(), ps[i].Agency, ps[i].Fingerprint); err != nil {
			return err
		}
	}
	cs, err := readOwnCardsRaw(tx)
	if err != nil {
		return err
	}
	for i := range cs {
		m.ownCard(&cs[i])
		if _, err := tx.Exec(`UPDATE own_cards SET mac = ? WHERE generation = ?`, m.sum(), cs[i].Generation); err != nil {
			return err
		}
	}
	sts, err := readStatementsRaw(tx)
	if err != nil {
		return err
	}
	for i := range sts {
		m.statement(&sts[i])
		if _, err := tx.Exec(`UPDATE statements SET mac = ? WHERE n = ?`, m.sum(), sts[i].N); err != nil {
			return err
		}
	}
	for _, table := range trustTables {
		if err := sealTable(tx, s, table); err != nil {
			return err
		}
	}
	// Records, in batches by key.
	type rec struct {
		id, origin string
		mac        []byte
	}
	last := [2]string{"", ""}
	first := true
	for {
		q := `SELECT ` + recordColumns + ` FROM records`
		args := []any{}
		if !first {
			q += ` WHERE (id, origin) > (?, ?)`
			args = append(args, last[0], last[1])
		}
		rows, err := tx.Query(q+` ORDER BY id, origin LIMIT 1024`, args...)
		if err != nil {
			return err
		}
		var batch []rec
		for rows.Next() {
			var r recordRow
			if err := rows.Scan(r.dest()...); err != nil {
				rows.Close()
				return err
			}
			m.record(r.id, r.origin, r.n, r.schema, r.deleted, r.recalled, r.handling, r.chash, r.body, r.claims)
			batch = append(batch, rec{r.id, r.origin, m.sum()})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, b := range batch {
			if _, err := tx.Exec(`UPDATE records SET mac = ? WHERE id = ? AND origin = ?`, b.mac, b.id, b.origin); err != nil {
				return err
			}
		}
		first = false
		last = [2]string{batch[len(batch)-1].id, batch[len(batch)-1].origin}
	}
}
