package spill

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"testing"
	"time"
)

var seedFlag = flag.Int64("seed", 0, "random seed (0: from the clock)")

func seed(t *testing.T) int64 {
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (-seed %d to repeat)", s, s)
	return s
}

// TestSorterOrder adds random entries with many equal keys to sorters
// with limits small and large, and checks that every entry comes back, in
// key order, equal keys in the order added, whether it spilled or not; and
// that Close leaves no file.
func TestSorterOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(seed(t)))
	for _, limit := range []int{60, 5000, 1 << 30} {
		dir := t.TempDir()
		s := New(dir, limit)
		type kv struct {
			k string
			v int
		}
		var want []kv
		for i := range 3000 {
			k := fmt.Sprintf("k%03d", rng.Intn(500))
			want = append(want, kv{k, i})
			if err := s.Add([]byte(k), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		slices.SortStableFunc(want, func(a, b kv) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
		if spilled := s.Spilled(); spilled != (limit < 1<<30) {
			t.Errorf("limit %d: spilled %v", limit, spilled)
		}
		var got []kv
		err := s.Each(func(k, v []byte) error {
			var n int
			fmt.Sscan(string(v), &n)
			got = append(got, kv{string(k), n})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %d entries back, want %d, or out of order", limit, len(got), len(want))
		}
		if err := s.Each(func(k, v []byte) error { return nil }); err != ErrClosed {
			t.Errorf("second Each: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("limit %d: %d files left after Close", limit, len(left))
		}
	}
}

// TestSorterDamagedRun refuses a run file cut short.
func TestSorterDamagedRun(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, 10)
	defer s.Close()
	for i := range 10 {
		s.Add([]byte(fmt.Sprint(i)), bytes.Repeat([]byte("v"), 20))
	}
	if !s.Spilled() {
		t.Fatal("nothing spilled")
	}
	if err := os.Truncate(s.runs[0], 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Each(func(k, v []byte) error { return nil }); err == nil {
		t.Error("a damaged run read without error")
	}
}
