package identity

import (
	"errors"
	"fmt"
	"strings"

	"valise/bundle"
	"valise/crypto"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// The keyring's rules (docs/KEYS.md):
//
//   - At most one card of an agency is trusted at a time: the card bundles
//     are encrypted to. Cards are trusted either because the operator
//     compared their fingerprint out of band (peer add, peer confirm) or
//     because a rotation signed by the agency's trusted key introduced
//     them.
//   - A rotation counts only when it is signed by the agency's trusted
//     key. A second rotation by a key already replaced means two holders
//     of that key: the bundle is refused with an alert.
//   - A revocation, signed by a key still accepted (trusted or retiring),
//     revokes that key, and every card that key introduced, directly or
//     through further rotations, that the operator has not confirmed by
//     fingerprint. Its successor card is pending: trusted only once the
//     operator confirms its fingerprint.

// ErrRotation: a rotation signed by a key that is not the agency's
// trusted one.
var ErrRotation = errors.New("rotation refused")

// AddPeer trusts card data after checking that its fingerprint is fpr.
// A card already known — pending, trusted through a rotation, or revoked
// with the key that introduced it — is confirmed (see ConfirmPeer).
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
	err = o.Store.Update(func(tx *store.Tx) error {
		peers, err := tx.Peers()
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.Agency != c.Agency {
				continue
			}
			switch {
			case p.Fingerprint == want:
				_, err := confirm(tx, peers, p)
				return err
			case p.Status == store.Trusted:
				return fmt.Errorf("peer %s is already trusted with fingerprint %s; a new key arrives as a signed statement in its bundles", p.Agency, p.Fingerprint)
			}
		}
		if err := tx.SetPeer(store.Peer{Agency: c.Agency, Fingerprint: want, Card: data, Status: store.Trusted}); err != nil {
			return err
		}
		return tx.Audit("peer add", fmt.Sprintf("%s %s", c.Agency, want))
	})
	return c, err
}

// ConfirmPeer trusts, once its fingerprint compared out of band is fpr,
// the card of agency that is pending (announced by a revocation), revoked
// only with the key that introduced it, or trusted through a rotation
// (then it is marked confirmed: a later revocation of the key that
// introduced it leaves it trusted). Any other card of agency that was
// trusted becomes retired (a retiring one stays retiring), and any other
// pending card revoked: one card of an agency is trusted at a time.
func ConfirmPeer(o *office.Office, agency, fpr string) (*crypto.Card, []string, error) {
	want := crypto.NormalizeFingerprint(fpr)
	var card *crypto.Card
	var notes []string
	err := o.Store.Update(func(tx *store.Tx) error {
		peers, err := tx.Peers()
		if err != nil {
			return err
		}
		var cands []string
		for _, p := range peers {
			if p.Agency != agency {
				continue
			}
			if p.Fingerprint == want && (confirmable(p) || p.Status == store.Trusted) {
				if notes, err = confirm(tx, peers, p); err != nil {
					return err
				}
				card, err = crypto.ParseCard(p.Card)
				return err
			}
			if confirmable(p) {
				cands = append(cands, p.Fingerprint+" ("+p.Status+")")
			}
		}
		if len(cands) == 0 {
			return fmt.Errorf("no card of %s to confirm: %w", schema.Printable(agency), store.ErrNotFound)
		}
		return fmt.Errorf("%w: no card of %s has fingerprint %s; the cards to confirm are %s: do not trust any card whose fingerprint %s has not read out to you",
			crypto.ErrCard, schema.Printable(agency), want, strings.Join(cands, ", "), schema.Printable(agency))
	})
	return card, notes, err
}

// confirmable reports whether the operator may confirm p by fingerprint.
func confirmable(p store.Peer) bool {
	switch p.Status {
	case store.Pending:
		return true
	case store.Trusted:
		return p.IntroducedBy != ""
	case store.Revoked:
		return p.RevokedBy != ""
	}
	return false
}

