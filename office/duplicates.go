package office

import (
	"fmt"

	"valise/match"
	"valise/schema"
	"valise/store"
)

// DuplicateOptions select the likely duplicates Duplicates reports.
type DuplicateOptions struct {
	MinScore     float64 // 0 for match.DefaultMinScore
	WithRejected bool    // also the pairs judged "not same"
}

// Duplicates finds likely duplicates among the live records held (see
// package match) and calls fn for each pair, best first.
func (o *Office) Duplicates(opts DuplicateOptions, fn func(*match.Pair) error) (match.Stats, error) {
	ix, err := match.NewIndex()
	if err != nil {
		return match.Stats{}, err
	}
	// Records of two origins under one id (both offices ingested the
	// same list) are two records: the matcher knows them as ID@ORIGIN,
	// so that they are compared with each other too. Each gives them in
	// key order, one after the other.
	var prev *schema.Record
	prevShared := false
	add := func(r *schema.Record) error {
		if prev != nil && prev.ID == r.ID {
			if !prevShared {
				p := *prev
				p.ID = prev.Key().String()
				if err := ix.Add(&p); err != nil {
					return err
				}
			}
			c := *r
			c.ID = r.Key().String()
			prev, prevShared = r, true
			return ix.Add(&c)
		}
		if prev != nil && !prevShared {
			if err := ix.Add(prev); err != nil {
				return err
			}
		}
		prev, prevShared = r, false
		return nil
	}
	if err := o.Store.Each(store.Filter{}, add); err != nil {
		return match.Stats{}, fmt.Errorf("reading records for the duplicate search: %w", err)
	}
	if prev != nil && !prevShared {
		if err := ix.Add(prev); err != nil {
			return match.Stats{}, err
		}
	}
	return ix.Pairs(match.PairOptions{MinScore: opts.MinScore, WithRejected: opts.WithRejected}, fn)
}
