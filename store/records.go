package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"valise/schema"
)

// Change describes why a record version is written.
type Change struct {
	Action string // ingest, import, edit, delete, resolve
	Agency string // the agency that made the change (this office, or the bundle's sender)
	Bundle string // bundle id, for imports
	Source string // published list the record comes from ("un-sc"), for ingests of list editions
}

// Conflict is an open conflict on one key of a record: concurrent changes
// that left different values. The record shows the first candidate.
type Conflict struct {
	schema.Key
	Property   string
	Candidates []schema.Alt // each with the stamp "AGENCY:N" of the change that wrote it
	Bundle, At string       // the bundle that opened the conflict here, and when
}

// Tx is a write transaction on the store. Nothing is visible to others
// and nothing is durable until Update's function returns nil.
type Tx struct {
	s       *Store
	tx      *sql.Tx
	changed int64
	stmts   stmtCache
	spilled bool // the temporary table of SpillEndpoints exists
	// tombs is 1 when the store may hold tombstones (it held one when Live
	// first asked, or the transaction wrote one), -1 when it holds none, 0
	// before Live asked.
	tombs int
	// dirty names the trust tables the transaction wrote: their table
	// MACs are written again before it commits (seal.go).
	dirty map[string]bool
	seal  *sealer // for the records the transaction writes
}

// Update runs fn in one transaction, committed only when fn returns nil.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.write(func(tx *sql.Tx) error {
		t := &Tx{s: s, tx: tx}
		if err := tx.QueryRow(`SELECT COALESCE(MAX(changed), 0) FROM records`).Scan(&t.changed); err != nil {
			return err
		}
		defer t.close()
		if err := fn(t); err != nil {
			return err
		}
		return t.reseal()
	})
}

func (t *Tx) close() {
	for _, st := range t.stmts {
		st.Close()
	}
}

func scanRecord(row *sql.Row) (*schema.Record, error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, mapErr(err)
	}
	r, err := schema.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("store holds a malformed record: %w", err)
	}
	return r, nil
}

// The statements that write a record version: the version held moves to
// versions (retire) before the new one replaces it in records. The
// parameters of putSQL: the values the same for every record first (?1
// source, ?2 time, ?3 action, ?4 agency, ?5 bundle), then eleven per
// record: version number, change counter, id, schema, origin, deleted,
// recalled, handling, authorship claims, content hash, body and the
// row's MAC (seal.go).
const (
	retireSQL = `INSERT INTO versions(id, origin, n, at, action, agency, bundle, content_hash, body)
		SELECT r.id, r.origin, r.n, r.updated_at, r.action, r.agency, r.bundle, r.content_hash, r.body
		FROM (VALUES %s) k JOIN records r ON r.id = k.column1 AND r.origin = k.column2`
	putSQL = `INSERT INTO records(source, updated_at, action, agency, bundle, n, changed, id, schema, origin, deleted, recalled, handling, proofs, content_hash, body, mac)
		VALUES %s ON CONFLICT(id, origin) DO UPDATE SET schema = excluded.schema, deleted = excluded.deleted, recalled = excluded.recalled,
		handling = excluded.handling, proofs = excluded.proofs,
		source = COALESCE(excluded.source, records.source), content_hash = excluded.content_hash, body = excluded.body,
		changed = excluded.changed, updated_at = excluded.updated_at,
		n = excluded.n, action = excluded.action, agency = excluded.agency, bundle = excluded.bundle, mac = excluded.mac`
)

