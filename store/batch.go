package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"valise/schema"
)

// BatchSize is the number of rows the batched statements handle at once:
// one statement per batch instead of one per record.
const BatchSize = 256

// stmtCache holds multi-row statements prepared for one transaction, by
// kind and number of rows: an import prepares each once and runs it for
// every batch.
type stmtCache map[string]*sql.Stmt

func (t *Tx) multi(kind string, rows int, build func(rows int) string) (*sql.Stmt, error) {
	if t.stmts == nil {
		t.stmts = stmtCache{}
	}
	key := kind + "/" + strconv.Itoa(rows)
	if st, ok := t.stmts[key]; ok {
		return st, nil
	}
	st, err := t.tx.Prepare(build(rows))
	if err != nil {
		return nil, mapErr(err)
	}
	t.stmts[key] = st
	return st, nil
}

func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// values returns the rows of a multi-row VALUES list. In cols, "?" is a
// parameter of its own in each row; anything else is copied into every
// row as it is, with "#" replaced by the row's index. A value the same for
// every row is then bound once per statement as a numbered parameter
// ("?1"); such columns must come first, so that SQLite numbers the plain
// "?" after them. (Only the shared ones are numbered: the driver looks up
// the name of every parameter it binds, and SQLite finds a numbered one's
// name by a search through all of them.)
func values(rows int, cols ...string) string {
	var b strings.Builder
	for k := 0; k < rows; k++ {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strings.ReplaceAll(c, "#", strconv.Itoa(k)))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func inList(rows int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", rows), ", ")
}

// Stored is a record as the store holds it, read for an import: what the
// merge needs to tell an update from a stale or concurrent version, read
// from the canonical body without decoding the rest of it.
type Stored struct {
	schema.Key
	Schema   string
	Handling string            // its handling, canonical (schema.HandlingString)
	Claims   []byte            // its authorship claims (see Write.Claims), nil when none
	Recalled bool              // it is a recall stub
	N        int64             // its version number here (1, 2, …; 0 when unknown)
	Body     []byte            // its canonical encoding (see HeldReader.HeldMany)
	Vector   map[string]uint64 // its version vector
	Alts     bool              // its version holds alternatives: open conflicts
	rec      *schema.Record
}

// Record returns the whole record, decoded on first use.
func (h *Stored) Record() (*schema.Record, error) {
	if h.rec == nil {
		r, err := schema.Decode(h.Body)
		if err != nil {
			return nil, fmt.Errorf("store holds a malformed record: %w", err)
		}
		h.rec = r
	}
	return h.rec, nil
}

// HeldMany returns what is held under each of keys, in their order (nil
// where nothing is), with one query per BatchSize keys.
func (t *Tx) HeldMany(keys []schema.Key) ([]*Stored, error) {
	return heldMany(t.s, keys, nil, func(rows int) (*sql.Stmt, error) {
		return t.multi("held", rows, heldSQL)
	})
}

func heldSQL(rows int) string {
	return `SELECT r.id, r.origin, r.schema, r.handling, r.proofs, r.recalled, r.body, r.n, r.deleted, r.content_hash, r.mac FROM (VALUES ` + placeholders(rows, 2) +
		`) k JOIN records r ON r.id = k.column1 AND r.origin = k.column2`
}

// HeldReader reads what the store holds on the store's second connection,
// beside a write transaction (WAL lets them run side by side): an import
// reads what it will merge a batch with while it writes the batch before.
// It reads the state last committed, which is what the transaction sees of
// every record it has not written: use it only for those. It keeps the
// connection until Close.
type HeldReader struct {
	c     *sql.Conn
	s     *Store
	stmts map[int]*sql.Stmt
}

// readerCacheKiB is the page cache of a HeldReader's connection: it reads
// each record once, so the cache need only hold the upper levels of the
// b-trees.
const readerCacheKiB = 2048

// HeldReader returns a reader; Close it when done.
func (s *Store) HeldReader() (*HeldReader, error) {
	ctx := context.Background()
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d`, readerCacheKiB)); err != nil {
		c.Close()
		return nil, mapErr(err)
	}
	return &HeldReader{c: c, s: s, stmts: map[int]*sql.Stmt{}}, nil
}

// HeldMany is Tx.HeldMany outside the transaction. needBody, when not
// nil, is asked for each record found (its Body not yet set) whether its
// body is needed; Body stays nil when not, and Record fails. An update
// only needs the version vector: its bodies are not copied.
func (h *HeldReader) HeldMany(keys []schema.Key, needBody func(i int, s *Stored) bool) ([]*Stored, error) {
	return heldMany(h.s, keys, needBody, func(rows int) (*sql.Stmt, error) {
		if st, ok := h.stmts[rows]; ok {
			return st, nil
		}
		st, err := h.c.PrepareContext(context.Background(), heldSQL(rows))
		if err != nil {
			return nil, mapErr(err)
		}
		h.stmts[rows] = st
		return st, nil
	})
}

// StubbedIDs returns which of ids the store holds only as recall stubs
// (every record under the id a stub).
func (h *HeldReader) StubbedIDs(ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := h.c.QueryContext(context.Background(), `SELECT id FROM records WHERE id IN (`+inList(n)+`) GROUP BY id HAVING MIN(recalled) = 1`, args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// Close releases the reader's statements and connection.
func (h *HeldReader) Close() {
	for _, st := range h.stmts {
		st.Close()
	}
	h.c.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA cache_size = -%d`, cacheKiB))
	h.c.Close()
}

