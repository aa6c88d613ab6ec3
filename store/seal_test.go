package store_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"valise/schema"
	"valise/store"
)

// sealedStore makes a store with one row in each protected table and
// returns it with its path.
func sealedStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := store.Create(path, "CARICC", testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Update(func(tx *store.Tx) error {
		if err := tx.SetOwnCard(store.OwnCard{Generation: 1, Fingerprint: "AAAA", Card: []byte("card 1"), Status: "current"}); err != nil {
			return err
		}
		if err := tx.SetPeer(store.Peer{Agency: "KZ-NCB", Fingerprint: "BBBB", Card: []byte("card kz"), Status: store.Trusted}); err != nil {
			return err
		}
		if err := tx.SetPeer(store.Peer{Agency: "KG-NCB", Fingerprint: "CCCC", Card: []byte("card kg"), Status: store.Revoked}); err != nil {
			return err
		}
		if _, err := tx.AddStatement(store.Statement{Agency: "CARICC", Kind: "rotate", Key: "AAAA", Body: []byte("statement"), Own: true}); err != nil {
			return err
		}
		return put(tx, change, person("p-1", "A", 1), person("p-2", "B", 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if found, _, err := s.CheckSeals(); err != nil || len(found) != 0 {
		t.Fatalf("a store written through valise: %v %v", found, err)
	}
	return s, path
}

func handEdit(t *testing.T, path, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed nothing", q)
	}
}

// TestSealDetects edits each protected table by hand: CheckSeals names
// the table and row, and the reads that decide refuse it.
func TestSealDetects(t *testing.T) {
	k1 := schema.Key{ID: "p-1", Origin: "KZ-NCB"}
	for _, c := range []struct {
		name, edit, table, row string
		read                   func(s *store.Store) error
	}{
		{"peer status", `UPDATE peers SET status = 'trusted', revoked_at = NULL WHERE agency = 'KG-NCB'`, "peers", "agency=KG-NCB fingerprint=CCCC",
			func(s *store.Store) error { _, err := s.Peers(); return err }},
		{"peer inserted", `INSERT INTO peers SELECT 'XX-NCB', fingerprint, card, status, added_at, revoked_at, introduced_by, revoked_by, mac FROM peers WHERE agency = 'KZ-NCB'`,
			"peers", "agency=XX-NCB fingerprint=BBBB", func(s *store.Store) error { _, err := s.Peers(); return err }},
		{"peer removed", `DELETE FROM peers WHERE agency = 'KG-NCB'`, "peers", "",
			func(s *store.Store) error { _, err := s.Peers(); return err }},
		{"own card", `UPDATE own_cards SET status = 'revoked'`, "own_cards", "generation=1 fingerprint=AAAA",
			func(s *store.Store) error { _, err := s.OwnCards(); return err }},
		{"statement", `UPDATE statements SET kind = 'revoke'`, "statements", "n=1 agency=CARICC kind=revoke",
			func(s *store.Store) error { _, err := s.PendingStatements("KZ-NCB"); return err }},
		{"statement removed", `DELETE FROM statements`, "statements", "",
			func(s *store.Store) error { _, err := s.Statements(); return err }},
		{"record handling", `UPDATE records SET handling = '{"tlp":"clear"}' WHERE id = 'p-1'`, "records", "id=p-1 origin=KZ-NCB",
			func(s *store.Store) error {
				return s.Update(func(tx *store.Tx) error { _, err := tx.HeldMany([]schema.Key{k1}); return err })
			}},
		{"record body", `UPDATE records SET body = replace(body, '"amber"', '"clear"') WHERE id = 'p-1'`, "records", "id=p-1 origin=KZ-NCB",
			func(s *store.Store) error {
				return s.ChangedFor(0, []string{"KG-NCB"}, func(*store.Changed) error { return nil })
			}},
		{"record origin", `UPDATE records SET origin = 'KG-NCB' WHERE id = 'p-2'`, "records", "id=p-2 origin=KG-NCB",
			func(s *store.Store) error {
				return s.ChangedFor(0, nil, func(*store.Changed) error { return nil })
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, path := sealedStore(t)
			handEdit(t, path, c.edit)
			found, more, err := s.CheckSeals()
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 || more != 0 || found[0].Table != c.table || found[0].Row != c.row {
				t.Fatalf("CheckSeals: %+v (%d more), want table %s row %q", found, more, c.table, c.row)
			}
			err = c.read(s)
			var te *store.TamperError
			if !errors.As(err, &te) || !errors.Is(err, store.ErrTampered) || te.Table != c.table {
				t.Fatalf("the read that decides: %v, want a failure of table %s", err, c.table)
			}
		})
	}
}

// TestSealNoLaundering: a legitimate write to a trust table after a row
// was removed by hand fails instead of sealing the table again over it.
func TestSealNoLaundering(t *testing.T) {
	s, path := sealedStore(t)
	handEdit(t, path, `DELETE FROM peers WHERE agency = 'KG-NCB'`)
	err := s.Update(func(tx *store.Tx) error {
		return tx.SetPeer(store.Peer{Agency: "UZ-NCB", Fingerprint: "DDDD", Card: []byte("card uz"), Status: store.Trusted})
	})
	if !errors.Is(err, store.ErrTampered) {
		t.Fatalf("write after a hand edit: %v", err)
	}
	if found, _, _ := s.CheckSeals(); len(found) != 1 || found[0].Table != "peers" {
		t.Fatalf("CheckSeals after the refused write: %+v", found)
	}
}

// TestOneTrustedCard: the store refuses a second trusted card for an
// agency.
func TestOneTrustedCard(t *testing.T) {
	s, _ := sealedStore(t)
	err := s.Update(func(tx *store.Tx) error {
		return tx.SetPeer(store.Peer{Agency: "KZ-NCB", Fingerprint: "EEEE", Card: []byte("card kz 2"), Status: store.Trusted})
	})
	if err == nil || !strings.Contains(err.Error(), "one card per agency is trusted") {
		t.Fatalf("a second trusted card: %v", err)
	}
}

// TestSealWrongKey: a store opened with another key fails every check.
func TestSealWrongKey(t *testing.T) {
	s, path := sealedStore(t)
	s.Close()
	other := store.WithMACKey(func() ([]byte, error) { return []byte("another key, of thirty-two bytes"), nil })
	s2, err := store.Open(path, other)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	found, _, err := s2.CheckSeals()
	if err != nil || len(found) != 2+1+1+2 {
		t.Fatalf("another key: %d findings %v, want every row: 2 peers, 1 own card, 1 statement, 2 records", len(found), err)
	}
	if _, err := s2.Peers(); !errors.Is(err, store.ErrTampered) {
		t.Fatalf("Peers with another key: %v", err)
	}
	s3, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := s3.Peers(); !errors.Is(err, store.ErrNoMACKey) {
		t.Fatalf("Peers without a key: %v", err)
	}
}
