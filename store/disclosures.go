package store

import (
	"sort"
	"strconv"

	"valise/schema"
)

// The disclosure register says which version of which record went to
// whom in which bundle, and came from whom in which (SPEC §5: every
// disclosure is registered). It is written in the transaction that
// records the bundle in the ledger, and kept as long as the ledger and the
// audit log: nothing in valise deletes from it, not even a recall that
// purges the record's content (the register holds no content, only the
// record's key and which version it was).

// Disclosure is one record in one bundle.
type Disclosure struct {
	schema.Key
	VHash   string // the version's hash (schema.VersionHash of its canonical form)
	Version string // its version vector, "AGENCY:N AGENCY:N" in agency order
	// Outcome: for a bundle sent, "sent" or "recall" (a recall stub); for
	// a bundle received, what the import made of it ("inserted",
	// "updated", "stale", "conflict", …, merge.Kind's names, or "recalled"
	// when this office kept only a stub).
	Outcome string
}

// VectorString renders a version vector as the register keeps it.
func VectorString(vv map[string]uint64) string { return string(AppendVector(nil, vv)) }

// AppendVector appends VectorString(vv) to dst. (It runs for every record
// a pack sends: no fmt, and no sorting for the one or two agencies most
// vectors have.)
func AppendVector(dst []byte, vv map[string]uint64) []byte {
	var buf [4]string
	as := buf[:0]
	for a := range vv {
		as = append(as, a)
	}
	if len(as) > 1 {
		sort.Strings(as)
	}
	for i, a := range as {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, a...)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, vv[a], 10)
	}
	return dst
}

// Disclose registers the records of bundle ds, in the transaction that
// writes the bundle's ledger entries.
func (t *Tx) Disclose(bundle string, ds []Disclosure) error {
	for len(ds) > 0 {
		n := min(len(ds), BatchSize)
		st, err := t.multi("disclose", n, func(rows int) string {
			return `INSERT INTO disclosures(bundle, id, origin, vhash, version, outcome) VALUES ` + values(rows, "?1", "?", "?", "?", "?", "?") +
				` ON CONFLICT(bundle, id, origin) DO UPDATE SET vhash = excluded.vhash, version = excluded.version, outcome = excluded.outcome`
		})
		if err != nil {
			return err
		}
		args := make([]any, 0, 1+n*5)
		args = append(args, bundle)
		for _, d := range ds[:n] {
			args = append(args, d.ID, d.Origin, d.VHash, d.Version, d.Outcome)
		}
		if _, err := st.Exec(args...); err != nil {
			return mapErr(err)
		}
		ds = ds[n:]
	}
	return nil
}

// DisclosureEntry is one line of a record's register: a bundle it left in
// (Direction "sent", Peer the recipient; a bundle to several recipients
// gives a line for each) or came in ("received", Peer the sender).
type DisclosureEntry struct {
	Direction, Peer, Bundle string
	Sequence                uint64
	At, File                string
	Disclosure
}

// Disclosures returns the register of the record k, in ledger order.
func (s *Store) Disclosures(k schema.Key) ([]DisclosureEntry, error) {
	// One lookup of the register's primary key per bundle in the ledger:
	// the register itself is never scanned.
	rows, err := s.db.Query(`SELECT l.direction, l.peer, l.bundle, COALESCE(l.sequence, 0), l.at, COALESCE(l.file, ''),
		d.vhash, d.version, d.outcome
		FROM ledger l CROSS JOIN disclosures d ON d.bundle = l.bundle AND d.id = ? AND d.origin = ?
		WHERE l.direction IN ('sent', 'received') ORDER BY l.n`, k.ID, k.Origin)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []DisclosureEntry
	for rows.Next() {
		e := DisclosureEntry{Disclosure: Disclosure{Key: k}}
		if err := rows.Scan(&e.Direction, &e.Peer, &e.Bundle, &e.Sequence, &e.At, &e.File, &e.VHash, &e.Version, &e.Outcome); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// BundleDisclosures calls fn for each record registered in bundle, in key
// order.
func (s *Store) BundleDisclosures(bundle string, fn func(Disclosure) error) error {
	return bundleDisclosures(s.db.Query, bundle, fn)
}

// BundleDisclosures is Store.BundleDisclosures in the transaction: what
// it has registered so far.
func (t *Tx) BundleDisclosures(bundle string, fn func(Disclosure) error) error {
	return bundleDisclosures(t.tx.Query, bundle, fn)
}

func bundleDisclosures[R interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}](query func(string, ...any) (R, error), bundle string, fn func(Disclosure) error) error {
	rows, err := query(`SELECT id, origin, vhash, version, outcome FROM disclosures WHERE bundle = ? ORDER BY id, origin`, bundle)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d Disclosure
		if err := rows.Scan(&d.ID, &d.Origin, &d.VHash, &d.Version, &d.Outcome); err != nil {
			return mapErr(err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}
