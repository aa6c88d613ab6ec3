package exchange

import (
	"bytes"
	"fmt"
	"slices"

	"valise/handling"
	"valise/schema"
	"valise/store"
)

// fromStore packs the records changed since the earliest recipient's last
// bundle that some recipient does not hold as they are, in key order,
// sending the canonical bytes the store holds.
func (p *packer) fromStore() error {
	var batch []packItem
	var looked, total int64 = 0, -1
	if p.opts.Progress != nil {
		n, err := p.o.Store.CountChanged(p.since)
		if err != nil {
			return err
		}
		total = n
		p.opts.Progress(0, total)
	}
	err := p.o.Store.ChangedFor(p.since, p.to, func(c *store.Changed) error {
		if p.opts.Progress != nil {
			if looked++; looked%1024 == 0 {
				p.opts.Progress(looked, total)
			}
		}
		r, body := c.Record, c.Body
		vh := schema.VersionHash(body)
		it := packItem{rec: r, need: make([]bool, len(p.to)), held: make([]string, len(p.to))}
		look := false
		for i := range p.to {
			if p.waiting != nil && c.Changed <= p.sinces[i] {
				// Counting for each recipient alone: its pack would not
				// look at a record unchanged since its last bundle.
				continue
			}
			held := c.Held[i]
			it.need[i] = p.opts.All || held.VHash != vh || p.unacked[i][held.Bundle]
			it.held[i] = held.VHash
			// A recipient that holds this very version needs nothing,
			// unless it may no longer hold it (a record it names was
			// narrowed: route tells).
			look = look || it.need[i] || it.held[i] != ""
		}
		if !look {
			return nil
		}
		if len(body) > schema.MaxRecordBytes {
			return fmt.Errorf("store record %s: canonical form larger than %d bytes", r.Key(), schema.MaxRecordBytes)
		}
		it.line = bytes.Clone(body)
		it.claims = bytes.Clone(c.Claims)
		batch = append(batch, it)
		if len(batch) == store.BatchSize {
			// The records named, looked up on the scan's connection.
			err := p.routeBatch(batch, c.Envelopes)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if p.opts.Progress != nil {
		p.opts.Progress(looked, total)
	}
	return p.routeBatch(batch, p.o.Store.Envelopes)
}

// packItem is one record on its way to the bundles.
type packItem struct {
	rec    *schema.Record
	line   []byte
	claims []byte
	need   []bool
	held   []string // the version hash each recipient holds, "" for none
}

// routeBatch routes a batch of records, after looking up the records
// they name (envelopes, a Store.Envelopes): a record goes only where
// everything it names may go.
func (p *packer) routeBatch(batch []packItem, envelopes func(ids []string) (map[string][]*schema.Record, error)) error {
	var ids []string
	for _, it := range batch {
		ids = append(ids, handling.Refs(it.rec)...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	named, err := envelopes(ids)
	if err != nil {
		return err
	}
	for _, it := range batch {
		refused, refHold := p.refsRefused(it.rec, func(id string) []*schema.Record { return named[id] })
		may := p.may(it.rec, refused)
		if why := p.unprovable(it.rec, it.claims); why != "" {
			for i := range may {
				may[i] = why
			}
		}
		if p.waiting != nil {
			vs, _, _ := p.decide(it.rec, it.line, may, it.need, it.held, refHold)
			p.tally(vs)
			continue
		}
		if err := p.route(it.rec, it.rec.Key(), it.line, it.claims, may, it.need, it.held, refHold); err != nil {
			return err
		}
	}
	return nil
}

// refsRefused returns, per recipient, why a record that r names keeps r
// from it ("" where nothing does), and whether the recipient may hold
// every record r names; both nil when nothing keeps r from anyone. held
// returns the records held under an id.
func (p *packer) refsRefused(r *schema.Record, held func(id string) []*schema.Record) (refused []string, hold []bool) {
	for _, id := range handling.Refs(r) {
		for _, t := range handling.Resolve(r, held(id)) {
			for i, a := range p.to {
				if ok, _ := handling.Releasable(t, p.o.Agency(), a, p.today); !ok {
					if refused == nil {
						refused, hold = make([]string, len(p.to)), make([]bool, len(p.to))
						for j := range hold {
							hold[j] = true
						}
					}
					refused[i] = handling.WithheldReference
					if !mayHold(t, a) {
						hold[i] = false
					}
				}
			}
		}
	}
	return refused, hold
}

// unprovable says why r cannot travel with proofs of its authors ("" when
// it can): an author other than this office of whose changes the store
// holds no claim (a version received before bundles carried proofs).
func (p *packer) unprovable(r *schema.Record, claims []byte) string {
	named := map[string]bool{p.o.Agency(): true}
	if len(claims) > 0 {
		cs, err := p.parseClaims(claims)
		if err != nil {
			return "its stored proofs are damaged"
		}
		for _, c := range cs {
			named[c.Author] = true
		}
	}
	for a := range r.Version.Vector {
		if !named[a] {
			return WithheldNoProof
		}
	}
	return ""
}
