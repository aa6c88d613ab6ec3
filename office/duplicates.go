package office

import (
	"fmt"
	"strings"
	"time"

	"valise/match"
	"valise/merge"
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
	if err := o.Store.Each(store.Filter{}, ix.Add); err != nil {
		return match.Stats{}, fmt.Errorf("reading records for the duplicate search: %w", err)
	}
	return ix.Pairs(match.PairOptions{MinScore: opts.MinScore, WithRejected: opts.WithRejected}, fn)
}

// MaxImportDuplicateCheck is how many changed records an import looks for
// duplicates of; past it, the import report says to run valise duplicates.
// The search reads the whole store, which a bulk import should not pay for.
const MaxImportDuplicateCheck = 50000

// incomingDuplicates counts the likely duplicates that involve the
// records an import changed.
func (o *Office) incomingDuplicates(ids map[string]bool) (int, error) {
	ix, err := match.NewIndex()
	if err != nil {
		return 0, err
	}
	err = o.Store.Each(store.Filter{}, func(r *schema.Record) error {
		if ids[r.ID] {
			return ix.AddIncoming(r)
		}
		return ix.Add(r)
	})
	if err != nil {
		return 0, fmt.Errorf("reading records for the duplicate search: %w", err)
	}
	st, err := ix.Pairs(match.PairOptions{OnlyIncoming: true}, func(*match.Pair) error { return nil })
	return st.Pairs, err
}

// Judge records an analyst's verdict on a pair of records held: verdict
// match.Same, match.NotSame, or "" to withdraw the judgement. The verdict
// is a record (an UnknownLink, see match.NewJudgement) written as a new
// version by this office, so it travels to peers with the next pack like
// any change; it goes only where both records may go, and its handling is
// the stricter of theirs.
func (o *Office) Judge(a, b, verdict, note string) (*EditReport, error) {
	id := match.JudgementID(a, b)
	if verdict == "" {
		return o.Delete(id)
	}
	rec, err := match.NewJudgement(a, b, verdict, note)
	if err != nil {
		return nil, err
	}
	rep := &EditReport{}
	at := o.Now().UTC().Format(time.RFC3339)
	err = o.Store.Update(func(tx *store.Tx) error {
		ends := make([]*schema.Record, 2)
		for i, e := range []string{a, b} {
			r, err := tx.Get(e)
			if err != nil {
				return err
			}
			if r == nil || r.Deleted {
				return fmt.Errorf("record %s: %w", schema.Printable(e), store.ErrNotFound)
			}
			ends[i] = r
		}
		held, err := tx.Get(id)
		if err != nil {
			return err
		}
		rec.Origin = o.Agency()
		rec.Handling = merge.Restrict(ends[0].Handling, ends[1].Handling, o.Agency())
		if held != nil {
			// A new version of the pair's judgement: same record, same
			// origin, the handling it has unless the ends are stricter.
			rec.Origin = held.Origin
			rec.Handling = merge.Restrict(held.Handling, rec.Handling, held.Origin)
		}
		if err := checkNarrowing(held, rec, o.Agency()); err != nil {
			return err
		}
		if probs := rec.Validate(); len(probs) > 0 {
			msgs := make([]string, len(probs))
			for i, p := range probs {
				msgs[i] = p.Error()
			}
			return fmt.Errorf("%s; nothing changed: %w", strings.Join(msgs, "; "), schema.ErrInvalid)
		}
		next := merge.Edit(held, rec, o.Agency(), at)
		if next == nil {
			rep.Unchanged, rep.Record = true, held
			return nil
		}
		rep.Record = next
		if err := put(tx, held, next, store.Change{Action: "judge", Agency: o.Agency()}, at); err != nil {
			return err
		}
		return tx.Audit("judge", fmt.Sprintf("records %s and %s: %s (record %s)", a, b, verdict, id))
	})
	return rep, err
}
