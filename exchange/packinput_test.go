package exchange

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"valise/formats"
	"valise/internal/officetest"
	"valise/internal/testenv"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// TestPackInputRuns packs files of records in random order with sort
// buffers small enough to spill many runs, and checks that the receiver
// gets every record once, that nothing of the sort is left behind, and
// that a duplicate id in different runs is refused.
func TestPackInputRuns(t *testing.T) {
	dir := t.TempDir()
	offs := officetest.Offices(t, dir, "KZ-NCB", "CARICC")
	kz, ca := offs[0], offs[1]
	const n = 2000
	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	var lines []string
	for _, i := range rng.Perm(n) {
		lines = append(lines, fmt.Sprintf(`{"id":"p-%05d","schema":"Person","origin":"KZ-NCB","properties":{"name":["Person %d"]}}`, i, i))
	}
	for _, buf := range []int{0, 1 << 10, 64 << 10} {
		out := filepath.Join(dir, fmt.Sprintf("in-%d.valise", buf))
		rep, err := Pack(kz, PackOptions{To: []string{"CARICC"}, Output: out, Input: &PackInput{Name: "recs.jsonl",
			R: strings.NewReader(strings.Join(lines, "\n")), SortBuffer: buf}})
		if err != nil {
			t.Fatalf("buffer %d: %v", buf, err)
		}
		if len(rep.Bundles) != 1 || rep.Bundles[0].Records != n {
			t.Fatalf("buffer %d: packed %d bundles, %d records, want 1 of %d", buf, len(rep.Bundles), rep.Bundles[0].Records, n)
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".valise-pack-*"))
		if len(left) > 0 {
			t.Fatalf("buffer %d: left behind %v", buf, left)
		}
	}
	if _, err := Import(ca, filepath.Join(dir, "in-1024.valise"), false); err != nil {
		t.Fatal(err)
	}
	seen := 0
	if err := ca.Store.Each(store.Filter{}, func(r *schema.Record) error {
		seen++
		if r.Version.Vector["KZ-NCB"] != 1 || r.Version.Props[merge.KeyDeleted] != "KZ-NCB:1" {
			t.Errorf("record %s: version %+v, want a first version by KZ-NCB", r.ID, r.Version)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Fatalf("CARICC holds %d records, want %d", seen, n)
	}

	// A duplicate far apart in the file lands in different runs.
	dup := append(append([]string{}, lines...), lines[3])
	var problems []*formats.Problem
	out := filepath.Join(dir, "dup.valise")
	_, err := Pack(kz, PackOptions{To: []string{"CARICC"}, Output: out, Input: &PackInput{Name: "dup.jsonl",
		R: strings.NewReader(strings.Join(dup, "\n")), SortBuffer: 1 << 10, Problem: func(p *formats.Problem) { problems = append(problems, p) }}})
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("appears twice in the input (lines 4 and %d)", n+1)) {
		t.Fatalf("duplicate: got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("duplicate: %s exists", out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".valise-pack-*"))
	if len(left) > 0 {
		t.Fatalf("duplicate: left behind %v", left)
	}

	// Every invalid item is reported, and nothing is packed.
	bad := append(append([]string{}, lines[:10]...), `{"id":"x-1","schema":"Person","properties":{"birthDate":["1975-13-01"]}}`, `{"id":"x-2"`)
	problems = nil
	_, err = Pack(kz, PackOptions{To: []string{"CARICC"}, Output: out, Input: &PackInput{Name: "bad.jsonl", Format: formats.JSONL,
		R: strings.NewReader(strings.Join(bad, "\n")), Problem: func(p *formats.Problem) { problems = append(problems, p) }}})
	if !errors.Is(err, schema.ErrInvalid) || len(problems) < 2 {
		t.Fatalf("invalid: got %v with problems %v", err, problems)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("invalid: %s exists", out)
	}
}