// confirm makes p, whose fingerprint the operator compared, the trusted
// card of its agency.
func confirm(tx *store.Tx, peers []store.Peer, p store.Peer) ([]string, error) {
	if p.Status == store.Trusted && p.IntroducedBy == "" {
		return nil, nil // already trusted and confirmed
	}
	if !confirmable(p) {
		return nil, fmt.Errorf("card %s of %s is %s; it is not trusted again", p.Fingerprint, p.Agency, p.Status)
	}
	var notes []string
	// The others first: the unique index allows one trusted card.
	for _, q := range peers {
		if q.Agency != p.Agency || q.Fingerprint == p.Fingerprint {
			continue
		}
		switch q.Status {
		case store.Trusted:
			q.Status = store.Retired
			notes = append(notes, fmt.Sprintf("%s card %s is now retired", q.Agency, q.Fingerprint))
		case store.Pending:
			q.Status = store.Revoked
			notes = append(notes, fmt.Sprintf("%s card %s, never confirmed, is now revoked", q.Agency, q.Fingerprint))
		default:
			continue
		}
		if err := tx.SetPeer(q); err != nil {
			return nil, err
		}
	}
	was := p.Status
	p.Status, p.IntroducedBy, p.RevokedBy = store.Trusted, "", ""
	if err := tx.SetPeer(p); err != nil {
		return nil, err
	}
	return notes, tx.Audit("peer confirm", fmt.Sprintf("%s %s (was %s); %s", p.Agency, p.Fingerprint, was, strings.Join(notes, "; ")))
}

// RevokePeer revokes every card of agency that is trusted, retiring or
// pending: its bundles are refused from now on, whatever their created
// time.
func RevokePeer(o *office.Office, agency string) error {
	return o.Store.Update(func(tx *store.Tx) error {
		peers, err := tx.Peers()
		if err != nil {
			return err
		}
		n := 0
		for _, p := range peers {
			if p.Agency == agency && (p.Status == store.Trusted || p.Status == store.Retiring || p.Status == store.Pending) {
				p.Status, p.RevokedBy = store.Revoked, ""
				if err := tx.SetPeer(p); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("no trusted peer %s: %w", schema.Printable(agency), store.ErrNotFound)
		}
		return tx.Audit("peer revoke", agency)
	})
}

// ApplyStatements verifies the keyring statements a bundle carries and
// applies them inside the import transaction, in order: each is checked
// against the keyring as the ones before it left it (a rotation and then
// a rotation by the key it introduced both count). It reports whether the
// bundle only carries the revocation of the key that signed it, whose
// records are then not imported.
func ApplyStatements(o *office.Office, tx *store.Tx, h *bundle.Header, raw [][]byte, notes *[]string) (bool, error) {
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
		old, ok, err := accepted(tx, st.Agency, st.Key, st.Kind)
		if err != nil {
			return false, err
		}
		if !ok {
			// A statement about a key this office does not accept says
			// nothing it can check.
			*notes = append(*notes, fmt.Sprintf("statement about key %s of %s ignored: not a key this office accepts", st.Key, st.Agency))
			continue
		}
		next, err := st.Verify(old)
		if err != nil {
			return false, &bundle.Error{Check: "statement", Kind: bundle.ErrAuth, Msg: err.Error(), Err: err}
		}
		if err := applyStatement(tx, st, data, old, next, notes); err != nil {
			return false, err
		}
		if st.Kind == crypto.Revoke && st.Key == h.SenderKey {
			carrier = true
		}
	}
	return carrier, nil
}

// accepted returns the card of agency with fingerprint fpr if the
// keyring accepts a statement of kind signed by it: any statement from a
// trusted or retiring key, and a revocation from a retired one too (the
// owner may learn of a theft after a rotation made with the stolen key
// retired it).
func accepted(tx *store.Tx, agency, fpr, kind string) (*crypto.Card, bool, error) {
	peers, err := tx.Peers()
	if err != nil {
		return nil, false, err
	}
	for _, p := range peers {
		ok := p.Status == store.Trusted || p.Status == store.Retiring || (kind == crypto.Revoke && p.Status == store.Retired)
		if p.Agency == agency && p.Fingerprint == fpr && ok {
			c, err := crypto.ParseCard(p.Card)
			if err != nil {
				return nil, false, fmt.Errorf("keyring holds a bad card for %s: %w", p.Agency, err)
			}
			return c, true, nil
		}
	}
	return nil, false, nil
}

