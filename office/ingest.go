package office

import (
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"valise/formats"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// IngestReport tells what ingesting record files did.
type IngestReport struct {
	Added, Updated, Unchanged, Deleted int
	Problems                           []*formats.Problem
	Skipped                            int // invalid records left out with --skip-invalid
}

// IngestFile is one parsed input file.
type IngestFile struct {
	File string
	*formats.Result
}

// IngestDefaults is the handling given to records whose input carries
// none.
var IngestDefaults = schema.Handling{TLP: "amber"}

// Ingest adds or updates this office's records from parsed files. With
// skipInvalid false, any problem means nothing is ingested; with it, the
// valid records are ingested and the problems reported. A file that is a
// complete edition of a published list tombstones the records of that list
// it no longer holds.
func (o *Office) Ingest(files []IngestFile, skipInvalid bool) (*IngestReport, error) {
	rep := &IngestReport{}
	ids := map[string]string{}
	for _, res := range files {
		rep.Problems = append(rep.Problems, res.Problems...)
		for _, r := range res.Records {
			if prev, ok := ids[r.ID]; ok {
				rep.Problems = append(rep.Problems, &formats.Problem{File: res.File, ID: r.ID,
					Rule: fmt.Sprintf("duplicate id: also in %s", prev)})
				continue
			}
			ids[r.ID] = res.File
		}
	}
	if len(rep.Problems) > 0 && !skipInvalid {
		return rep, fmt.Errorf("%d problems; nothing ingested (use --skip-invalid to ingest the valid records): %w", len(rep.Problems), schema.ErrInvalid)
	}
	rep.Skipped = len(rep.Problems)
	self := o.Agency()
	at := o.Now().UTC().Format(time.RFC3339)
	err := o.Store.Update(func(tx *store.Tx) error {
		for _, res := range files {
			c := store.Change{Action: "ingest", Agency: self, Source: res.Source}
			live := map[string]bool{}
			for _, in := range res.Records {
				if ids[in.ID] != res.File {
					continue // a duplicate, reported above
				}
				live[in.ID] = true
				held, err := tx.Get(in.ID)
				if err != nil {
					return err
				}
				if held != nil && held.Schema != in.Schema {
					return fmt.Errorf("%s: record %s is a %s here; changing it to a %s is not allowed: %w", res.File, in.ID, held.Schema, in.Schema, schema.ErrInvalid)
				}
				in = in.Clone()
				if held != nil && handlingEqual(in.Handling, IngestDefaults) {
					in.Handling = held.Clone().Handling // the file says nothing of handling: keep what is held
				}
				if held != nil {
					in.Evaluation = pickEvaluation(in.Evaluation, held.Evaluation)
				}
				if err := checkNarrowing(held, in, self); err != nil {
					return fmt.Errorf("%s: %w", res.File, err)
				}
				next := merge.Edit(held, in, self, at)
				switch {
				case next == nil:
					rep.Unchanged++
					continue
				case held == nil || held.Deleted:
					rep.Added++
				default:
					rep.Updated++
				}
				if err := put(tx, held, next, c, at); err != nil {
					return err
				}
			}
			var gone []string
			gone = append(gone, res.Deletes...)
			// A list edition with invalid entries is not complete: those
			// entries are missing from it, so nothing is removed by absence.
			if res.Source != "" && len(res.Problems) == 0 {
				hashes, err := tx.SourceHashes(res.Source)
				if err != nil {
					return err
				}
				for id := range hashes {
					if !live[id] {
						gone = append(gone, id)
					}
				}
			}
			sort.Strings(gone)
			for _, id := range gone {
				held, err := tx.Get(id)
				if err != nil {
					return err
				}
				if held == nil || held.Deleted {
					continue
				}
				t := held.Clone()
				t.Deleted = true
				if err := put(tx, held, merge.Edit(held, t, self, at), c, at); err != nil {
					return err
				}
				rep.Deleted++
			}
		}
		return tx.Audit("ingest", fmt.Sprintf("%d files: %d added, %d updated, %d unchanged, %d deleted, %d invalid skipped",
			len(files), rep.Added, rep.Updated, rep.Unchanged, rep.Deleted, rep.Skipped))
	})
	return rep, err
}

func handlingEqual(a, b schema.Handling) bool {
	x := &schema.Record{Handling: a}
	y := &schema.Record{Handling: b}
	return string(x.AppendCanonical(nil)) == string(y.AppendCanonical(nil))
}

func pickEvaluation(in, held *schema.Evaluation) *schema.Evaluation {
	if in == nil {
		return held
	}
	return in
}

// ContentHash returns the hex content hash of r.
func ContentHash(r *schema.Record) string {
	h := r.ContentHash()
	return hex.EncodeToString(h[:])
}
