package main

import (
	"errors"
	"fmt"

	"valise/schema"
	"valise/store"
)

func init() {
	register(&command{name: "disclosures", args: "ID", short: "the disclosure register of a record: every bundle it left in, to whom, and every bundle it came in",
		minArgs: 1, maxArgs: 1,
		example: "  valise disclosures kz-p-001\n  valise disclosures kz-p-001@KZ-NCB --json",
		run: func(e *env, args []string) error {
			k, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			entries, err := e.office.Store.Disclosures(k)
			if err != nil {
				return err
			}
			// The record may be gone from the store (purged by a recall)
			// or never held (packed with --input): the register answers
			// all the same.
			var rec *schema.Record
			if r, err := e.office.Store.Get(k); err == nil {
				rec = r
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if e.json {
				list := []map[string]any{}
				for _, d := range entries {
					list = append(list, map[string]any{"direction": d.Direction, "peer": d.Peer, "bundle": d.Bundle,
						"sequence": d.Sequence, "at": d.At, "file": d.File, "version": d.Version, "version_hash": d.VHash,
						"outcome": d.Outcome})
				}
				doc := map[string]any{"id": k.ID, "origin": k.Origin, "held": rec != nil, "disclosures": list}
				return printDoc(e, doc)
			}
			what := ""
			if rec != nil {
				what = " " + rec.Schema
				if n := rec.Properties["name"]; len(n) > 0 {
					what += fmt.Sprintf(" %q", schema.Printable(n[0]))
				}
			}
			fmt.Fprintf(e.stdout, "%s%s\n", schema.Printable(k.String()), what)
			if len(entries) == 0 {
				fmt.Fprintln(e.stdout, "  never sent to another office, nor received from one")
				return nil
			}
			sent, received := 0, 0
			for _, d := range entries {
				switch d.Direction {
				case "sent":
					sent++
					what := "sent to  "
					if d.Outcome == "recall" {
						what = "recall to"
					}
					fmt.Fprintf(e.stdout, "  %s  %s %-10s bundle %s sequence %d, version %s\n", d.At, what, d.Peer, d.Bundle, d.Sequence, d.Version)
				default:
					received++
					fmt.Fprintf(e.stdout, "  %s  came from %-10s bundle %s sequence %d, version %s: %s\n", d.At, d.Peer, d.Bundle, d.Sequence, d.Version, d.Outcome)
				}
			}
			fmt.Fprintf(e.stdout, "  %s to other offices; received in %s\n", plural(sent, "disclosure"), plural(received, "bundle"))
			return nil
		}})
}
