package store

import (
	"database/sql"
	"errors"
	"fmt"

	"valise/crypto"
	"valise/schema"
)

// ErrLayout: the store was made by a newer valise, or is no valise store.
var ErrLayout = errors.New("unknown store layout")

// The store's layout is numbered by SQLite's user_version. Create makes a
// store of the newest layout (ddl); Open upgrades an older store once, in
// one transaction, by running each migration from its version on, and
// refuses a store of a newer layout than this valise knows. docs/STORE.md
// lists what each layout changed.
//
// Version 0 is a store made before the numbering: its meta table says
// which layout it has ("1": every version in versions, the current one
// too; "2": the current version in records only).
var migrations = []func(s *Store, tx *sql.Tx) error{
	0: plain(migrateLegacy),
	1: plain(migrateOriginKey),
	2: plain(migrateProofs),
	3: plain(migrateDisclosures),
	4: migrateSeal,
	5: plain(migrateRetention),
}

// plain adapts a migration that needs nothing but the transaction.
func plain(fn func(tx *sql.Tx) error) func(*Store, *sql.Tx) error {
	return func(_ *Store, tx *sql.Tx) error { return fn(tx) }
}

// Layout is the store layout this valise writes.
var Layout = len(migrations)

// migrate brings the store to Layout.
func (s *Store) migrate() error {
	var v int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return mapErr(err)
	}
	if v == Layout {
		return nil
	}
	if v > Layout {
		return fmt.Errorf("%w: store layout %d, this valise knows up to %d (a newer valise made it)", ErrLayout, v, Layout)
	}
	return s.write(func(tx *sql.Tx) error {
		// Read again under the write lock: another valise may have
		// migrated meanwhile.
		if err := tx.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		from := v
		for ; v < Layout; v++ {
			if err := migrations[v](s, tx); err != nil {
				return fmt.Errorf("migrating the store from layout %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, Layout)); err != nil {
			return err
		}
		return appendAudit(tx, s.now(), "store migrated", fmt.Sprintf("layout %d to %d", from, Layout))
	})
}

// migrateLegacy numbers a store made before user_version: layout "2"
// stores are already layout 1; a layout "1" store gets the current version
// of each record into records (with its number, action, agency and
// bundle) and out of versions, WITHOUT ROWID versions and peer_state
// tables, and the index of tombstones.
func migrateLegacy(tx *sql.Tx) error {
	var layout string
	if err := tx.QueryRow(`SELECT value FROM meta WHERE key = 'layout'`).Scan(&layout); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no layout in meta", ErrLayout)
		}
		return fmt.Errorf("%w: not a valise store (%v)", ErrLayout, err)
	}
	switch layout {
	case "2":
	case "1":
		for _, q := range []string{
			`CREATE TABLE records2 (
			  id TEXT PRIMARY KEY, schema TEXT NOT NULL, origin TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
			  source TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, changed INTEGER NOT NULL, updated_at TEXT NOT NULL,
			  n INTEGER NOT NULL, action TEXT NOT NULL, agency TEXT NOT NULL, bundle TEXT)`,
			`INSERT INTO records2 SELECT r.id, r.schema, r.origin, r.deleted, r.source, r.content_hash, r.body, r.changed, r.updated_at,
			  v.n, v.action, v.agency, v.bundle
			  FROM records r JOIN versions v ON v.id = r.id AND v.n = (SELECT MAX(n) FROM versions WHERE id = r.id)`,
			`CREATE TABLE versions2 (
			  id TEXT NOT NULL, n INTEGER NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL, agency TEXT NOT NULL,
			  bundle TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id, n)) WITHOUT ROWID`,
			`INSERT INTO versions2 SELECT v.id, v.n, v.at, v.action, v.agency, v.bundle, v.content_hash, v.body FROM versions v
			  WHERE NOT EXISTS (SELECT 1 FROM records2 r WHERE r.id = v.id AND r.n = v.n)`,
			`DROP TABLE records`,
			`DROP TABLE versions`,
			`ALTER TABLE records2 RENAME TO records`,
			`ALTER TABLE versions2 RENAME TO versions`,
			`CREATE INDEX records_changed ON records(changed)`,
			`CREATE INDEX records_source ON records(source) WHERE source IS NOT NULL`,
			`CREATE INDEX records_deleted ON records(id) WHERE deleted = 1`,
			`CREATE TABLE IF NOT EXISTS peer_state (peer TEXT NOT NULL, id TEXT NOT NULL, vhash TEXT NOT NULL, bundle TEXT NOT NULL, PRIMARY KEY (peer, id))`,
			`CREATE TABLE peer_state2 (peer TEXT NOT NULL, id TEXT NOT NULL, vhash TEXT NOT NULL, bundle TEXT NOT NULL,
			  PRIMARY KEY (peer, id)) WITHOUT ROWID`,
			`INSERT INTO peer_state2 SELECT peer, id, vhash, bundle FROM peer_state`,
			`DROP TABLE peer_state`,
			`ALTER TABLE peer_state2 RENAME TO peer_state`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: legacy layout %q", ErrLayout, layout)
	}
	_, err := tx.Exec(`DELETE FROM meta WHERE key = 'layout'`)
	return err
}

