package change

import (
	"fmt"
	"strings"
	"time"

	"valise/handling"
	"valise/match"
	"valise/merge"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// Judge records an analyst's verdict on a pair of records held: verdict
// match.Same, match.NotSame, or "" to withdraw the judgement. The verdict
// is a record (an UnknownLink, see match.NewJudgement) written as a new
// version by this office, so it travels to peers with the next pack like
// any change; being a link it goes only where both records may go, and
// its handling is the stricter of theirs.
//
// A judgement is one record per pair: an office that holds another's
// judgement of the pair changes that record (and a disagreement made at
// the same time is an ordinary conflict); else it creates its own.
func Judge(o *office.Office, ka, kb schema.Key, verdict, note string) (*EditReport, error) {
	a, b := ka.ID, kb.ID
	id := match.JudgementID(a, b)
	jk := schema.Key{ID: id, Origin: o.Agency()}
	if found, err := o.Store.Find(id); err != nil {
		return nil, err
	} else if len(found) > 0 {
		jk = found[0]
		for _, f := range found {
			if f.Origin == o.Agency() {
				jk = f
			}
		}
	}
	if verdict == "" {
		return Delete(o, jk)
	}
	rec, err := match.NewJudgement(a, b, verdict, note)
	if err != nil {
		return nil, err
	}
	rep := &EditReport{}
	at := o.Now().UTC().Format(time.RFC3339)
	err = o.Store.Update(func(tx *store.Tx) error {
		stored, err := tx.HeldMany([]schema.Key{ka, kb, jk})
		if err != nil {
			return err
		}
		ends := make([]*schema.Record, 2)
		for i, e := range []string{ka.String(), kb.String()} {
			if stored[i] != nil {
				if ends[i], err = stored[i].Record(); err != nil {
					return err
				}
			}
			if ends[i] == nil || ends[i].Deleted {
				return fmt.Errorf("record %s: %w", schema.Printable(e), store.ErrNotFound)
			}
		}
		var held *schema.Record
		if stored[2] != nil {
			if held, err = stored[2].Record(); err != nil {
				return err
			}
		}
		rec.Origin = o.Agency()
		rec.Handling = merge.Restrict(ends[0].Handling, ends[1].Handling, o.Agency())
		if held != nil {
			// A new version of the pair's judgement: same record, same
			// origin, its handling unless the ends are stricter.
			rec.Origin = held.Origin
			rec.Handling = merge.Restrict(held.Handling, rec.Handling, held.Origin)
		}
		if err := handling.CheckNarrowing(held, rec, o.Agency()); err != nil {
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
		w := []store.Write{{Rec: next, Held: stored[2]}}
		if err := tx.Apply(store.Change{Action: "judge", Agency: o.Agency()}, w, nil); err != nil {
			return err
		}
		return tx.Audit("judge", fmt.Sprintf("records %s and %s: %s (record %s)", a, b, verdict, id))
	})
	return rep, err
}
