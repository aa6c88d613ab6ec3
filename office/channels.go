package office

import (
	"fmt"

	"valise/bundle"
	"valise/crypto"
	"valise/schema"
	"valise/store"
)

// Gap is a bundle of a peer's that has not arrived while later ones have.
type Gap struct {
	Peer     string
	Sequence uint64
	Since    string // when a later bundle first arrived, that is since when it is known missing
}

func (g Gap) String() string {
	return fmt.Sprintf("bundle %d from %s missing since %s", g.Sequence, g.Peer, g.Since)
}

// Missing returns the gaps in the sequence of bundles received from peer.
func (o *Office) Missing(peer string) ([]Gap, error) {
	entries, err := o.Store.Ledger()
	if err != nil {
		return nil, err
	}
	got := map[uint64]string{}
	var last uint64
	for _, e := range entries {
		if e.Peer == peer && e.Direction == "received" {
			if _, ok := got[e.Sequence]; !ok {
				got[e.Sequence] = e.At
			}
			last = max(last, e.Sequence)
		}
	}
	var out []Gap
	for s := uint64(1); s < last; s++ {
		if _, ok := got[s]; ok {
			continue
		}
		since := ""
		for _, e := range entries {
			if e.Peer == peer && e.Direction == "received" && e.Sequence > s {
				since = e.At[:10]
				break
			}
		}
		out = append(out, Gap{Peer: peer, Sequence: s, Since: since})
	}
	return out, nil
}

// applyStatements verifies the keyring statements a bundle carries and
// applies them inside the import transaction. It reports whether the
// bundle only carries the revocation of the key that signed it, whose
// records are then not imported.
func (o *Office) applyStatements(tx *store.Tx, kr *crypto.Keyring, h *bundle.Header, raw [][]byte, rep *ImportReport) (bool, error) {
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
			rep.KeyNotes = append(rep.KeyNotes, fmt.Sprintf("statement about unknown key %s of %s ignored", st.Key, st.Agency))
			continue
		}
		next, err := st.Verify(old)
		if err != nil {
			return false, &bundle.Error{Check: "statement", Kind: bundle.ErrAuth, Msg: err.Error(), Err: err}
		}
		if err := o.applyStatement(tx, kr, st, old, next, rep); err != nil {
			return false, err
		}
		if st.Kind == crypto.Revoke && st.Key == h.SenderKey {
			carrier = true
		}
	}
	return carrier, nil
}

func (o *Office) applyStatement(tx *store.Tx, kr *crypto.Keyring, st *crypto.Statement, old, next *crypto.Card, rep *ImportReport) error {
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
			rep.KeyNotes = append(rep.KeyNotes, fmt.Sprintf("%s rotated its key: %s now trusted, %s retiring", st.Agency, next.Fingerprint(), old.Fingerprint()))
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
			rep.KeyNotes = append(rep.KeyNotes, fmt.Sprintf("%s REVOKED its key %s; its new card %s is pending: compare the fingerprint with %s by phone, then valise peer add CARD --fingerprint %s",
				st.Agency, old.Fingerprint(), next.Fingerprint(), st.Agency, next.Fingerprint()))
			return tx.Audit("peer key revoke", fmt.Sprintf("%s revoked %s, announced %s (pending)", st.Agency, old.Fingerprint(), next.Fingerprint()))
		}
	}
	return nil
}

// ConfirmPeer trusts the pending card of agency (announced by a
// revocation) once its fingerprint, compared out of band, is fpr.
func (o *Office) ConfirmPeer(agency, fpr string) (*crypto.Card, error) {
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
			return o.AddPeer(p.Card, fpr)
		}
	}
	return nil, fmt.Errorf("no pending card for %s: %w", agency, store.ErrNotFound)
}

// PeerStatus is the state of the channels with one peer.
type PeerStatus struct {
	Peer         string   `json:"peer"`
	Status       string   `json:"status"`
	Fingerprint  string   `json:"fingerprint"`
	LastSent     uint64   `json:"last_sent"`
	Acknowledged uint64   `json:"acknowledged"`
	LastReceived uint64   `json:"last_received"`
	Missing      []Gap    `json:"missing"`
	Waiting      int      `json:"waiting"`            // records the next pack would send
	Withheld     int      `json:"withheld"`           // records its handling keeps from this peer
	Statements   []string `json:"statements_pending"` // own key statements not yet acknowledged
}

// Status is an office's view of its channels.
type Status struct {
	Agency  string       `json:"agency"`
	Records int64        `json:"records"`
	Peers   []PeerStatus `json:"peers"`
	// Expired lists records past their retain_until: no longer sent,
	// awaiting review (delete or extend).
	Expired []string `json:"expired"`
}

// Status reports, per peer, the last sequence sent, acknowledged and
// received, the gaps, and what waits to be sent.
func (o *Office) Status() (*Status, error) {
	st := &Status{Agency: o.Agency(), Expired: []string{}}
	var err error
	if st.Records, err = o.Store.Count(); err != nil {
		return nil, err
	}
	peers, err := o.Store.Peers()
	if err != nil {
		return nil, err
	}
	entries, err := o.Store.Ledger()
	if err != nil {
		return nil, err
	}
	today := o.Now()
	seen := map[string]bool{}
	for _, p := range peers {
		if seen[p.Agency] || (p.Status != "trusted" && p.Status != "revoked") {
			continue
		}
		seen[p.Agency] = true
		ps := PeerStatus{Peer: p.Agency, Status: p.Status, Fingerprint: p.Fingerprint, Missing: []Gap{}, Statements: []string{}}
		for _, e := range entries {
			if e.Peer != p.Agency {
				continue
			}
			switch e.Direction {
			case "sent":
				ps.LastSent = max(ps.LastSent, e.Sequence)
				if e.AckedAt != "" {
					ps.Acknowledged = max(ps.Acknowledged, e.Sequence)
				}
			case "received":
				ps.LastReceived = max(ps.LastReceived, e.Sequence)
			}
		}
		if ps.Missing, err = o.Missing(p.Agency); err != nil {
			return nil, err
		}
		if ps.Missing == nil {
			ps.Missing = []Gap{}
		}
		hw, err := o.Store.SentHighWater(p.Agency)
		if err != nil {
			return nil, err
		}
		var line []byte
		err = o.Store.ChangedFor(hw, []string{p.Agency}, func(r *schema.Record, _ []byte, held []store.Held) error {
			line = r.AppendCanonical(line[:0])
			if held[0].VHash == versionHash(line) {
				return nil
			}
			if ok, _ := Releasable(r, o.Agency(), p.Agency, today); ok {
				ps.Waiting++
			} else {
				ps.Withheld++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		pend, err := o.Store.PendingStatements(p.Agency)
		if err != nil {
			return nil, err
		}
		for _, s := range pend {
			ps.Statements = append(ps.Statements, s.Kind+" "+s.Key)
		}
		st.Peers = append(st.Peers, ps)
	}
	day := today.UTC().Format("2006-01-02")
	err = o.Store.Each(store.Filter{}, func(r *schema.Record) error {
		if r.Handling.RetainUntil != "" && r.Handling.RetainUntil < day {
			st.Expired = append(st.Expired, r.ID)
		}
		return nil
	})
	return st, err
}
