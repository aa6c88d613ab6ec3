package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"valise/audit"
	"valise/exchange"
	"valise/office"
	"valise/schema"
	"valise/store"
)

func init() {
	register(&command{name: "log", short: "the ledger of every bundle sent, received and refused", maxArgs: 0,
		example: "  valise log", run: func(e *env, args []string) error {
			entries, err := e.office.Store.Ledger()
			if err != nil {
				return err
			}
			if e.json {
				out := []ledgerJSON{}
				for _, l := range entries {
					out = append(out, newLedgerJSON(l))
				}
				return printDoc(e, map[string]any{"entries": out})
			}
			if len(entries) == 0 {
				fmt.Fprintln(e.stdout, "no bundles sent or received yet")
			}
			for _, l := range entries {
				arrow := "to  "
				if l.Direction != "sent" {
					arrow = "from"
				}
				ack := ""
				if l.Direction == "sent" {
					ack = "  not acknowledged"
					if l.AckedAt != "" {
						ack = "  acknowledged " + l.AckedAt
					}
				}
				fmt.Fprintf(e.stdout, "%s  %-8s %s %-10s seq %-4d %6d records  %s  %s%s\n", l.At, l.Direction, arrow, l.Peer, l.Sequence, l.Records, l.Bundle, schema.Sanitize(l.Result), ack)
			}
			return nil
		}})
}

func init() {
	register(&command{name: "status", short: "per peer: sequences sent, acknowledged and received, missing bundles, what waits to be sent", maxArgs: 0,
		example: "  valise status", run: func(e *env, args []string) error {
			st, err := exchange.Status(e.office)
			if err != nil {
				return err
			}
			if e.json {
				return printDoc(e, statusJSON(e, st))
			}
			w := e.stdout
			fmt.Fprintf(w, "office %s: %d records (fingerprint %s)\n", st.Agency, st.Records, e.office.Card.Fingerprint())
			if st.Recalled > 0 {
				fmt.Fprintf(w, "  %d records recalled: their originators narrowed them out of this office's reach; only stubs are kept (valise show ID)\n", st.Recalled)
			}
			if len(st.Peers) == 0 {
				fmt.Fprintln(w, "no peers yet: valise peer add CARD --fingerprint FPR")
			}
			for _, p := range st.Peers {
				fmt.Fprintf(w, "  %-12s %-8s sent %d (acknowledged %d), received %d; %d records waiting to be sent",
					p.Peer, p.Status, p.LastSent, p.Acknowledged, p.LastReceived, p.Waiting)
				if p.Recalls > 0 {
					fmt.Fprintf(w, ", %d recalls", p.Recalls)
				}
				if p.Withheld > 0 {
					fmt.Fprintf(w, ", %d withheld by handling", p.Withheld)
				}
				fmt.Fprintln(w)
				switch p.Status {
				case store.Pending:
					fmt.Fprintf(w, "    card %s is pending: compare its fingerprint with %s by phone, then valise peer confirm %s --fingerprint FPR\n", p.Fingerprint, p.Peer, p.Peer)
				case store.Revoked:
					fmt.Fprintf(w, "    no trusted card: %s's bundles are refused and nothing is packed for it\n", p.Peer)
				}
				for _, g := range p.Missing {
					fmt.Fprintf(w, "    MISSING  %s\n", g)
				}
				for _, s := range p.Statements {
					fmt.Fprintf(w, "    key statement not yet acknowledged: %s\n", s)
				}
			}
			if len(st.Expired) > 0 {
				fmt.Fprintf(w, "%d records are past their retain_until and are no longer sent; review them (valise show ID, valise delete ID):\n", len(st.Expired))
				for i, id := range st.Expired {
					if i == 50 {
						fmt.Fprintf(w, "  … and %d more (valise status --json lists them all)\n", len(st.Expired)-50)
						break
					}
					fmt.Fprintf(w, "  %s\n", schema.Printable(id))
				}
			}
			return nil
		}})
}

type auditOptions struct {
	export, check string
	cards         []string
}

func (o *auditOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.export, "export", "", "write the audit log, signed by this office, to FILE")
	fs.StringVar(&o.check, "check", "", "auditor: verify an exported log FILE with the office's --card (no home needed)")
	fs.StringArrayVar(&o.cards, "card", nil, "the exporting office's card FILE (with --check)")
}