// migrateOriginKey makes a record's origin part of its key (layout 2):
// records, versions, conflicts and peer_state are keyed by (id, origin),
// so that two offices' records under one id stay two records. Every
// record of a layout 1 store keeps the origin it has. records gains the
// recalled flag of recall stubs, ledger the count of records a sent
// bundle's pack withheld from the peer, and the new table refs says which
// record names which id.
func migrateOriginKey(tx *sql.Tx) error {
	for _, q := range []string{
		`CREATE TABLE records2 (
		  id TEXT NOT NULL, origin TEXT NOT NULL, schema TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
		  recalled INTEGER NOT NULL DEFAULT 0, handling TEXT NOT NULL DEFAULT '',
		  source TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, changed INTEGER NOT NULL, updated_at TEXT NOT NULL,
		  n INTEGER NOT NULL, action TEXT NOT NULL, agency TEXT NOT NULL, bundle TEXT, PRIMARY KEY (id, origin))`,
		`INSERT INTO records2 SELECT id, origin, schema, deleted, 0, '', source, content_hash, body, changed, updated_at, n, action, agency, bundle FROM records`,
		`CREATE TABLE versions2 (
		  id TEXT NOT NULL, origin TEXT NOT NULL, n INTEGER NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL, agency TEXT NOT NULL,
		  bundle TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id, origin, n)) WITHOUT ROWID`,
		`INSERT INTO versions2 SELECT v.id, r.origin, v.n, v.at, v.action, v.agency, v.bundle, v.content_hash, v.body
		  FROM versions v JOIN records r ON r.id = v.id`,
		`CREATE TABLE conflicts2 (id TEXT NOT NULL, origin TEXT NOT NULL, property TEXT NOT NULL, candidates TEXT NOT NULL,
		  bundle TEXT, at TEXT NOT NULL, PRIMARY KEY (id, origin, property))`,
		`INSERT INTO conflicts2 SELECT c.id, r.origin, c.property, c.candidates, c.bundle, c.at FROM conflicts c JOIN records r ON r.id = c.id`,
		`CREATE TABLE peer_state2 (peer TEXT NOT NULL, id TEXT NOT NULL, origin TEXT NOT NULL, vhash TEXT NOT NULL, bundle TEXT NOT NULL,
		  PRIMARY KEY (peer, id, origin)) WITHOUT ROWID`,
		`INSERT INTO peer_state2 SELECT p.peer, p.id, r.origin, p.vhash, p.bundle FROM peer_state p JOIN records r ON r.id = p.id`,
		`DROP TABLE records`,
		`DROP TABLE versions`,
		`DROP TABLE conflicts`,
		`DROP TABLE peer_state`,
		`ALTER TABLE records2 RENAME TO records`,
		`ALTER TABLE versions2 RENAME TO versions`,
		`ALTER TABLE conflicts2 RENAME TO conflicts`,
		`ALTER TABLE peer_state2 RENAME TO peer_state`,
		`CREATE INDEX records_changed ON records(changed)`,
		`CREATE INDEX records_source ON records(source) WHERE source IS NOT NULL`,
		`CREATE INDEX records_deleted ON records(id, origin) WHERE deleted = 1`,
		`CREATE INDEX records_recalled ON records(id, origin) WHERE recalled = 1`,
		`ALTER TABLE ledger ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0`,
		`CREATE TABLE refs (target TEXT NOT NULL, id TEXT NOT NULL, origin TEXT NOT NULL, PRIMARY KEY (target, id, origin)) WITHOUT ROWID`,
		`CREATE INDEX refs_by ON refs(id, origin)`,
	} {
		if _, err := tx.Exec(q); err != nil {
			return err
		}
	}
	return fillRefs(tx)
}

// fillRefs writes the refs table of the records held, and their handling
// column.
func fillRefs(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT body FROM records`)
	if err != nil {
		return err
	}
	var refs [][3]string
	var hs [][3]string
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			rows.Close()
			return err
		}
		r, err := schema.Decode(body)
		if err != nil {
			rows.Close()
			return fmt.Errorf("store holds a malformed record: %w", err)
		}
		hs = append(hs, [3]string{schema.HandlingString(r.Handling), r.ID, r.Origin})
		for _, id := range r.Refs() {
			refs = append(refs, [3]string{id, r.ID, r.Origin})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO refs(target, id, origin) VALUES (?, ?, ?)`, r[0], r[1], r[2]); err != nil {
			return err
		}
	}
	for _, h := range hs {
		if _, err := tx.Exec(`UPDATE records SET handling = ? WHERE id = ? AND origin = ?`, h[0], h[1], h[2]); err != nil {
			return err
		}
	}
	return nil
}

