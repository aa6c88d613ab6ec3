// Package store is an office's local database: records and their versions,
// open conflicts, trusted peers, the ledger of bundles sent and received,
// and the hash-chained audit log. It is one SQLite file (docs/STORE.md
// documents every table) that the sqlite3 shell can read.
//
// The store knows records (package schema) but not bundles: the package
// that moves records between bundles and the store is exchange.
package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"valise/schema"
)

// Sentinel errors.
var (
	// ErrBusy: another valise command holds the store.
	ErrBusy = errors.New("store is busy: another valise command is using it")
	// ErrFull: the file system holding the store is full.
	ErrFull = errors.New("the disk holding the store is full: free some space and run the command again; nothing was changed")
	// ErrIO: reading or writing the store's files failed.
	ErrIO = errors.New("reading or writing the store failed (is its disk full or failing?)")
	// ErrNotFound: no such record or peer.
	ErrNotFound = errors.New("not found")
	// ErrExists: the store already exists.
	ErrExists = errors.New("store already exists")
)

// ddlLayout is the layout ddl makes; Create runs the migrations after it.
const ddlLayout = 2

const ddl = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE records (
  id           TEXT NOT NULL,
  origin       TEXT NOT NULL,
  schema       TEXT NOT NULL,
  deleted      INTEGER NOT NULL DEFAULT 0,
  recalled     INTEGER NOT NULL DEFAULT 0,
  handling     TEXT NOT NULL DEFAULT '',
  source       TEXT,
  content_hash TEXT NOT NULL,
  body         TEXT NOT NULL,
  changed      INTEGER NOT NULL,
  updated_at   TEXT NOT NULL,
  n            INTEGER NOT NULL,
  action       TEXT NOT NULL,
  agency       TEXT NOT NULL,
  bundle       TEXT,
  PRIMARY KEY (id, origin)
);
CREATE INDEX records_recalled ON records(id, origin) WHERE recalled = 1;
CREATE TABLE refs (
  target TEXT NOT NULL,
  id     TEXT NOT NULL,
  origin TEXT NOT NULL,
  PRIMARY KEY (target, id, origin)
) WITHOUT ROWID;
CREATE INDEX refs_by ON refs(id, origin);
CREATE INDEX records_changed ON records(changed);
CREATE INDEX records_source ON records(source) WHERE source IS NOT NULL;
CREATE INDEX records_deleted ON records(id, origin) WHERE deleted = 1;
CREATE TABLE versions (
  id           TEXT NOT NULL,
  origin       TEXT NOT NULL,
  n            INTEGER NOT NULL,
  at           TEXT NOT NULL,
  action       TEXT NOT NULL,
  agency       TEXT NOT NULL,
  bundle       TEXT,
  content_hash TEXT NOT NULL,
  body         TEXT NOT NULL,
  PRIMARY KEY (id, origin, n)
) WITHOUT ROWID;
CREATE TABLE conflicts (
  id         TEXT NOT NULL,
  origin     TEXT NOT NULL,
  property   TEXT NOT NULL,
  candidates TEXT NOT NULL,
  bundle     TEXT,
  at         TEXT NOT NULL,
  PRIMARY KEY (id, origin, property)
);
CREATE TABLE peers (
  agency      TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  card        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('trusted', 'retiring', 'retired', 'revoked', 'pending')),
  added_at    TEXT NOT NULL,
  revoked_at  TEXT,
  PRIMARY KEY (agency, fingerprint)
);
CREATE TABLE own_cards (
  generation  INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  card        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('current', 'retiring', 'revoked')),
  created_at  TEXT NOT NULL
);
CREATE TABLE statements (
  n          INTEGER PRIMARY KEY,
  agency     TEXT NOT NULL,
  kind       TEXT NOT NULL,
  key        TEXT NOT NULL,
  body       TEXT NOT NULL,
  own        INTEGER NOT NULL,
  at         TEXT NOT NULL
);
CREATE TABLE statement_sent (
  statement INTEGER NOT NULL,
  peer      TEXT NOT NULL,
  bundle    TEXT NOT NULL
);
CREATE TABLE peer_state (
  peer   TEXT NOT NULL,
  id     TEXT NOT NULL,
  origin TEXT NOT NULL,
  vhash  TEXT NOT NULL,
  bundle TEXT NOT NULL,
  PRIMARY KEY (peer, id, origin)
) WITHOUT ROWID;
CREATE TABLE ledger (
  n         INTEGER PRIMARY KEY,
  bundle    TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('sent', 'received', 'refused')),
  peer      TEXT NOT NULL,
  sequence  INTEGER,
  records   INTEGER NOT NULL DEFAULT 0,
  payload_sha256 TEXT,
  file      TEXT,
  high_water INTEGER,
  signer    TEXT,
  at        TEXT NOT NULL,
  result    TEXT NOT NULL,
  acked_at  TEXT,
  withheld  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ledger_bundle ON ledger(bundle);
