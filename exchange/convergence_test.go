package exchange

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"valise/change"
	"valise/formats"
	"valise/ingest"
	"valise/internal/officetest"
	"valise/internal/testenv"
	"valise/merge"
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

// convergenceCounts is what the random histories of TestStoreConvergence
// did: a history that converges on nothing proves nothing, so the test
// asserts that, taken together, they did all of it.
type convergenceCounts struct {
	histories                  int
	edits, deletes, resolves   int // changes made (a new version)
	refused                    int // changes refused as expected (not held, a tombstone, no conflict)
	conflicts, deleteModify    int // conflicts opened by imports
	withConflict, withOpen     int // histories with a conflict opened, with one still open at the end
	withTombstone, withResolve int // histories that end with a tombstone, that resolved a conflict
	imported, replays          int
	settled                    int // records resolved by one office and closed everywhere
}

// openKeys returns the keys of the records o holds in conflict.
func openKeys(t *testing.T, o *office.Office) []schema.Key {
	t.Helper()
	cs, err := o.Store.Conflicts(schema.Key{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []schema.Key
	for _, c := range cs {
		if !slices.Contains(keys, c.Key) {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

// TestStoreConvergence runs random histories through the real store and
// bundle files: three offices (half the time from records they all hold)
// ingest, edit, delete, resolve, pack and import in random order with
// duplicates; once every office has imported every bundle, their exports
// and open conflicts are byte-identical. Then offices resolve what is
// open, some the same conflict at once, and after another exchange they
// agree again, and a record that one office alone resolved has no
// conflict open anywhere.
//
// Every change either makes a version or is refused for the reason the
// store gives (the record is not held, is a tombstone, has no open
// conflict), and across the histories there must be edits, deletes,
// conflicts and delete/modify conflicts opened by imports, resolutions
// and conflicts still open at the end (checkConvergenceCounts): a merge
// that never conflicted would converge too. History h uses seed -seed+h.
func TestStoreConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	n := *storeHistories
	base := testenv.Seed(t)
	var c convergenceCounts
	for h := 0; h < n; h++ {
		c.histories++
		seed := base + int64(h)
		rng := rand.New(rand.NewSource(seed))
		where := fmt.Sprintf("history %d (replay it alone with -seed=%d -store-histories=1)", h, seed)
		dir := fastDir(t)
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
				t.Fatalf("%s: pack: %v", where, err)
			}
			bundles = append(bundles, bundleFile{p, to})
		}
		conflicted, resolved := false, false
		imp := func(b bundleFile) {
			rep, err := Import(offices[b.to], b.path, false)
			switch {
			case errors.Is(err, ErrReplay):
				c.replays++
			case err != nil:
				t.Fatalf("%s: import %s: %v", where, b.path, err)
			default:
				c.imported++
				c.conflicts += rep.Counts[merge.Conflict]
				c.deleteModify += rep.Counts[merge.DeleteModify]
				conflicted = conflicted || rep.Counts[merge.Conflict]+rep.Counts[merge.DeleteModify] > 0
			}
		}
		// try runs one change of o to k and checks its outcome against
		// what o holds: refused exactly when the record is not held, is a
		// tombstone being edited, or has no open conflict to resolve.
		try := func(o *office.Office, k schema.Key, what string, do func() (*change.EditReport, error)) {
			held, err := o.Store.Get(k)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: %s: %v", where, k, err)
			}
			var refuse string
			switch {
			case held == nil:
				refuse = "not held"
			case what == "edit" && held.Deleted:
				refuse = "a tombstone"
			case what == "resolve" && len(merge.Conflicts(held)) == 0:
				refuse = "no open conflict"
			}
			rep, err := do()
			switch {
			case refuse != "" && err == nil:
				t.Fatalf("%s: %s %s at %s succeeded; want it refused (%s)", where, what, k, o.Agency(), refuse)
			case refuse == "not held" && !errors.Is(err, store.ErrNotFound):
				t.Fatalf("%s: %s %s at %s: %v; want not found", where, what, k, o.Agency(), err)
			case refuse != "":
				c.refused++
			case err != nil:
				t.Fatalf("%s: %s %s at %s: %v", where, what, k, o.Agency(), err)
			case rep.Unchanged:
			case what == "edit":
				c.edits++
			case what == "delete":
				c.deletes++
			case what == "resolve":
				c.resolves++
				resolved = true
			}
		}
		ingestOne := func(o *office.Office, id string) {
			r := &schema.Record{ID: id, Schema: "Person", Properties: map[string][]string{"name": {fmt.Sprintf("Name %d", seq)}},
				Handling: schema.Handling{TLP: "amber"}, Origin: o.Agency()}
			line := r.AppendCanonical(nil)
			open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(line)), nil }
			if _, err := ingest.Ingest(o, []ingest.IngestFile{{Name: "x", Open: open, Format: formats.JSONL}}, false); err != nil {
				t.Fatalf("%s: ingest: %v", where, err)
			}
		}
		// Half the histories start from records every office holds, so
		// that their changes meet; the others from nothing. The records
		// are the first office's.
		if rng.Intn(2) == 0 {
			from := 0
			for _, id := range ids {
				seq++
				ingestOne(offices[from], id)
			}
			for to := range offices {
				if to != from {
					pack(from, to)
					imp(bundles[len(bundles)-1])
				}
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
				ingestOne(o, id)
			case 1:
				v := fmt.Sprintf("19%02d", 50+rng.Intn(3))
				try(o, k, "edit", func() (*change.EditReport, error) {
					return change.Edit(o, k, []change.Op{{Kind: "set", Prop: "birthDate", Value: v}})
				})
			case 2:
				try(o, k, "edit", func() (*change.EditReport, error) {
					return change.Edit(o, k, []change.Op{{Kind: "add", Prop: "alias", Value: fmt.Sprintf("Alias %d", seq)}})
				})
			case 3:
				if rng.Intn(2) == 0 {
					try(o, k, "delete", func() (*change.EditReport, error) { return change.Delete(o, k) })
				} else {
					// Mostly a record o holds in conflict, if any: a
					// random id rarely has one.
					if open := openKeys(t, o); len(open) > 0 && rng.Intn(4) > 0 {
						k = open[rng.Intn(len(open))]
					}
					try(o, k, "resolve", func() (*change.EditReport, error) {
						return change.Resolve(o, k, change.Resolution{Mode: "ours"})
					})
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
		// exchange brings every bundle from the from'th on to its office,
		// in random order, then packs and imports once more, and returns
		// the export every office must have.
		exchange := func(from int) string {
			for i := range offices {
				for j := range offices {
					if i != j {
						pack(i, j)
					}
				}
			}
			for _, k := range rng.Perm(len(bundles) - from) {
				imp(bundles[from+k])
			}
			// Records that arrived in the last round may have been joined
			// into new versions; one more round brings those to everyone.
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
					t.Fatalf("%s: %s and %s diverge:\n%s\n---\n%s", where, offices[0].Agency(), o.Agency(), want, got)
				}
			}
			return want
		}
		want := exchange(0) // with every bundle of the history: duplicates
		// Then the offices settle what is open, some of them the same
		// conflict at once. A record that one office alone resolved
		// fast-forwards everywhere: no conflict of it is left open.
		if open := openKeys(t, offices[0]); len(open) > 0 {
			resolvers := map[schema.Key]int{}
			for _, o := range offices {
				for _, k := range open {
					if rng.Intn(2) == 0 {
						try(o, k, "resolve", func() (*change.EditReport, error) {
							return change.Resolve(o, k, change.Resolution{Mode: "ours"})
						})
						resolvers[k]++
					}
				}
			}
			want = exchange(len(bundles))
			still := openKeys(t, offices[0])
			for k, n := range resolvers {
				if n == 1 && slices.Contains(still, k) {
					t.Fatalf("%s: %s was resolved by one office, yet a conflict of it is open after the exchange:\n%s", where, k, want)
				}
				if n == 1 {
					c.settled++
				}
			}
		}
		if conflicted {
			c.withConflict++
		}
		if resolved {
			c.withResolve++
		}
		if strings.Contains(want, "\nconflict ") || strings.HasPrefix(want, "conflict ") {
			c.withOpen++
		}
		if strings.Contains(want, `"deleted":true`) {
			c.withTombstone++
		}
		for _, o := range offices {
			o.Close()
		}
		os.RemoveAll(dir) // tmpfs is memory: one history's files at a time
	}
	t.Logf("%d histories: %d edits, %d deletes, %d resolutions, %d changes refused as expected; %d imports (%d replays refused) opened %d conflicts and %d delete/modify conflicts; %d histories had a conflict, %d resolved one, %d ended with one open, %d with a tombstone; %d records resolved by one office closed everywhere",
		c.histories, c.edits, c.deletes, c.resolves, c.refused, c.imported, c.replays, c.conflicts, c.deleteModify, c.withConflict, c.withResolve, c.withOpen, c.withTombstone, c.settled)
	checkConvergenceCounts(t, c)
}

