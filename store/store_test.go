package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"valise/schema"
	"valise/store"
)

func person(id, name string, n uint64) *schema.Record {
	return &schema.Record{ID: id, Schema: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"},
		Properties: map[string][]string{"name": {name}},
		Version:    schema.Version{Vector: map[string]uint64{"KZ-NCB": n}, Props: map[string]string{"name": fmt.Sprintf("KZ-NCB:%d", n)}}}
}

// keys returns the keys of KZ-NCB's records ids.
func keys(ids ...string) []schema.Key {
	out := make([]schema.Key, len(ids))
	for i, id := range ids {
		out[i] = schema.Key{ID: id, Origin: "KZ-NCB"}
	}
	return out
}

// put writes recs through Apply, each over what is held under its id.
func put(tx *store.Tx, c store.Change, recs ...*schema.Record) error {
	ids := make([]schema.Key, len(recs))
	for i, r := range recs {
		ids[i] = r.Key()
	}
	held, err := tx.HeldMany(ids)
	if err != nil {
		return err
	}
	ws := make([]store.Write, len(recs))
	for i, r := range recs {
		ws[i] = store.Write{Rec: r, Held: held[i]}
	}
	return tx.Apply(c, ws, nil)
}

// putThree writes three versions of p-1 (one at a time and in batches)
// and one of p-2, then checks that every version reads back whole.
func putThree(t *testing.T, s *store.Store) {
	t.Helper()
	v := []*schema.Record{person("p-1", "A", 1), person("p-1", "B", 2), person("p-1", "C", 3)}
	steps := []func(tx *store.Tx) error{
		func(tx *store.Tx) error { return put(tx, change, v[0]) },
		func(tx *store.Tx) error {
			held, err := tx.HeldMany(keys("p-0", "p-1", "p-2"))
			if err != nil {
				return err
			}
			if held[0] != nil || held[1] == nil || held[2] != nil || held[1].N != 1 || held[1].Vector["KZ-NCB"] != 1 {
				return fmt.Errorf("HeldMany: %+v", held)
			}
			return tx.Apply(change, []store.Write{{Rec: v[1], Held: held[1]}, {Rec: person("p-2", "X", 1)}}, nil)
		},
		func(tx *store.Tx) error {
			return put(tx, store.Change{Action: "edit", Agency: "CARICC"}, v[2:]...)
		},
	}
	for _, step := range steps {
		if err := s.Update(step); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(schema.Key{ID: "p-1", Origin: "KZ-NCB"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("%d versions, want 3", len(h))
	}
	for i, e := range h {
		if e.N != int64(i+1) || string(e.Record.AppendCanonical(nil)) != string(v[i].AppendCanonical(nil)) {
			t.Errorf("version %d: %d %s", i+1, e.N, e.Record.AppendCanonical(nil))
		}
	}
	if e := h[0]; e.Action != "import" || e.Agency != "KZ-NCB" || e.Bundle != change.Bundle || e.At == "" {
		t.Errorf("version 1: %+v", e)
	}
	if e := h[2]; e.Action != "edit" || e.Agency != "CARICC" || e.Bundle != "" || e.At == "" {
		t.Errorf("version 3: %+v", e)
	}
	if h, err := s.History(schema.Key{ID: "p-2", Origin: "KZ-NCB"}); err != nil || len(h) != 1 || h[0].Record.Properties["name"][0] != "X" {
		t.Errorf("p-2: %v %v", h, err)
	}
}

func TestVersionsKeepEveryBody(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := store.Create(path, "CARICC", testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putThree(t, s)
	// The current version is in records only, the earlier ones in
	// versions.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ns []int64
	rows, err := db.Query(`SELECT n FROM versions WHERE id = 'p-1' ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		rows.Scan(&n)
		ns = append(ns, n)
	}
	rows.Close()
	var cur int64
	if err := db.QueryRow(`SELECT n FROM records WHERE id = 'p-1'`).Scan(&cur); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ns, []int64{1, 2}) || cur != 3 {
		t.Errorf("versions %v and current %d, want [1 2] and 3", ns, cur)
	}
}

// TestMigrateLayout1 opens a store of legacy layout 1 (every version in
// versions, the current one too; records keyed by id alone): the
// migrations move the current versions into records and key every table
// by id and origin, and the store then reads and writes as one made new.
func TestMigrateLayout1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := store.Create(path, "CARICC", testKey)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	v := []*schema.Record{person("p-1", "A", 1), person("p-1", "B", 2), person("p-1", "C", 3)}
	stmts := []string{
		`DROP TABLE records`, `DROP TABLE versions`, `DROP TABLE conflicts`, `DROP TABLE peer_state`, `DROP TABLE ledger`, `DROP TABLE refs`,
		`DROP TABLE peers`, `DROP TABLE own_cards`, `DROP TABLE statements`, `DELETE FROM meta WHERE key LIKE 'mac:%'`,
		`CREATE TABLE peers (agency TEXT NOT NULL, fingerprint TEXT NOT NULL, card TEXT NOT NULL,
		  status TEXT NOT NULL CHECK (status IN ('trusted', 'retiring', 'retired', 'revoked', 'pending')), added_at TEXT NOT NULL, revoked_at TEXT,
		  PRIMARY KEY (agency, fingerprint))`,
		`CREATE TABLE own_cards (generation INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, card TEXT NOT NULL,
		  status TEXT NOT NULL CHECK (status IN ('current', 'retiring', 'revoked')), created_at TEXT NOT NULL)`,
		`CREATE TABLE statements (n INTEGER PRIMARY KEY, agency TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
		  own INTEGER NOT NULL, at TEXT NOT NULL)`,
		`DROP TABLE trees`, `DROP TABLE tree_parts`, `DROP TABLE disclosures`,
		`CREATE TABLE ledger (n INTEGER PRIMARY KEY, bundle TEXT NOT NULL, direction TEXT NOT NULL, peer TEXT NOT NULL, sequence INTEGER,
		  records INTEGER NOT NULL DEFAULT 0, payload_sha256 TEXT, file TEXT, high_water INTEGER, signer TEXT, at TEXT NOT NULL,
		  result TEXT NOT NULL, acked_at TEXT)`,
		`CREATE TABLE records (id TEXT PRIMARY KEY, schema TEXT NOT NULL, origin TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
		  source TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, changed INTEGER NOT NULL, updated_at TEXT NOT NULL)`,
		`CREATE INDEX records_changed ON records(changed)`,
		`CREATE TABLE versions (id TEXT NOT NULL, n INTEGER NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL, agency TEXT NOT NULL,
		  bundle TEXT, content_hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id, n))`,
		`CREATE TABLE conflicts (id TEXT NOT NULL, property TEXT NOT NULL, candidates TEXT NOT NULL, bundle TEXT, at TEXT NOT NULL,
		  PRIMARY KEY (id, property))`,
		`CREATE TABLE peer_state (peer TEXT NOT NULL, id TEXT NOT NULL, vhash TEXT NOT NULL, bundle TEXT NOT NULL, PRIMARY KEY (peer, id))`,
		`INSERT INTO meta(key, value) VALUES ('layout', '1')`,
		`PRAGMA user_version = 0`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i, r := range v {
		body := r.AppendCanonical(nil)
		if _, err := db.Exec(`INSERT INTO versions VALUES (?, ?, '2026-11-01T00:00:00Z', 'import', 'KZ-NCB', 'b-1', ?, ?)`,
			r.ID, i+1, schema.HexContentHash(body), body); err != nil {
			t.Fatal(err)
		}
	}
	last := v[2].AppendCanonical(nil)
	for _, q := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO records VALUES ('p-1', 'Person', 'KZ-NCB', 0, NULL, ?, ?, 3, '2026-11-01T00:00:00Z')`, []any{schema.HexContentHash(last), last}},
		{`INSERT INTO conflicts VALUES ('p-1', 'name', '[]', 'b-1', '2026-11-01T00:00:00Z')`, nil},
		{`INSERT INTO peer_state VALUES ('KZ-NCB', 'p-1', 'abcd', 'b-1')`, nil},
		// An earlier valise could leave two trusted cards for one agency.
		{`INSERT INTO peers VALUES ('KZ-NCB', 'AAAA', 'card 1', 'trusted', '2026-11-01T00:00:00Z', NULL),
		  ('KZ-NCB', 'BBBB', 'card 2', 'trusted', '2026-11-02T00:00:00Z', NULL), ('KG-NCB', 'CCCC', 'card 3', 'trusted', '2026-11-01T00:00:00Z', NULL)`, nil},
	} {
		if _, err := db.Exec(q.q, q.args...); err != nil {
			t.Fatalf("%s: %v", q.q, err)
		}
	}
	db.Close()
	if s, err = store.Open(path, testKey); err != nil {
		t.Fatal(err)
	}
	k := schema.Key{ID: "p-1", Origin: "KZ-NCB"}
	h, err := s.History(k)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("%d versions after the migration, want 3", len(h))
	}
	for i := range h {
		if h[i].N != int64(i+1) || h[i].Action != "import" || string(h[i].Record.AppendCanonical(nil)) != string(v[i].AppendCanonical(nil)) {
			t.Errorf("version %d: %+v", i+1, h[i])
		}
	}
	if cs, err := s.Conflicts(k); err != nil || len(cs) != 1 || cs[0].Origin != "KZ-NCB" {
		t.Errorf("conflicts after the migration: %+v %v", cs, err)
	}
	// Sealed: every row checks, and both trusted cards of KZ-NCB wait
	// for the operator's confirmation.
	if found, _, err := s.CheckSeals(); err != nil || len(found) != 0 {
		t.Errorf("seals after the migration: %+v %v", found, err)
	}
	ps, err := s.Peers()
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, p := range ps {
		states = append(states, p.Agency+" "+p.Fingerprint+" "+p.Status)
	}
	if want := "KG-NCB CCCC trusted,KZ-NCB AAAA pending,KZ-NCB BBBB pending"; strings.Join(states, ",") != want {
		t.Errorf("peers after the migration: %s, want %s", strings.Join(states, ","), want)
	}
	err = s.Update(func(tx *store.Tx) error {
		held, err := tx.HeldMany(keys("p-1"))
		if err != nil || held[0] == nil || held[0].N != 3 {
			return fmt.Errorf("held after the migration: %+v %v", held, err)
		}
		d := person("p-3", "D", 1)
		d.Deleted = true
		if err := put(tx, change, d, person("p-1", "E", 4)); err != nil {
			return err
		}
		live, err := tx.Live([]string{"p-1", "p-3", "p-9"})
		if err != nil {
			return err
		}
		if !live["p-1"] || live["p-3"] || live["p-9"] || len(live) != 1 {
			return fmt.Errorf("live: %v", live)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := s.History(k); err != nil || len(h) != 4 || h[3].N != 4 {
		t.Errorf("history after a write: %d versions, %v", len(h), err)
	}
	s.Close()
	// Migrated once: the layout is the newest, the peer state kept its
	// row, and a store of a newer layout is refused.
	db, _ = sql.Open("sqlite", path)
	var ver, peers int
	db.QueryRow(`PRAGMA user_version`).Scan(&ver)
	db.QueryRow(`SELECT COUNT(*) FROM peer_state WHERE origin = 'KZ-NCB'`).Scan(&peers)
	if ver != store.Layout || peers != 1 {
		t.Errorf("user_version %d after the migration, want %d; %d peer state rows, want 1", ver, store.Layout, peers)
	}
	db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, store.Layout+1))
	db.Close()
	if _, err := store.Open(path, testKey); !errors.Is(err, store.ErrLayout) {
		t.Errorf("a store of a newer layout: %v", err)
	}
}

func TestLive(t *testing.T) {
	s := newStore(t)
	err := s.Update(func(tx *store.Tx) error {
		dead := person("p-2", "B", 1)
		dead.Deleted = true
		if err := put(tx, change, person("p-1", "A", 1), dead); err != nil {
			return err
		}
		live, err := tx.Live([]string{"p-0", "p-1", "p-2"})
		if err != nil {
			return err
		}
		if !live["p-1"] || len(live) != 1 {
			return fmt.Errorf("live: %v", live)
		}
		// A tombstone brought back to life.
		if err := put(tx, change, person("p-2", "B", 2)); err != nil {
			return err
		}
		if live, err = tx.Live([]string{"p-2"}); err != nil || !live["p-2"] {
			return fmt.Errorf("live after undelete: %v %v", live, err)
		}
		dead = person("p-3", "C", 1)
		dead.Deleted = true
		return put(tx, change, dead)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A tombstone written before the transaction.
	err = s.Update(func(tx *store.Tx) error {
		live, err := tx.Live([]string{"p-1", "p-2", "p-3"})
		if err != nil || !live["p-1"] || !live["p-2"] || len(live) != 2 {
			return fmt.Errorf("live: %v %v", live, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSpillEndpoints(t *testing.T) {
	s := newStore(t)
	err := s.Update(func(tx *store.Tx) error {
		if err := put(tx, change, person("p-1", "A", 1)); err != nil {
			return err
		}
		var eps []store.Endpoint
		for i := range 600 {
			eps = append(eps, store.Endpoint{Seq: int64(i), Link: fmt.Sprintf("m-%d", i), Target: []string{"p-1", "p-2"}[i%2]})
		}
		for range 2 {
			if err := tx.SpillEndpoints(eps[:400]); err != nil {
				return err
			}
			if err := tx.SpillEndpoints(eps[400:]); err != nil {
				return err
			}
			var got []int64
			if err := tx.UnknownSpilled(func(e store.Endpoint) error {
				if e.Target != "p-2" || e.Link != fmt.Sprintf("m-%d", e.Seq) {
					return fmt.Errorf("unknown %+v", e)
				}
				got = append(got, e.Seq)
				return nil
			}); err != nil {
				return err
			}
			if len(got) != 300 || !slices.IsSorted(got) {
				return fmt.Errorf("%d unknown: %v", len(got), got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSameIDTwoOrigins keeps two offices' records under one id apart:
// each has its own versions and conflicts, and Find lists both.
func TestSameIDTwoOrigins(t *testing.T) {
	s := newStore(t)
	kz := person("p-1", "Ivan", 1)
	kg := person("p-1", "Other", 1)
	kg.Origin = "KG-NCB"
	kg.Version = schema.Version{Vector: map[string]uint64{"KG-NCB": 1}, Props: map[string]string{"name": "KG-NCB:1"}}
	err := s.Update(func(tx *store.Tx) error { return put(tx, change, kz, kg) })
	if err != nil {
		t.Fatal(err)
	}
	found, err := s.Find("p-1")
	if err != nil || len(found) != 2 || found[0].Origin != "KG-NCB" || found[1].Origin != "KZ-NCB" {
		t.Fatalf("Find: %v %v", found, err)
	}
	for _, r := range []*schema.Record{kz, kg} {
		got, err := s.Get(r.Key())
		if err != nil || got.Properties["name"][0] != r.Properties["name"][0] {
			t.Errorf("%s: %v %v", r.Key(), got, err)
		}
	}
	kz2 := person("p-1", "Ivan P.", 2)
	if err := s.Update(func(tx *store.Tx) error { return put(tx, change, kz2) }); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(kz.Key()); len(h) != 2 {
		t.Errorf("KZ-NCB's p-1 has %d versions, want 2", len(h))
	}
	if h, _ := s.History(kg.Key()); len(h) != 1 {
		t.Errorf("KG-NCB's p-1 has %d versions, want 1", len(h))
	}
}
