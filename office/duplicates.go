package office

import (
	"fmt"

	"valise/match"
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
	if err := o.Store.Each(store.Filter{}, ix.Add); err != nil {
		return match.Stats{}, fmt.Errorf("reading records for the duplicate search: %w", err)
	}
	return ix.Pairs(match.PairOptions{MinScore: opts.MinScore, WithRejected: opts.WithRejected}, fn)
}
