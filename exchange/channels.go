package exchange

import (
	"fmt"
	"valise/office"

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
func Missing(o *office.Office, peer string) ([]Gap, error) {
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
	Recalls      int      `json:"recalls_waiting"`    // recall stubs the next pack would send: records it holds and may no longer
	Withheld     int      `json:"withheld"`           // records its handling keeps from this peer
	Statements   []string `json:"statements_pending"` // own key statements not yet acknowledged
}

// Status is an office's view of its channels.
type StatusReport struct {
	Agency   string       `json:"agency"`
	Records  int64        `json:"records"`
	Recalled int64        `json:"recalled"` // recall stubs held: records this office may no longer hold
	Peers    []PeerStatus `json:"peers"`
	// Expired lists records past their retain_until: no longer sent,
	// awaiting review (delete or extend).
	Expired []string `json:"expired"`
}

// agencyCards returns, per peer agency in order, the card that says where
// the office stands with it, in the keyring's words: its trusted card;
// else a pending one (announced by a revocation, waiting for the
// operator to confirm its fingerprint); else its last revoked one.
// Retiring and retired cards stand behind a trusted one.
func agencyCards(peers []store.Peer) []store.Peer {
	rank := map[string]int{store.Trusted: 3, store.Pending: 2, store.Revoked: 1}
	best := map[string]store.Peer{}
	var order []string
	for _, p := range peers {
		b, seen := best[p.Agency]
		if !seen {
			order = append(order, p.Agency)
		}
		if !seen || rank[p.Status] >= rank[b.Status] {
			best[p.Agency] = p
		}
	}
	var out []store.Peer
	for _, a := range order {
		if rank[best[a].Status] > 0 {
			out = append(out, best[a])
		}
	}
	return out
}

// Status reports, per peer, the last sequence sent, acknowledged and
// received, the gaps, and what waits to be sent.
func Status(o *office.Office) (*StatusReport, error) {
	st := &StatusReport{Agency: o.Agency(), Expired: []string{}}
	var err error
	if st.Records, err = o.Store.Count(); err != nil {
		return nil, err
	}
	if st.Recalled, err = o.Store.Recalled(); err != nil {
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
	cards := agencyCards(peers)
	var agencies []string
	for _, p := range cards {
		agencies = append(agencies, p.Agency)
	}
	// What the next pack for each would do: the pack's own rules, counted
	// in one pass for all.
	waiting, err := CountWaiting(o, agencies)
	if err != nil {
		return nil, err
	}
	for pi, p := range cards {
		ps := PeerStatus{Peer: p.Agency, Status: p.Status, Fingerprint: p.Fingerprint, Missing: []Gap{}, Statements: []string{}}
		lastWithheld := 0
		for _, e := range entries {
			if e.Peer != p.Agency {
				continue
			}
			switch e.Direction {
			case "sent":
				if e.Sequence > ps.LastSent {
					// What the last pack withheld stays withheld until the
					// record changes (then it is scanned again below).
					lastWithheld = int(e.Withheld)
				}
				ps.LastSent = max(ps.LastSent, e.Sequence)
				if e.AckedAt != "" {
					ps.Acknowledged = max(ps.Acknowledged, e.Sequence)
				}
			case "received":
				ps.LastReceived = max(ps.LastReceived, e.Sequence)
			}
		}
		if ps.Missing, err = Missing(o, p.Agency); err != nil {
			return nil, err
		}
		if ps.Missing == nil {
			ps.Missing = []Gap{}
		}
		w := waiting[pi]
		ps.Waiting, ps.Recalls, ps.Withheld = w.Records, w.Recalls, w.Withheld+lastWithheld
		pend, err := o.Store.PendingStatements(p.Agency)
		if err != nil {
			return nil, err
		}
		for _, s := range pend {
			ps.Statements = append(ps.Statements, s.Kind+" "+s.Key)
		}
		st.Peers = append(st.Peers, ps)
	}
	st.Expired, err = o.Store.Expired(o.Now().UTC().Format("2006-01-02"))
	return st, err
}