CREATE INDEX ledger_peer ON ledger(peer, direction, sequence);
CREATE TABLE audit (
  n      INTEGER PRIMARY KEY,
  at     TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev   TEXT NOT NULL,
  hash   TEXT NOT NULL
);
`

// disclosuresDDL is the disclosure register (migrateDisclosures): one
// row per record and bundle, keyed by bundle first. Bundle ids are
// UUIDv7, in time order, so that a pack or an import appends at the
// b-tree's right edge; who the bundle went to or came from, its sequence
// and time are the ledger's rows of the bundle.
const disclosuresDDL = `
CREATE TABLE disclosures (
  bundle  TEXT NOT NULL,
  id      TEXT NOT NULL,
  origin  TEXT NOT NULL,
  vhash   TEXT NOT NULL,
  version TEXT NOT NULL,
  outcome TEXT NOT NULL,
  PRIMARY KEY (bundle, id, origin)
) WITHOUT ROWID;
`

// Store is an open store.
type Store struct {
	db     *sql.DB
	path   string
	agency string
	now    func() time.Time
	keyFn  func() ([]byte, error) // the MAC key (seal.go), asked for once
	key    []byte
}

// Page size of a new store, and the page cache of each connection.
const (
	pageSize = 16384
	cacheKiB = 8192
)

func dsn(path string) string {
	// 16 KiB pages (SQLite's default is 4 KiB) take a quarter of the
	// system calls to write a large import to the WAL and to copy it into
	// the database at the checkpoint; they hold about 20 records each. A
	// larger page cache buys an import nothing, as it writes in id order
	// (the b-trees grow at their right edge) and reads each held record
	// once, just before replacing it: 8 MiB keeps the memory that SQLite
	// takes outside the Go heap small. page_size applies only to a new,
	// empty file, so it must come before journal_mode, which the driver
	// applies after every _pragma.
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(10000)&_pragma=page_size(%d)&_journal_mode=WAL&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=cache_size(-%d)&_txlock=immediate",
		path, pageSize, cacheKiB)
}

// Create makes a new store at path for agency. It refuses an existing
// file. It needs the MAC key (WithMACKey): the migration to layout 5
// seals the empty trust tables.
func Create(path, agency string, opts ...Option) (*Store, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrExists)
		}
		return nil, err
	}
	f.Close()
	s, err := open(path, opts)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	err = s.write(func(tx *sql.Tx) error {
		// The base tables, then what each later layout added.
		if _, err := tx.Exec(ddl); err != nil {
			return err
		}
		for v := ddlLayout; v < Layout; v++ {
			if err := migrations[v](s, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, Layout)); err != nil {
			return err
		}
		for k, v := range map[string]string{"agency": agency, "schema": schema.ModelVersion,
			"created": s.now().UTC().Format(time.RFC3339), "audit_head": "0 " + strings.Repeat("0", 64)} {
			if _, err := tx.Exec(`INSERT INTO meta(key, value) VALUES (?, ?)`, k, v); err != nil {
				return err
			}
		}
		return appendAudit(tx, s.now(), "init", "store created for "+agency)
	})
	if err != nil {
		s.Close()
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		return nil, err
	}
	s.agency = agency
	return s, nil
}

// Open opens an existing store. Without WithMACKey it can read what is
// not sealed, and nothing else (ErrNoMACKey).
func Open(path string, opts ...Option) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	s, err := open(path, opts)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.db.QueryRow(`SELECT value FROM meta WHERE key = 'agency'`).Scan(&s.agency); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s is not a valise store: %w", path, mapErr(err))
	}
	return s, nil
}

func open(path string, opts []Option) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	// Two connections: one for the write transaction, one for reads made
	// meanwhile (WAL lets them run side by side), so that a read outside
	// the transaction can never wait for it forever.
	db.SetMaxOpenConns(2)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, mapErr(err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Agency returns the agency whose store this is.
func (s *Store) Agency() string { return s.agency }

// SetClock replaces the store's clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now returns the store clock's current time.
func (s *Store) Now() time.Time { return s.now() }

// mapErr turns SQLite's busy and locked errors into ErrBusy, and its
// full-disk and I/O errors into ErrFull and ErrIO, so that no bare SQLite
// error reaches the user.
func mapErr(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w (%v)", ErrBusy, err)
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("%w (%v)", ErrFull, err)
		case sqlite3.SQLITE_IOERR:
			return fmt.Errorf("%w (%v)", ErrIO, err)
		}
	}
	return err
}

// isUnique reports whether err is SQLite's refusal of a duplicate key.
func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// write runs fn in one immediate transaction, committed only when fn
// returns nil.
func (s *Store) write(fn func(tx *sql.Tx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

// appendAudit adds an entry to the hash chain: hash = SHA-256(prev hash,
// n, time, action, detail), each field NUL-separated.
func appendAudit(tx *sql.Tx, now time.Time, action, detail string) error {
	var n int64
	prev := strings.Repeat("0", 64)
	err := tx.QueryRow(`SELECT n, hash FROM audit ORDER BY n DESC LIMIT 1`).Scan(&n, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	n++
	at := now.UTC().Format(time.RFC3339Nano)
	hash := auditHash(prev, n, at, action, detail)
	if _, err = tx.Exec(`INSERT INTO audit(n, at, action, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?)`,
		n, at, action, detail, prev, hash); err != nil {
		return err
	}
	// The head of the chain is kept apart, so that removing the last
	// entries shows too.
	_, err = tx.Exec(`INSERT INTO meta(key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		fmt.Sprintf("%d %s", n, hash))
	return err
}

