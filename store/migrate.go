package store

import (
	"database/sql"
	"errors"
	"fmt"
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
var migrations = []func(tx *sql.Tx) error{
	0: migrateLegacy,
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
			if err := migrations[v](tx); err != nil {
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