// checkConvergenceCounts fails t unless the histories, taken together,
// did what the property is about. The minimums are a fraction of what
// the default 200 histories do (about a third of the lowest of several
// seeds: 425 edits, 85 deletes, 129 resolutions, 225 conflicts, 174
// delete/modify, 65 histories with a conflict, 34 ending with one open,
// 47 with a tombstone, 35 records settled), scaled to the
// number of histories run; below 50 histories (a replay of one) they are
// not checked.
func checkConvergenceCounts(t *testing.T, c convergenceCounts) {
	t.Helper()
	if c.histories < 50 {
		t.Logf("%d histories: too few to require minimum counts", c.histories)
		return
	}
	per := func(n200 int) int { return n200 * c.histories / 200 }
	for _, m := range []struct {
		what      string
		got, want int
	}{
		{"edits", c.edits, per(140)},
		{"deletes", c.deletes, per(28)},
		{"resolutions", c.resolves, per(43)},
		{"conflicts opened by imports", c.conflicts, per(75)},
		{"delete/modify conflicts", c.deleteModify, per(58)},
		{"histories with a conflict", c.withConflict, per(22)},
		{"histories ending with an open conflict", c.withOpen, per(11)},
		{"histories ending with a tombstone", c.withTombstone, per(15)},
		{"records resolved by one office and closed everywhere", c.settled, per(12)},
	} {
		if m.got < m.want {
			t.Errorf("%d histories made %d %s, want at least %d: the histories do not exercise what convergence is about", c.histories, m.got, m.what, m.want)
		}
	}
}

// fastDir returns a fresh directory, on tmpfs when the machine has one:
// each import and pack commits with fsync, which on a disk makes the
// histories take minutes.
func fastDir(t *testing.T) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "valise-convergence-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
