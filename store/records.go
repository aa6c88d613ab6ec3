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
	ID, Property string
	Candidates   []schema.Alt // each with the stamp "AGENCY:N" of the change that wrote it
	Bundle, At   string       // the bundle that opened the conflict here, and when
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
}

// Update runs fn in one transaction, committed only when fn returns nil.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.write(func(tx *sql.Tx) error {
		t := &Tx{s: s, tx: tx}
		if err := tx.QueryRow(`SELECT COALESCE(MAX(changed), 0) FROM records`).Scan(&t.changed); err != nil {
			return err
		}
		defer t.close()
		return fn(t)
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
// source, ?2 time, ?3 action, ?4 agency, ?5 bundle), then seven per
// record: change counter, id, schema, origin, deleted, content hash, body.
const (
	retireSQL = `INSERT INTO versions(id, n, at, action, agency, bundle, content_hash, body)
		SELECT id, n, updated_at, action, agency, bundle, content_hash, body FROM records WHERE id IN (%s)`
	putSQL = `INSERT INTO records(source, updated_at, action, agency, bundle, n, changed, id, schema, origin, deleted, content_hash, body)
		VALUES %s ON CONFLICT(id) DO UPDATE SET schema = excluded.schema, origin = excluded.origin, deleted = excluded.deleted,
		source = COALESCE(excluded.source, records.source), content_hash = excluded.content_hash, body = excluded.body,
		changed = excluded.changed, updated_at = excluded.updated_at,
		n = records.n + 1, action = excluded.action, agency = excluded.agency, bundle = excluded.bundle`
)

// setConflicts replaces the open conflicts of record id. A conflict that
// was already open keeps the bundle and time that opened it.
func (t *Tx) setConflicts(id string, cs []Conflict) error {
	open, err := t.Conflicts(id)
	if err != nil {
		return err
	}
	if len(open) == 0 && len(cs) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(`DELETE FROM conflicts WHERE id = ?`, id); err != nil {
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
		if _, err := t.tx.Exec(`INSERT INTO conflicts(id, property, candidates, bundle, at) VALUES (?, ?, ?, ?, ?)`,
			id, c.Property, encodeCandidates(c.Candidates), bundle, c.At); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// Conflicts returns the open conflicts of id inside the transaction.
func (t *Tx) Conflicts(id string) ([]Conflict, error) {
	rows, err := t.tx.Query(`SELECT id, property, candidates, COALESCE(bundle, ''), at FROM conflicts WHERE id = ? ORDER BY property`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanConflicts(rows)
}

// Changed returns the transaction's change counter: every Put raises it.
func (t *Tx) Changed() int64 { return t.changed }

// Audit appends an audit entry inside the transaction.
func (t *Tx) Audit(action, detail string) error { return appendAudit(t.tx, t.s.now(), action, detail) }

// Get returns the record held under id, or ErrNotFound.
func (s *Store) Get(id string) (*schema.Record, error) {
	r, err := scanRecord(s.db.QueryRow(`SELECT body FROM records WHERE id = ?`, id))
	if err == nil && r == nil {
		return nil, fmt.Errorf("record %s: %w", schema.Printable(id), ErrNotFound)
	}
	return r, err
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
	return s.eachBody(fn, q+` ORDER BY id`, args...)
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

// Count returns the number of records held, tombstones excluded.
func (s *Store) Count() (int64, error) {
	var n int64
	err := s.db.QueryRow(`SELECT COUNT(*) FROM records WHERE deleted = 0`).Scan(&n)
	return n, mapErr(err)
}

// VersionEntry is one version in a record's history.
type VersionEntry struct {
	N                                int64
	At, Action, Agency, Bundle, Hash string
	Record                           *schema.Record
}

// History returns every version of id, oldest first.
func (s *Store) History(id string) ([]VersionEntry, error) {
	// The earlier versions, and the current one: the record's row.
	q := `SELECT n, at, action, agency, COALESCE(bundle, ''), content_hash, body FROM versions WHERE id = ?1
		UNION ALL SELECT n, updated_at, action, agency, COALESCE(bundle, ''), content_hash, body FROM records WHERE id = ?1`
	rows, err := s.db.Query(q+` ORDER BY 1`, id)
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

// Conflicts returns open conflicts, of one record when id is not "".
func (s *Store) Conflicts(id string) ([]Conflict, error) {
	q := `SELECT id, property, candidates, COALESCE(bundle, ''), at FROM conflicts`
	var args []any
	if id != "" {
		q += ` WHERE id = ?`
		args = append(args, id)
	}
	rows, err := s.db.Query(q+` ORDER BY id, property`, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanConflicts(rows)
}

// SourceHashes returns id → content hash of every live record from source.
func (s *Store) SourceHashes(source string) (map[string]string, error) {
	return sourceHashes(s.db, source)
}

// SourceHashes is Store.SourceHashes inside the transaction.
func (t *Tx) SourceHashes(source string) (map[string]string, error) {
	return sourceHashes(t.tx, source)
}

type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

func sourceHashes(q querier, source string) (map[string]string, error) {
	rows, err := q.Query(`SELECT id, content_hash FROM records WHERE source = ? AND deleted = 0`, source)
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
		`SELECT id || x'00' || content_hash || x'00' || body FROM records ORDER BY id`,
		`SELECT id || x'00' || n || x'00' || content_hash FROM
		(SELECT id, n, content_hash FROM versions UNION ALL SELECT id, n, content_hash FROM records) ORDER BY id, n`,
		`SELECT id || x'00' || property || x'00' || candidates FROM conflicts ORDER BY id, property`,
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
		if err := rows.Scan(&c.ID, &c.Property, &cands, &c.Bundle, &c.At); err != nil {
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
