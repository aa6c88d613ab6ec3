package exchange

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"testing"

	"valise/change"
	"valise/formats"
	"valise/ingest"
	"valise/internal/officetest"
	"valise/office"
	"valise/schema"
	"valise/store"
)

var storeHistories = flag.Int("store-histories", 200, "random histories for TestStoreConvergence")

func exportAll(t testing.TB, o *office.Office) string {
	t.Helper()
	var b bytes.Buffer
	w, err := formats.NewWriter(&b, formats.JSONL)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Store.Each(store.Filter{IncludeDeleted: true}, w.Write); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cs, err := o.Store.Conflicts(schema.Key{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "conflict %s %s %v\n", c.ID, c.Property, c.Candidates)
	}
	return b.String()
}

// TestStoreConvergence runs random histories through the real store and
// bundle files: three offices edit, delete, resolve, pack and import in
// random order with duplicates; once every office has imported every
// bundle, their exports and open conflicts are byte-identical.
func TestStoreConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	n := *storeHistories
	for h := 0; h < n; h++ {
		rng := rand.New(rand.NewSource(int64(h)))
		dir := t.TempDir()
		offices := officetest.Offices(t, dir, "CARICC", "KG-NCB", "KZ-NCB")
		ids := []string{"p-1", "p-2", "p-3"}
		type bundleFile struct {
			path string
			to   int
		}
		var bundles []bundleFile
		seq := 0
		pack := func(from, to int) {
			seq++
			p := filepath.Join(dir, fmt.Sprintf("b%d.valise", seq))
			if _, err := Pack(offices[from], PackOptions{To: []string{offices[to].Agency()}, Output: p}); err != nil {
				t.Fatalf("history %d: pack: %v", h, err)
			}
			bundles = append(bundles, bundleFile{p, to})
		}
		imp := func(b bundleFile) {
			if _, err := Import(offices[b.to], b.path, false); err != nil && !errors.Is(err, ErrReplay) {
				t.Fatalf("history %d: import %s: %v", h, b.path, err)
			}
		}
		for step := 0; step < 12; step++ {
			i := rng.Intn(len(offices))
			o := offices[i]
			id := ids[rng.Intn(len(ids))]
			// The records are the first office's: the others change them
			// once they hold them (a record's origin is part of its key).
			k := schema.Key{ID: id, Origin: offices[0].Agency()}
			seq++
			op := rng.Intn(6)
			if op == 0 && i != 0 {
				op = 1
			}
			switch op {
			case 0:
				r := &schema.Record{ID: id, Schema: "Person", Properties: map[string][]string{"name": {fmt.Sprintf("Name %d", seq)}},
					Handling: schema.Handling{TLP: "amber"}, Origin: o.Agency()}
				line := r.AppendCanonical(nil)
				open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(line)), nil }
				if _, err := ingest.Ingest(o, []ingest.IngestFile{{Name: "x", Open: open, Format: formats.JSONL}}, false); err != nil {
					t.Fatal(err)
				}
			case 1:
				change.Edit(o, k, []change.Op{{Kind: "set", Prop: "birthDate", Value: fmt.Sprintf("19%02d", 50+rng.Intn(3))}})
			case 2:
				change.Edit(o, k, []change.Op{{Kind: "add", Prop: "alias", Value: fmt.Sprintf("Alias %d", seq)}})
			case 3:
				if rng.Intn(2) == 0 {
					change.Delete(o, k)
				} else {
					change.Resolve(o, k, change.Resolution{Mode: "ours"})
				}
			case 4:
				j := (i + 1 + rng.Intn(len(offices)-1)) % len(offices)
				pack(i, j)
			case 5:
				if len(bundles) > 0 {
					imp(bundles[rng.Intn(len(bundles))])
				}
			}
		}
		for i := range offices {
			for j := range offices {
				if i != j {
					pack(i, j)
				}
			}
		}
		for _, k := range rng.Perm(len(bundles)) {
			imp(bundles[k])
		}
		// Records that arrived in the last round may have been joined into
		// new versions; one more round brings those to everyone.
		last := len(bundles)
		for i := range offices {
			for j := range offices {
				if i != j {
					pack(i, j)
				}
			}
		}
		for _, k := range rng.Perm(len(bundles) - last) {
			imp(bundles[last+k])
		}
		want := exportAll(t, offices[0])
		for _, o := range offices[1:] {
			if got := exportAll(t, o); got != want {
				t.Fatalf("history %d: %s and %s diverge:\n%s\n---\n%s", h, offices[0].Agency(), o.Agency(), want, got)
			}
		}
		for _, o := range offices {
			o.Close()
		}
	}
}