// proofsDDL is what layout 3 adds: the authorship claims of each record's
// current version (package proof) and the signed trees they point into.
const proofsDDL = `
ALTER TABLE records ADD COLUMN proofs TEXT;
CREATE TABLE trees (
  author TEXT NOT NULL,
  id     TEXT NOT NULL,
  key    TEXT NOT NULL,
  count  INTEGER NOT NULL,
  root   TEXT NOT NULL,
  sig    TEXT NOT NULL,
  PRIMARY KEY (author, id)
) WITHOUT ROWID;
CREATE TABLE tree_parts (
  author TEXT NOT NULL,
  id     TEXT NOT NULL,
  part   INTEGER NOT NULL,
  leaves BLOB NOT NULL,
  PRIMARY KEY (author, id, part)
) WITHOUT ROWID;
`

// migrateProofs adds the authorship claims and trees (layout 3). Records
// held from before have no claims: their versions were taken on their
// senders' word (bundle format v1), and travel on only as this office's
// word (docs/STORE.md).
func migrateProofs(tx *sql.Tx) error {
	_, err := tx.Exec(proofsDDL)
	return err
}

// migrateDisclosures adds the disclosure register (layout 4): which
// version of which record left in which bundle, and came in which. A
// store of an earlier layout has no register of its earlier bundles; it
// starts empty.
func migrateDisclosures(tx *sql.Tx) error {
	_, err := tx.Exec(disclosuresDDL)
	return err
}

// migrateSeal seals the store (layout 5): peers, own_cards, statements
// and records gain a MAC column, filled under the office's MAC key (the
// upgrade asks for it, and so for the passphrase, once), and each trust
// table a table MAC in meta. peers gains introduced_by, taken from the
// statements applied (a card a rotation introduced, and a card a
// revocation announced that is still pending), and revoked_by; at most
// one card of an agency is trusted from now on (unique index), so that
// when an earlier valise left several trusted, they all become pending
// and the operator confirms the right one by fingerprint.
func migrateSeal(s *Store, tx *sql.Tx) error {
	for _, q := range []string{
		`ALTER TABLE peers ADD COLUMN introduced_by TEXT`,
		`ALTER TABLE peers ADD COLUMN revoked_by TEXT`,
		`ALTER TABLE peers ADD COLUMN mac BLOB`,
		`ALTER TABLE own_cards ADD COLUMN mac BLOB`,
		`ALTER TABLE statements ADD COLUMN mac BLOB`,
		`ALTER TABLE records ADD COLUMN mac BLOB`,
		`UPDATE peers SET status = 'pending' WHERE status = 'trusted' AND agency IN
		  (SELECT agency FROM peers WHERE status = 'trusted' GROUP BY agency HAVING COUNT(*) > 1)`,
		`CREATE UNIQUE INDEX peers_one_trusted ON peers(agency) WHERE status = 'trusted'`,
	} {
		if _, err := tx.Exec(q); err != nil {
			return err
		}
	}
	sts, err := readStatementsRaw(tx)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.Own {
			continue
		}
		parsed, err := crypto.ParseStatement(st.Body)
		if err != nil {
			continue
		}
		next, err := crypto.ParseCard(parsed.Card)
		if err != nil {
			continue
		}
		q := `UPDATE peers SET introduced_by = ? WHERE agency = ? AND fingerprint = ?`
		if st.Kind == crypto.Revoke {
			q += ` AND status = 'pending'`
		}
		if _, err := tx.Exec(q, st.Key, st.Agency, next.Fingerprint()); err != nil {
			return err
		}
	}
	if err := sealAll(tx, s); err != nil {
		return fmt.Errorf("sealing the store: %w", err)
	}
	return nil
}

// retainUntil is the SQL expression of a record's retain_until, read from
// its canonical handling where it has one (retainWhere): after a key that
// canonical JSON writes with unescaped quotes, which no string value can
// hold, a date YYYY-MM-DD (schema.Record.Validate). records_retain
// indexes it, and Expired asks for it by this very text (SQLite uses an
// index on an expression only for the same expression).
const retainUntil = `substr(handling, instr(handling, '"retain_until":"') + 16, 10)`

// retainWhere is records_retain's partial-index condition: the records
// held, not tombstones, that have a retain_until.
const retainWhere = `deleted = 0 AND instr(handling, '"retain_until":"') > 0`

// migrateRetention indexes the records by their retain_until (layout 6),
// so that status lists the expired ones without reading every record.
// Its values are computed from records.handling, which the record's MAC
// covers: there is nothing new to seal.
func migrateRetention(tx *sql.Tx) error {
	_, err := tx.Exec(`CREATE INDEX records_retain ON records(` + retainUntil + `) WHERE ` + retainWhere)
	return err
}