// AuditHash computes an audit entry's hash from its fields (see
// docs/STORE.md), for checking exported logs.
func AuditHash(prev string, n int64, at, action, detail string) string {
	return auditHash(prev, n, at, action, detail)
}

func auditHash(prev string, n int64, at, action, detail string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s", prev, n, at, action, detail)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	N                              int64
	At, Action, Detail, Prev, Hash string
}

// Audit appends one entry to the audit log in its own transaction.
func (s *Store) Audit(action, detail string) error {
	return s.write(func(tx *sql.Tx) error { return appendAudit(tx, s.now(), action, detail) })
}

// CheckAudit verifies the hash chain and returns the entries and the first
// broken one (0 when the chain is whole).
func (s *Store) CheckAudit() ([]AuditEntry, int64, error) {
	rows, err := s.db.Query(`SELECT n, at, action, detail, prev, hash FROM audit ORDER BY n`)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer rows.Close()
	var out []AuditEntry
	prev := strings.Repeat("0", 64)
	var broken, want int64 = 0, 1
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.N, &e.At, &e.Action, &e.Detail, &e.Prev, &e.Hash); err != nil {
			return nil, 0, err
		}
		if broken == 0 && (e.N != want || e.Prev != prev || auditHash(e.Prev, e.N, e.At, e.Action, e.Detail) != e.Hash) {
			broken = e.N
		}
		prev, want = e.Hash, e.N+1
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var head string
	if err := s.db.QueryRow(`SELECT value FROM meta WHERE key = 'audit_head'`).Scan(&head); err != nil {
		return nil, 0, mapErr(err)
	}
	if broken == 0 && head != fmt.Sprintf("%d %s", want-1, prev) {
		// The chain is whole but ends before (or after) the recorded head:
		// entries were removed from the end, or the head was changed.
		broken = want
	}
	return out, broken, nil
}