func applyStatement(tx *store.Tx, st *crypto.Statement, data []byte, old, next *crypto.Card, notes *[]string) error {
	peers, err := tx.Peers()
	if err != nil {
		return err
	}
	byFpr := map[string]store.Peer{}
	for _, p := range peers {
		if p.Agency == st.Agency {
			byFpr[p.Fingerprint] = p
		}
	}
	oldRow, nextRow := byFpr[old.Fingerprint()], byFpr[next.Fingerprint()]
	switch st.Kind {
	case crypto.Rotate:
		if nextRow.Fingerprint != "" {
			return nil // applied before: the statement travels until acknowledged
		}
		if oldRow.Status != store.Trusted {
			return &bundle.Error{Check: "statement", Kind: bundle.ErrAuth, Err: ErrRotation,
				Msg: fmt.Sprintf("%v: ALERT: %s key %s, which is %s, signed a rotation to %s; only the trusted key of %s may rotate, and a second rotation by one key means someone else holds it: call %s and compare fingerprints (valise peer list)",
					ErrRotation, st.Agency, old.Fingerprint(), oldRow.Status, next.Fingerprint(), st.Agency, st.Agency)}
		}
		oldRow.Status = store.Retiring
		if err := tx.SetPeer(oldRow); err != nil {
			return err
		}
		if err := tx.SetPeer(store.Peer{Agency: st.Agency, Fingerprint: next.Fingerprint(), Card: next.Marshal(), Status: store.Trusted, IntroducedBy: old.Fingerprint()}); err != nil {
			return err
		}
		if _, err := tx.AddStatement(store.Statement{Agency: st.Agency, Kind: st.Kind, Key: st.Key, Body: data}); err != nil {
			return err
		}
		*notes = append(*notes, fmt.Sprintf("%s rotated its key: %s now trusted, %s retiring", st.Agency, next.Fingerprint(), old.Fingerprint()))
		return tx.Audit("peer key rotate", fmt.Sprintf("%s %s replaces %s", st.Agency, next.Fingerprint(), old.Fingerprint()))
	case crypto.Revoke:
		if oldRow.Status == store.Revoked {
			return nil // applied before
		}
		oldRow.Status, oldRow.RevokedBy = store.Revoked, ""
		if err := tx.SetPeer(oldRow); err != nil {
			return err
		}
		byFpr[oldRow.Fingerprint] = oldRow
		// Every card the revoked key introduced, through any number of
		// rotations, and that the operator did not confirm, goes with it.
		var gone []string
		revoked := map[string]bool{old.Fingerprint(): true}
		for changed := true; changed; {
			changed = false
			for fpr, p := range byFpr {
				if revoked[fpr] || p.IntroducedBy == "" || !revoked[p.IntroducedBy] || p.Status == store.Revoked {
					continue
				}
				p.Status, p.RevokedBy = store.Revoked, p.IntroducedBy
				if err := tx.SetPeer(p); err != nil {
					return err
				}
				byFpr[fpr] = p
				revoked[fpr] = true
				gone = append(gone, fpr)
				changed = true
			}
		}
		if nextRow.Fingerprint == "" {
			if err := tx.SetPeer(store.Peer{Agency: st.Agency, Fingerprint: next.Fingerprint(), Card: next.Marshal(), Status: store.Pending, IntroducedBy: old.Fingerprint()}); err != nil {
				return err
			}
		}
		if _, err := tx.AddStatement(store.Statement{Agency: st.Agency, Kind: st.Kind, Key: st.Key, Body: data}); err != nil {
			return err
		}
		msg := fmt.Sprintf("%s REVOKED its key %s", st.Agency, old.Fingerprint())
		if len(gone) > 0 {
			msg += fmt.Sprintf(", and with it %s, introduced by that key and never confirmed by fingerprint", strings.Join(gone, ", "))
		}
		trusted := ""
		for _, p := range byFpr {
			if p.Status == store.Trusted {
				trusted = p.Fingerprint
			}
		}
		if trusted != "" {
			msg += fmt.Sprintf("; %s stays trusted (confirmed by fingerprint); its announced card %s is pending", trusted, next.Fingerprint())
		} else {
			msg += fmt.Sprintf("; its new card %s is pending: compare the fingerprint with %s by phone, then valise peer confirm %s --fingerprint FPR (the one %s reads out; the card announced is %s)",
				next.Fingerprint(), st.Agency, st.Agency, st.Agency, next.Fingerprint())
		}
		*notes = append(*notes, msg)
		return tx.Audit("peer key revoke", fmt.Sprintf("%s revoked %s, announced %s (pending); revoked with it: %s", st.Agency, old.Fingerprint(), next.Fingerprint(), strings.Join(gone, ", ")))
	}
	return nil
}
