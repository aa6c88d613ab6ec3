package identity_test

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"valise/bundle"
	"valise/crypto"
	"valise/identity"
	"valise/internal/officetest"
	"valise/office"
	"valise/store"
)

// key is one generation of a (simulated) peer's keys.
type key struct {
	keys *crypto.Keys
	card *crypto.Card
}

func newKey(t *testing.T, agency string) key {
	t.Helper()
	k, err := crypto.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := crypto.NewCard(agency, agency, time.Now(), k)
	if err != nil {
		t.Fatal(err)
	}
	return key{k, c}
}

func statement(t *testing.T, kind string, old, next key) []byte {
	t.Helper()
	st, err := crypto.NewStatement(kind, old.card, old.keys, next.card, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return st.Marshal()
}

// apply applies statements as an import of a bundle signed by signer.
func apply(o *office.Office, signer key, sts ...[]byte) ([]string, error) {
	var notes []string
	h := &bundle.Header{Sender: signer.card.Agency, SenderKey: signer.card.Fingerprint()}
	err := o.Store.Update(func(tx *store.Tx) error {
		_, err := identity.ApplyStatements(o, tx, h, sts, &notes)
		return err
	})
	return notes, err
}

// states returns "FPR status" of every card of agency, with names for
// the fingerprints.
func states(t *testing.T, o *office.Office, agency string, names map[string]string) string {
	t.Helper()
	ps, err := o.Store.Peers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		if p.Agency == agency {
			s := names[p.Fingerprint] + " " + p.Status
			if p.RevokedBy != "" {
				s += " with " + names[p.RevokedBy]
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestRevocationFollowsIntroductions: a thief rotates a stolen key twice
// in one bundle; the owner's revocation of the stolen key revokes both
// cards the thief introduced, and confirming the owner's new card by
// fingerprint makes it the one trusted card.
func TestRevocationFollowsIntroductions(t *testing.T) {
	offs := officetest.Offices(t, t.TempDir(), "CARICC")
	ca := offs[0]
	k1 := newKey(t, "KZ-NCB")
	if _, err := identity.AddPeer(ca, k1.card.Marshal(), k1.card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	t1, t2, real := newKey(t, "KZ-NCB"), newKey(t, "KZ-NCB"), newKey(t, "KZ-NCB")
	names := map[string]string{k1.card.Fingerprint(): "k1", t1.card.Fingerprint(): "t1", t2.card.Fingerprint(): "t2", real.card.Fingerprint(): "real"}

	if _, err := apply(ca, k1, statement(t, crypto.Rotate, k1, t1), statement(t, crypto.Rotate, t1, t2)); err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, ca, "KZ-NCB", names), "k1 retiring, t1 retiring, t2 trusted"; got != want {
		t.Fatalf("after the thief's rotations: %s, want %s", got, want)
	}
	// The rotation statement again (it travels until acknowledged): no-op.
	if _, err := apply(ca, k1, statement(t, crypto.Rotate, k1, t1)); err != nil {
		t.Fatalf("a rotation applied before: %v", err)
	}
	// Another rotation by k1, now retiring: two holders of k1.
	other := newKey(t, "KZ-NCB")
	if _, err := apply(ca, k1, statement(t, crypto.Rotate, k1, other)); !errors.Is(err, identity.ErrRotation) || !errors.Is(err, bundle.ErrAuth) {
		t.Fatalf("a second rotation by a retiring key: %v", err)
	}

	notes, err := apply(ca, k1, statement(t, crypto.Revoke, k1, real))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, ca, "KZ-NCB", names), "k1 revoked, real pending, t1 revoked with k1, t2 revoked with t1"; got != want {
		t.Fatalf("after the revocation: %s, want %s", got, want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "valise peer confirm KZ-NCB") {
		t.Errorf("notes: %q", notes)
	}
	kr, err := ca.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kr.Card("KZ-NCB"); ok {
		t.Errorf("a card of KZ-NCB to encrypt to while none is confirmed")
	}
	if _, err := kr.Lookup("KZ-NCB", t2.card.Fingerprint()); !errors.Is(err, crypto.ErrRevoked) || !strings.Contains(err.Error(), "with key "+t1.card.Fingerprint()) {
		t.Errorf("the thief's second card: %v", err)
	}

	// The wrong fingerprint confirms nothing; the right one, one card.
	if _, _, err := identity.ConfirmPeer(ca, "KZ-NCB", k1.card.Fingerprint()); !errors.Is(err, crypto.ErrCard) {
		t.Errorf("confirming the revoked key: %v", err)
	}
	if _, _, err := identity.ConfirmPeer(ca, "KZ-NCB", real.card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, ca, "KZ-NCB", names), "k1 revoked, real trusted, t1 revoked with k1, t2 revoked with t1"; got != want {
		t.Fatalf("after the confirmation: %s, want %s", got, want)
	}
	if kr, err = ca.Keyring(); err != nil {
		t.Fatal(err)
	}
	if c, ok := kr.Card("KZ-NCB"); !ok || c.Fingerprint() != real.card.Fingerprint() {
		t.Errorf("the card to encrypt to: %v %v", c, ok)
	}
	// A card revoked only with its introducer may be confirmed again (had
	// t2 been the owner's): the other trusted card retires.
	if _, _, err := identity.ConfirmPeer(ca, "KZ-NCB", t2.card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, ca, "KZ-NCB", names), "k1 revoked, real retired, t1 revoked with k1, t2 trusted"; got != want {
		t.Fatalf("after confirming t2: %s, want %s", got, want)
	}
}

// TestConfirmedCardSurvives: a card introduced by a rotation and then
// confirmed by fingerprint is not revoked with its introducer.
func TestConfirmedCardSurvives(t *testing.T) {
	ca := officetest.Offices(t, t.TempDir(), "CARICC")[0]
	k1, k2, k3 := newKey(t, "KZ-NCB"), newKey(t, "KZ-NCB"), newKey(t, "KZ-NCB")
	names := map[string]string{k1.card.Fingerprint(): "k1", k2.card.Fingerprint(): "k2", k3.card.Fingerprint(): "k3"}
	if _, err := identity.AddPeer(ca, k1.card.Marshal(), k1.card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(ca, k1, statement(t, crypto.Rotate, k1, k2)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := identity.ConfirmPeer(ca, "KZ-NCB", k2.card.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(ca, k1, statement(t, crypto.Revoke, k1, k3)); err != nil {
		t.Fatal(err)
	}
	if got, want := states(t, ca, "KZ-NCB", names), "k1 revoked, k2 trusted, k3 pending"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}