// setConflicts replaces the open conflicts of record k. A conflict that
// was already open keeps the bundle and time that opened it.
func (t *Tx) setConflicts(k schema.Key, cs []Conflict) error {
	open, err := t.conflicts(k)
	if err != nil {
		return err
	}
	if len(open) == 0 && len(cs) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(`DELETE FROM conflicts WHERE id = ? AND origin = ?`, k.ID, k.Origin); err != nil {
		return mapErr(err)
	}
	for _, c := range cs {
		for _, o := range open {
			if o.Property == c.Property {
				c.Bundle, c.At = o.Bundle, o.At
			}
		}
		var bundle any
		if c.Bundle != "" {
			bundle = c.Bundle
		}
		if _, err := t.tx.Exec(`INSERT INTO conflicts(id, origin, property, candidates, bundle, at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.Origin, c.Property, encodeCandidates(c.Candidates), bundle, c.At); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// conflicts returns the open conflicts of k inside the transaction.
func (t *Tx) conflicts(k schema.Key) ([]Conflict, error) {
	rows, err := t.tx.Query(`SELECT id, origin, property, candidates, COALESCE(bundle, ''), at FROM conflicts
		WHERE id = ? AND origin = ? ORDER BY property`, k.ID, k.Origin)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanConflicts(rows)
}

// Changed returns the transaction's change counter: every Put raises it.
func (t *Tx) Changed() int64 { return t.changed }

// Audit appends an audit entry inside the transaction.
func (t *Tx) Audit(action, detail string) error { return appendAudit(t.tx, t.s.now(), action, detail) }

// Get returns the record held under k, or ErrNotFound.
func (s *Store) Get(k schema.Key) (*schema.Record, error) {
	r, err := scanRecord(s.db.QueryRow(`SELECT body FROM records WHERE id = ? AND origin = ?`, k.ID, k.Origin))
	if err == nil && r == nil {
		return nil, fmt.Errorf("record %s: %w", k, ErrNotFound)
	}
	return r, err
}

// Envelopes returns, for each of ids, the envelopes of the records held
// under it (every origin): records that carry only their id, origin and
// handling — what the release rules read (package handling) — taken from
// the records' columns, not decoded from their bodies. It asks in batches
// of BatchSize ids.
//
// A record's handling column and its body say the same (one write path,
// and the record's MAC covers both).
func (s *Store) Envelopes(ids []string) (map[string][]*schema.Record, error) {
	return envelopes(s.db, map[string]schema.Handling{}, ids)
}

// envelopes is Envelopes on q; parsed holds the handlings parsed so far
// (records share a few).
func envelopes(q querier, parsed map[string]schema.Handling, ids []string) (map[string][]*schema.Record, error) {
	out := make(map[string][]*schema.Record, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if err := envelopeBatch(q, out, parsed, n, args); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

func envelopeBatch(q querier, out map[string][]*schema.Record, parsed map[string]schema.Handling, n int, args []any) error {
	rows, err := q.Query(`SELECT id, origin, handling FROM records WHERE id IN (`+inList(n)+`) ORDER BY id, origin`, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, origin, hs string
		if err := rows.Scan(&id, &origin, &hs); err != nil {
			return mapErr(err)
		}
		h, ok := parsed[hs]
		if !ok && hs != "" {
			if h, err = schema.ParseHandlingString(hs); err != nil {
				return fmt.Errorf("store holds a malformed handling of record %s from %s: %w", id, origin, err)
			}
			parsed[hs] = h
		}
		out[id] = append(out[id], &schema.Record{ID: id, Origin: origin, Handling: h})
	}
	return mapErr(rows.Err())
}

// Find returns the keys of the records held under id: one per origin
// that created a record with this id.
func (s *Store) Find(id string) ([]schema.Key, error) {
	rows, err := s.db.Query(`SELECT origin FROM records WHERE id = ? ORDER BY origin`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []schema.Key
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, schema.Key{ID: id, Origin: o})
	}
	return out, mapErr(rows.Err())
}

// Filter selects records for Each.
type Filter struct {
	Type           string // schema name, "" for all
	IncludeDeleted bool
	Source         string // "" for all
}

// Each calls fn for every record matching f, in id order.
func (s *Store) Each(f Filter, fn func(*schema.Record) error) error {
	q := `SELECT body FROM records WHERE 1 = 1`
	var args []any
	if f.Type != "" {
		q += ` AND schema = ?`
		args = append(args, f.Type)
	}
	if !f.IncludeDeleted {
		q += ` AND deleted = 0`
	}
	if f.Source != "" {
		q += ` AND source = ?`
		args = append(args, f.Source)
	}
	return s.eachBody(fn, q+` ORDER BY id, origin`, args...)
}

// eachBody runs a query whose one column is a record body and calls fn for
// each record, decoded.
func (s *Store) eachBody(fn func(*schema.Record) error, query string, args ...any) error {
	rows, err := s.db.Query(query, args...)
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

// Expired returns the ids of the records held (not tombstones) whose
// retain_until is before day (YYYY-MM-DD), in id order: from the index
// records_retain, without reading the records.
func (s *Store) Expired(day string) ([]string, error) {
	rows, err := s.db.Query(`SELECT id FROM records INDEXED BY records_retain WHERE `+retainWhere+
		` AND `+retainUntil+` < ? ORDER BY id, origin`, day)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, id)
	}
	return out, mapErr(rows.Err())
}

// Recalled returns the number of recall stubs held: records this office
// may no longer hold.
func (s *Store) Recalled() (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COUNT(*) FROM records INDEXED BY records_recalled WHERE recalled = 1`).Scan(&n)
	return n, mapErr(err)
}

// Count returns the number of records held, tombstones excluded.
func (s *Store) Count() (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COUNT(*) FROM records WHERE deleted = 0 AND recalled = 0`).Scan(&n)
	return n, mapErr(err)
}

// VersionEntry is one version in a record's history.
type VersionEntry struct {
	N                                int64
	At, Action, Agency, Bundle, Hash string
	Record                           *schema.Record
}

// History returns every version of k, oldest first.
func (s *Store) History(k schema.Key) ([]VersionEntry, error) {
	// The earlier versions, and the current one: the record's row.
	q := `SELECT n, at, action, agency, COALESCE(bundle, ''), content_hash, body FROM versions WHERE id = ?1 AND origin = ?2
		UNION ALL SELECT n, updated_at, action, agency, COALESCE(bundle, ''), content_hash, body FROM records WHERE id = ?1 AND origin = ?2`
	rows, err := s.db.Query(q+` ORDER BY 1`, k.ID, k.Origin)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []VersionEntry
	for rows.Next() {
		var e VersionEntry
		var body []byte
		if err := rows.Scan(&e.N, &e.At, &e.Action, &e.Agency, &e.Bundle, &e.Hash, &body); err != nil {
			return nil, mapErr(err)
		}
		if e.Record, err = schema.Decode(body); err != nil {
			return nil, fmt.Errorf("store holds a malformed version: %w", err)
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// Conflicts returns open conflicts, of one record when k.ID is not "".
func (s *Store) Conflicts(k schema.Key) ([]Conflict, error) {
	q := `SELECT id, origin, property, candidates, COALESCE(bundle, ''), at FROM conflicts`
	var args []any
	if k.ID != "" {
		q += ` WHERE id = ? AND origin = ?`
		args = append(args, k.ID, k.Origin)
	}
	rows, err := s.db.Query(q+` ORDER BY id, origin, property`, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanConflicts(rows)
}

// SourceHashes returns id → content hash of every live record of this
// office's from source.
func (s *Store) SourceHashes(source string) (map[string]string, error) {
	return sourceHashes(s.db, source, s.agency)
}

// SourceHashes is Store.SourceHashes inside the transaction.
func (t *Tx) SourceHashes(source string) (map[string]string, error) {
	return sourceHashes(t.tx, source, t.s.agency)
}

type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

func sourceHashes(q querier, source, self string) (map[string]string, error) {
	// A list is ingested as this office's own records.
	rows, err := q.Query(`SELECT id, content_hash FROM records WHERE source = ? AND origin = ? AND deleted = 0`, source, self)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, mapErr(err)
		}
		out[id] = h
	}
	return out, mapErr(rows.Err())
}

// Snapshot returns a digest of the records, versions and open conflicts:
// equal snapshots mean the store is unchanged in the sense of SPEC §7.
func (s *Store) Snapshot() (string, error) {
	h := newDigest()
	for _, q := range []string{
		`SELECT id || x'00' || origin || x'00' || content_hash || x'00' || body FROM records ORDER BY id, origin`,
		`SELECT id || x'00' || origin || x'00' || n || x'00' || content_hash FROM
		(SELECT id, origin, n, content_hash FROM versions UNION ALL SELECT id, origin, n, content_hash FROM records) ORDER BY id, origin, n`,
		`SELECT id || x'00' || origin || x'00' || property || x'00' || candidates FROM conflicts ORDER BY id, origin, property`,
	} {
		rows, err := s.db.Query(q)
		if err != nil {
			return "", mapErr(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return "", mapErr(err)
			}
			h.add(line)
		}
		rows.Close()
		h.add("--")
	}
	return h.sum(), nil
}

func scanConflicts(rows *sql.Rows) ([]Conflict, error) {
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var cands string
		if err := rows.Scan(&c.ID, &c.Origin, &c.Property, &cands, &c.Bundle, &c.At); err != nil {
			return nil, mapErr(err)
		}
		c.Candidates = decodeCandidates(cands)
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

type candidateJSON struct {
	Dot    string   `json:"dot"`
	Values []string `json:"values"`
}

func encodeCandidates(cs []schema.Alt) string {
	out := make([]candidateJSON, len(cs))
	for i, c := range cs {
		out[i] = candidateJSON{c.Dot, c.Values}
		if out[i].Values == nil {
			out[i].Values = []string{}
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func decodeCandidates(s string) []schema.Alt {
	var in []candidateJSON
	json.Unmarshal([]byte(s), &in)
	out := make([]schema.Alt, len(in))
	for i, c := range in {
		out[i] = schema.Alt{Dot: c.Dot, Values: c.Values}
	}
	return out
}
