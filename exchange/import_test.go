package exchange

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"valise/change"
	"valise/internal/officetest"
	"valise/merge"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// seed writes records to o's store as its own new versions (what an
// ingest does, without the files).
func seed(t *testing.T, o *office.Office, recs []*schema.Record) {
	t.Helper()
	const at = "2026-11-28T09:00:00Z"
	err := o.Store.Update(func(tx *store.Tx) error {
		for _, r := range recs {
			stored, err := tx.HeldMany([]schema.Key{r.Key()})
			if err != nil {
				return err
			}
			var held *schema.Record
			if stored[0] != nil {
				if held, err = stored[0].Record(); err != nil {
					return err
				}
			}
			if next := merge.Edit(held, r, o.Agency(), at); next != nil {
				w := []store.Write{{Rec: next, Held: stored[0]}}
				if err := tx.Apply(store.Change{Action: "ingest", Agency: o.Agency()}, w, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportEndpoints checks the links reported as pointing to records not
// held, over several batches, with ends named before and after the link
// in id order, tombstones, records held from an earlier bundle, and the
// waiting ends kept in memory or spilled to the store.
func TestImportEndpoints(t *testing.T) {
	for _, pending := range []int{maxPending, 3} {
		t.Run(fmt.Sprint(pending), func(t *testing.T) {
			defer func(n int) { maxPending = n }(maxPending)
			maxPending = pending
			dir := t.TempDir()
			offs := officetest.Offices(t, dir, "KZ-NCB", "CARICC")
			kz, ca := offs[0], offs[1]
			person := func(id string) *schema.Record {
				return &schema.Record{ID: id, Schema: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"},
					Properties: map[string][]string{"name": {"N " + id}}}
			}
			link := func(id, member, org string) *schema.Record {
				return &schema.Record{ID: id, Schema: "Membership", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"},
					Properties: map[string][]string{"member": {member}, "organization": {org}}}
			}
			// CARICC already holds h-1 and h-2 (h-2 deleted).
			seed(t, kz, []*schema.Record{person("h-1"), person("h-2")})
			if _, err := change.Delete(kz, schema.Key{ID: "h-2", Origin: "KZ-NCB"}); err != nil {
				t.Fatal(err)
			}
			first := filepath.Join(dir, "1.valise")
			if _, err := Pack(kz, PackOptions{To: []string{"CARICC"}, Output: first}); err != nil {
				t.Fatal(err)
			}
			if _, err := Import(ca, first, false); err != nil {
				t.Fatal(err)
			}
			var recs []*schema.Record
			for i := range 2500 {
				recs = append(recs, person(fmt.Sprintf("p-%05d", i)))
			}
			for i := range 1500 {
				// a-: ends ahead; z-: ends behind; m-: both, some unknown.
				recs = append(recs,
					link(fmt.Sprintf("a-%05d", i), fmt.Sprintf("p-%05d", 2*i), fmt.Sprintf("p-%05d", 7*i)),
					link(fmt.Sprintf("z-%05d", i), fmt.Sprintf("p-%05d", i), fmt.Sprintf("h-%d", 1+i%3)),
					link(fmt.Sprintf("m-%05d", i), fmt.Sprintf("b-%05d", i), fmt.Sprintf("q-%05d", i%50)))
			}
			recs = append(recs, link("m-x", "p-00003", "p-00003"), link("m-y", "m-x", "z-00001"))
			seed(t, kz, recs)
			for _, id := range []string{"p-00004", "p-00010", "m-00007"} {
				if _, err := change.Delete(kz, schema.Key{ID: id, Origin: "KZ-NCB"}); err != nil {
					t.Fatal(err)
				}
			}
			second := filepath.Join(dir, "2.valise")
			if _, err := Pack(kz, PackOptions{To: []string{"CARICC"}, Output: second}); err != nil {
				t.Fatal(err)
			}
			rep, err := Import(ca, second, false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counts[merge.Inserted] != len(recs) {
				t.Fatalf("counts %v", rep.Counts)
			}

			// The unknown ends, found the slow way: every live link in id
			// order, its source then its target.
			var want []string
			err = ca.Store.Each(store.Filter{Type: "Membership"}, func(r *schema.Record) error {
				for _, p := range []string{"member", "organization"} {
					for _, v := range r.Properties[p] {
						if h, err := ca.Store.Get(schema.Key{ID: v, Origin: "KZ-NCB"}); err != nil || h.Deleted {
							want = append(want, r.ID+" -> "+v)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 3000 {
				t.Fatalf("only %d unknown ends: the test lost its point", len(want))
			}
			if !slices.Equal(rep.UnknownEndpoints, want) || rep.MoreUnknown != 0 {
				t.Errorf("%d unknown ends (%d more), want %d", len(rep.UnknownEndpoints), rep.MoreUnknown, len(want))
				for i := range min(len(want), len(rep.UnknownEndpoints)) {
					if want[i] != rep.UnknownEndpoints[i] {
						t.Fatalf("first difference at %d: %s, want %s", i, rep.UnknownEndpoints[i], want[i])
					}
				}
			}
		})
	}
}

// TestEndpointsListed checks that a report lists the first MaxListed
// unknown ends, in link order, and counts the rest.
func TestEndpointsListed(t *testing.T) {
	var e endpoints
	n := 3*MaxListed + 17
	for i := n; i > 0; i-- {
		e.found(store.Endpoint{Seq: int64(i), Link: fmt.Sprint(i), Target: "x"})
	}
	got, more := e.report()
	if len(got) != MaxListed || more != n-MaxListed {
		t.Fatalf("%d listed, %d more", len(got), more)
	}
	for i, s := range got {
		if s != fmt.Sprint(i+1)+" -> x" {
			t.Fatalf("entry %d: %s", i, s)
		}
	}
}
