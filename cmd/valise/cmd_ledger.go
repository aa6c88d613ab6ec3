package main

import (
	"fmt"
	"sort"

	"github.com/spf13/pflag"
)

type noOptions struct{}

func (noOptions) AddFlags(*pflag.FlagSet) {}

func init() {
	register(&command{name: "log", short: "the ledger of every bundle sent, received and refused", maxArgs: 0,
		example: "  valise log", run: func(e *env, args []string) error {
			entries, err := e.office.Store.Ledger()
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.stdout, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(e.stdout, "no bundles sent or received yet")
			}
			for _, l := range entries {
				arrow := "to  "
				if l.Direction != "sent" {
					arrow = "from"
				}
				fmt.Fprintf(e.stdout, "%s  %-8s %s %-10s seq %-4d %6d records  %s  %s\n", l.At, l.Direction, arrow, l.Peer, l.Sequence, l.Records, l.Bundle, l.Result)
			}
			return nil
		}})
}

type peerStatus struct {
	Peer         string   `json:"peer"`
	Status       string   `json:"status"`
	LastSent     uint64   `json:"last_sent"`
	LastReceived uint64   `json:"last_received"`
	Missing      []uint64 `json:"missing"`
}

func init() {
	register(&command{name: "status", short: "per peer: last sequence sent and received, missing bundles", maxArgs: 0,
		example: "  valise status", run: func(e *env, args []string) error {
			st := e.office.Store
			peers, err := st.Peers()
			if err != nil {
				return err
			}
			entries, err := st.Ledger()
			if err != nil {
				return err
			}
			n, err := st.Count()
			if err != nil {
				return err
			}
			var out []peerStatus
			for _, p := range peers {
				ps := peerStatus{Peer: p.Agency, Status: p.Status, Missing: []uint64{}}
				got := map[uint64]bool{}
				for _, l := range entries {
					if l.Peer != p.Agency {
						continue
					}
					switch l.Direction {
					case "sent":
						ps.LastSent = max(ps.LastSent, l.Sequence)
					case "received":
						ps.LastReceived = max(ps.LastReceived, l.Sequence)
						got[l.Sequence] = true
					}
				}
				for s := uint64(1); s < ps.LastReceived; s++ {
					if !got[s] {
						ps.Missing = append(ps.Missing, s)
					}
				}
				sort.Slice(ps.Missing, func(i, j int) bool { return ps.Missing[i] < ps.Missing[j] })
				out = append(out, ps)
			}
			if e.json {
				return printJSON(e.stdout, map[string]any{"agency": e.office.Agency(), "records": n, "peers": out})
			}
			fmt.Fprintf(e.stdout, "office %s: %d records (fingerprint %s)\n", e.office.Agency(), n, e.office.Card.Fingerprint())
			for _, p := range out {
				fmt.Fprintf(e.stdout, "  %-12s %-8s sent up to %d, received up to %d", p.Peer, p.Status, p.LastSent, p.LastReceived)
				if len(p.Missing) > 0 {
					fmt.Fprintf(e.stdout, ", MISSING %v", p.Missing)
				}
				fmt.Fprintln(e.stdout)
			}
			return nil
		}})
}

func init() {
	register(&command{name: "audit", short: "verify the tamper-evident audit log", maxArgs: 0,
		example: "  valise audit", run: func(e *env, args []string) error {
			entries, broken, err := e.office.Store.CheckAudit()
			if err != nil {
				return err
			}
			if e.json {
				printJSON(e.stdout, map[string]any{"entries": len(entries), "first_broken": broken, "ok": broken == 0})
			} else {
				for _, a := range entries {
					fmt.Fprintf(e.stdout, "%5d  %s  %-15s %s\n", a.N, a.At, a.Action, a.Detail)
				}
			}
			if broken != 0 {
				return fmt.Errorf("audit log broken at entry %d: it was changed or removed after it was written", broken)
			}
			if !e.json {
				fmt.Fprintf(e.stdout, "audit log intact: %d entries, hash chain verified\n", len(entries))
			}
			return nil
		}})
}