func init() {
	o := &auditOptions{}
	register(&command{name: "audit", args: "[--export FILE | --check FILE --card CARD]", short: "verify the tamper-evident audit log; export it signed; check an export",
		maxArgs: 0, noHome: true, opts: o,
		example: "  valise audit\n  valise audit --export kz-audit-2026-11.txt\n  valise audit --check kz-audit-2026-11.txt --card kz-ncb.card",
		run: func(e *env, args []string) error {
			if o.check != "" {
				if len(o.cards) != 1 {
					return usagef("--check needs the exporting office's card: --card FILE")
				}
				card, err := office.ReadCard(o.cards[0])
				if err != nil {
					return err
				}
				data, err := office.ReadLimited(o.check, audit.MaxAuditExport)
				if err != nil {
					return err
				}
				entries, err := audit.CheckAuditExport(data, card)
				if err != nil {
					return err
				}
				if e.json {
					return printDoc(e, map[string]any{"agency": card.Agency, "fingerprint": card.Fingerprint(), "entries": len(entries), "first_broken": 0, "ok": true})
				}
				fmt.Fprintf(e.stdout, "%s: audit log of %s, %d entries, signed by key %s, hash chain intact\n", o.check, card.Agency, len(entries), card.Fingerprint())
				return nil
			}
			off, err := office.OpenWith(e.home, passphrase)
			if err != nil {
				return err
			}
			defer off.Close()
			if o.export != "" {
				n, err := audit.ExportAudit(off, o.export)
				if err != nil {
					return err
				}
				if e.json {
					return printDoc(e, map[string]any{"agency": off.Agency(), "fingerprint": off.Card.Fingerprint(), "file": o.export, "entries": n})
				}
				fmt.Fprintf(e.stdout, "wrote %d audit entries to %s, signed by %s key %s\n", n, o.export, off.Agency(), off.Card.Fingerprint())
				return nil
			}
			entries, broken, err := off.Store.CheckAudit()
			if err != nil {
				return err
			}
			found, more, err := off.Store.CheckSeals()
			if err != nil {
				return err
			}
			var errs []error
			if broken != 0 {
				errs = append(errs, fmt.Errorf("%w at entry %d: it was changed, removed or reordered after it was written", audit.ErrAuditBroken, broken))
			}
			if len(found) > 0 {
				f := found[0]
				errs = append(errs, fmt.Errorf("%d protected rows fail their MAC, the first: %w", len(found)+more, &f))
			}
			bad := errors.Join(errs...)
			if e.json {
				list := []map[string]any{}
				for _, a := range entries {
					list = append(list, map[string]any{"n": a.N, "at": a.At, "action": a.Action, "detail": a.Detail, "hash": a.Hash})
				}
				rows := []map[string]string{}
				for _, f := range found {
					rows = append(rows, map[string]string{"table": f.Table, "row": f.Row, "problem": f.Why})
				}
				return printResult(e, map[string]any{"agency": off.Agency(), "fingerprint": off.Card.Fingerprint(),
					"entries": len(entries), "log": list, "first_broken": broken, "tampered_rows": rows, "tampered_more": more,
					"ok": bad == nil}, bad)
			}
			for _, a := range entries {
				fmt.Fprintf(e.stdout, "%5d  %s  %-15s %s\n", a.N, a.At, a.Action, schema.Printable(a.Detail))
			}
			for _, f := range found {
				row := f.Row
				if row == "" {
					row = "(the table as a whole)"
				}
				fmt.Fprintf(e.stdout, "TAMPERED  table %s, row %s: %s\n", f.Table, row, f.Why)
			}
			if more > 0 {
				fmt.Fprintf(e.stdout, "TAMPERED  … and %d more rows\n", more)
			}
			if bad != nil {
				return bad
			}
			if !e.json {
				fmt.Fprintf(e.stdout, "audit log intact: %d entries, hash chain verified\n", len(entries))
				fmt.Fprintf(e.stdout, "trust tables and records sealed: every MAC verified\n")
			}
			return nil
		}})
}

// statusJSON is status --json: the office, and per peer its channel.
func statusJSON(e *env, st *exchange.StatusReport) map[string]any {
	peers := []map[string]any{}
	for _, p := range st.Peers {
		peers = append(peers, map[string]any{"peer": p.Peer, "status": p.Status, "fingerprint": p.Fingerprint,
			"last_sent": p.LastSent, "acknowledged": p.Acknowledged, "last_received": p.LastReceived,
			"missing": gapsJSON(p.Missing), "waiting": p.Waiting, "recalls_waiting": p.Recalls, "withheld": p.Withheld,
			"statements_pending": nonNil(p.Statements)})
	}
	return map[string]any{"agency": st.Agency, "fingerprint": e.office.Card.Fingerprint(), "records": st.Records,
		"recalled": st.Recalled, "peers": peers, "expired": nonNil(st.Expired)}
}