// heldMany checks the MAC of each row it reads: an import or an edit
// never merges with a row changed outside valise.
func heldMany(s *Store, keys []schema.Key, needBody func(i int, s *Stored) bool, stmt func(rows int) (*sql.Stmt, error)) ([]*Stored, error) {
	m, err := s.sealer()
	if err != nil {
		return nil, err
	}
	out := make([]*Stored, len(keys))
	at := make(map[schema.Key]int, min(len(keys), BatchSize))
	for base := 0; base < len(keys); base += BatchSize {
		chunk := keys[base:min(len(keys), base+BatchSize)]
		st, err := stmt(len(chunk))
		if err != nil {
			return nil, err
		}
		clear(at)
		args := make([]any, 0, 2*len(chunk))
		for i, k := range chunk {
			args = append(args, k.ID, k.Origin)
			at[k] = base + i
		}
		rows, err := st.Query(args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			h := &Stored{}
			var n sql.NullInt64
			var body sql.RawBytes // valid until the next row: copied below when needed
			var deleted bool
			var chash string
			var mac []byte
			if err := rows.Scan(&h.ID, &h.Origin, &h.Schema, &h.Handling, &h.Claims, &h.Recalled, &body, &n, &deleted, &chash, &mac); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			h.N = n.Int64
			m.record(h.ID, h.Origin, h.N, h.Schema, deleted, h.Recalled, h.Handling, chash, body, h.Claims)
			if !m.check(mac) {
				rows.Close()
				return nil, rowFailure("records", recordRowName(h.ID, h.Origin), mac)
			}
			i, ok := at[h.Key]
			if !ok {
				continue
			}
			if h.Vector, h.Alts, err = schema.PeekVersion(body); err != nil {
				// Not the plain canonical form the scan reads: decode it.
				h.Body = bytes.Clone(body)
				r, err := h.Record()
				if err != nil {
					rows.Close()
					return nil, err
				}
				h.Vector, h.Alts = r.Version.Vector, len(r.Version.Alts) > 0
			}
			if h.Body == nil && (needBody == nil || needBody(i, h)) {
				h.Body = bytes.Clone(body)
			}
			out[i] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}

// PeerHolds records that peer holds the versions in known: sent to it in
// bundle (pack) or received from it (Apply).
func (t *Tx) PeerHolds(peer, bundle string, known []Known) error {
	for len(known) > 0 {
		n := min(len(known), BatchSize)
		st, err := t.multi("knows", n, func(rows int) string {
			return `INSERT INTO peer_state(peer, bundle, id, origin, vhash) VALUES ` + values(rows, "?1", "?2", "?", "?", "?") +
				` ON CONFLICT(peer, id, origin) DO UPDATE SET vhash = excluded.vhash, bundle = excluded.bundle`
		})
		if err != nil {
			return err
		}
		args := make([]any, 0, 2+n*3)
		args = append(args, peer, bundle)
		for _, k := range known[:n] {
			args = append(args, k.ID, k.Origin, k.VHash)
		}
		if _, err := st.Exec(args...); err != nil {
			return mapErr(err)
		}
		known = known[n:]
	}
	return nil
}

// Live returns which of ids are held and not deleted, with one query per
// BatchSize ids and without decoding the records.
func (t *Tx) Live(ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	// The answer comes from the indexes alone, never reading a record's
	// row (a page of bodies): the ids held (the primary key's index), less
	// the tombstones among them (records_deleted).
	if err := t.eachID("liveids", `SELECT DISTINCT id FROM records INDEXED BY sqlite_autoindex_records_1 WHERE id IN (%s)`, ids, func(id string) { out[id] = true }); err != nil {
		return nil, err
	}
	if t.tombs == 0 {
		var any bool
		if err := t.tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM records INDEXED BY records_deleted WHERE deleted = 1)`).Scan(&any); err != nil {
			return nil, mapErr(err)
		}
		t.tombs = -1
		if any {
			t.tombs = 1
		}
	}
	if t.tombs < 0 {
		return out, nil
	}
	// An id is dead when every record held under it is a tombstone.
	err := t.eachID("dead", `SELECT id FROM records WHERE id IN (%s) GROUP BY id HAVING MIN(deleted) = 1`, ids, func(id string) { delete(out, id) })
	return out, err
}

// StubbedIDs returns which of ids the store holds only as recall stubs,
// as the transaction leaves it (see HeldReader.StubbedIDs).
func (t *Tx) StubbedIDs(ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := t.eachID("stubbedids", `SELECT id FROM records WHERE id IN (%s) GROUP BY id HAVING MIN(recalled) = 1`, ids, func(id string) { out[id] = true })
	return out, err
}

// eachID runs query, whose %s is a list of ids, for ids in batches and
// calls fn with each id it returns.
func (t *Tx) eachID(kind, query string, ids []string, fn func(id string)) error {
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		st, err := t.multi(kind, n, func(rows int) string { return fmt.Sprintf(query, inList(rows)) })
		if err != nil {
			return err
		}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := st.Query(args...)
		if err != nil {
			return mapErr(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return mapErr(err)
			}
			fn(id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
		ids = ids[n:]
	}
	return nil
}

// Endpoint is one end of a link record: the link and the id it names.
// Seq orders endpoints as the caller found them.
type Endpoint struct {
	Seq          int64
	Link, Target string
}

// SpillEndpoints keeps endpoints in a temporary table of the transaction,
// out of memory, until UnknownSpilled reads them back.
func (t *Tx) SpillEndpoints(eps []Endpoint) error {
	if !t.spilled {
		if _, err := t.tx.Exec(`CREATE TEMP TABLE valise_endpoints(seq INTEGER NOT NULL, link TEXT NOT NULL, target TEXT NOT NULL)`); err != nil {
			return mapErr(err)
		}
		t.spilled = true
	}
	for len(eps) > 0 {
		n := min(len(eps), BatchSize)
		st, err := t.multi("spill", n, func(rows int) string {
			return `INSERT INTO temp.valise_endpoints(seq, link, target) VALUES ` + placeholders(rows, 3)
		})
		if err != nil {
			return err
		}
		args := make([]any, 0, 3*n)
		for _, e := range eps[:n] {
			args = append(args, e.Seq, e.Link, e.Target)
		}
		if _, err := st.Exec(args...); err != nil {
			return mapErr(err)
		}
		eps = eps[n:]
	}
	return nil
}

// UnknownSpilled calls fn for each spilled endpoint whose target is not
// held, or held deleted, in the order they were spilled, then drops the
// temporary table.
func (t *Tx) UnknownSpilled(fn func(Endpoint) error) error {
	if !t.spilled {
		return nil
	}
	rows, err := t.tx.Query(`SELECT e.seq, e.link, e.target FROM temp.valise_endpoints e
		WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = e.target AND r.deleted = 0) ORDER BY e.rowid`)
	if err != nil {
		return mapErr(err)
	}
	for rows.Next() {
		var e Endpoint
		if err := rows.Scan(&e.Seq, &e.Link, &e.Target); err != nil {
			rows.Close()
			return mapErr(err)
		}
		if err := fn(e); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	t.spilled = false
	_, err = t.tx.Exec(`DROP TABLE temp.valise_endpoints`)
	return mapErr(err)
}

// Dependents returns the keys of the records that name any of ids in a
// property of entity type (the refs table): the links and passports of
// those records.
func (t *Tx) Dependents(ids []string) ([]schema.Key, error) {
	var out []schema.Key
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		st, err := t.multi("dependents", n, func(rows int) string {
			return `SELECT DISTINCT id, origin FROM refs WHERE target IN (` + inList(rows) + `)`
		})
		if err != nil {
			return nil, err
		}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := st.Query(args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var k schema.Key
			if err := rows.Scan(&k.ID, &k.Origin); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			out = append(out, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		ids = ids[n:]
	}
	return out, nil
}
