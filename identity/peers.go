package identity

import (
	"fmt"
	"valise/bundle"
	"valise/crypto"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// AddPeer trusts card data after checking that its fingerprint is fpr.
func AddPeer(o *office.Office, data []byte, fpr string) (*crypto.Card, error) {
	c, err := crypto.ParseCard(data)
	if err != nil {
		return nil, err
	}
	want := crypto.NormalizeFingerprint(fpr)
	if want == "" {
		return nil, fmt.Errorf("fingerprint %q is not 32 hex digits", schema.Printable(fpr))
	}
	if got := c.Fingerprint(); got != want {
		return nil, fmt.Errorf("%w: the card's fingerprint is %s, not %s: do not trust this card", crypto.ErrCard, got, want)
	}
	if c.Agency == o.Agency() {
		return nil, fmt.Errorf("%s is this office's own card", c.Agency)
	}
	return c, o.Store.AddPeer(store.Peer{Agency: c.Agency, Fingerprint: want, Card: data})
}

// ApplyStatements verifies the keyring statements a bundle carries and
// applies them inside the import transaction. It reports whether the
// bundle only carries the revocation of the key that signed it, whose
// records are then not imported.
func ApplyStatements(o *office.Office, tx *store.Tx, kr *crypto.Keyring, h *bundle.Header, raw [][]byte, notes *[]string) (bool, error) {
	carrier := false
	for i, data := range raw {
		st, err := crypto.ParseStatement(data)
		if err != nil {
			return false, &bundle.Error{Check: "statement", Kind: bundle.ErrContent, Msg: fmt.Sprintf("statement %d: %v", i+1, err), Err: err}
		}
		if st.Agency != h.Sender {
			return false, &bundle.Error{Check: "statement", Kind: bundle.ErrContent,
				Msg: fmt.Sprintf("statement %d is about %s; a bundle from %s may only carry its own", i+1, schema.Printable(st.Agency), h.Sender)}
		}
		old, ok := kr.Known(st.Key)
		if !ok {
			// A statement about a key this office never trusted says
			// nothing it can check.
			*notes = append(*notes, fmt.Sprintf("statement about unknown key %s of %s ignored", st.Key, st.Agency))
			continue
		}
		next, err := st.Verify(old)
		if err != nil {
			return false, &bundle.Error{Check: "statement", Kind: bundle.ErrAuth, Msg: err.Error(), Err: err}
		}
		if err := applyStatement(o, tx, kr, st, old, next, notes); err != nil {
			return false, err
		}
		if st.Kind == crypto.Revoke && st.Key == h.SenderKey {
			carrier = true
		}
	}
	return carrier, nil
}

func applyStatement(o *office.Office, tx *store.Tx, kr *crypto.Keyring, st *crypto.Statement, old, next *crypto.Card, notes *[]string) error {
	peers, err := tx.Peers()
	if err != nil {
		return err
	}
	status := map[string]string{}
	for _, p := range peers {
		status[p.Fingerprint] = p.Status
	}
	set := func(c *crypto.Card, s string) error {
		return tx.SetPeer(store.Peer{Agency: c.Agency, Fingerprint: c.Fingerprint(), Card: c.Marshal(), Status: s})
	}
	switch st.Kind {
	case crypto.Rotate:
		if status[next.Fingerprint()] == "" {
			if err := set(next, "trusted"); err != nil {
				return err
			}
			if status[old.Fingerprint()] == "trusted" {
				if err := set(old, "retiring"); err != nil {
					return err
				}
			}
			*notes = append(*notes, fmt.Sprintf("%s rotated its key: %s now trusted, %s retiring", st.Agency, next.Fingerprint(), old.Fingerprint()))
			return tx.Audit("peer key rotate", fmt.Sprintf("%s %s replaces %s", st.Agency, next.Fingerprint(), old.Fingerprint()))
		}
	case crypto.Revoke:
		changed := false
		if status[old.Fingerprint()] != "revoked" {
			if err := set(old, "revoked"); err != nil {
				return err
			}
			changed = true
		}
		if status[next.Fingerprint()] == "" {
			if err := set(next, "pending"); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			*notes = append(*notes, fmt.Sprintf("%s REVOKED its key %s; its new card %s is pending: compare the fingerprint with %s by phone, then valise peer confirm %s --fingerprint %s",
				st.Agency, old.Fingerprint(), next.Fingerprint(), st.Agency, st.Agency, next.Fingerprint()))
			return tx.Audit("peer key revoke", fmt.Sprintf("%s revoked %s, announced %s (pending)", st.Agency, old.Fingerprint(), next.Fingerprint()))
		}
	}
	return nil
}

// ConfirmPeer trusts the pending card of agency (announced by a
// revocation) once its fingerprint, compared out of band, is fpr.
func ConfirmPeer(o *office.Office, agency, fpr string) (*crypto.Card, error) {
	peers, err := o.Store.Peers()
	if err != nil {
		return nil, err
	}
	want := crypto.NormalizeFingerprint(fpr)
	for _, p := range peers {
		if p.Agency == agency && p.Status == "pending" {
			if p.Fingerprint != want {
				return nil, fmt.Errorf("%w: the pending card of %s has fingerprint %s, not %s: do not trust it", crypto.ErrCard, agency, p.Fingerprint, want)
			}
			return AddPeer(o, p.Card, fpr)
		}
	}
	return nil, fmt.Errorf("no pending card for %s: %w", agency, store.ErrNotFound)
}
