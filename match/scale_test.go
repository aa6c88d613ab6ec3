package match_test

import (
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"valise/bench/recgen"
	"valise/match"
	"valise/schema"
)

// TestScale runs the matcher on generated records (package recgen: many
// people share a handful of names, the hard case for blocking) and
// reports time and peak heap. VALISE_MATCH_SCALE sets the count (1000000
// for the figure in docs/DUPLICATES.md); the default is small enough for
// every test run, and checks that time and memory grow no faster than
// near-linearly from a tenth of it.
func TestScale(t *testing.T) {
	n := 20000
	if s := os.Getenv("VALISE_MATCH_SCALE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		n = v
	}
	small := scaleRun(t, n/10)
	big := scaleRun(t, n)
	t.Logf("%d records: %v, peak heap %d MiB, stats %+v", n/10, small.took, small.peak>>20, small.stats)
	t.Logf("%d records: %v, peak heap %d MiB, stats %+v", n, big.took, big.peak>>20, big.stats)
	// Near-linear: the pairs compared grow no faster than 20 times for
	// 10 times the records (blocks are capped; a quadratic search would
	// compare 100 times as many).
	if r := float64(big.stats.Compared) / float64(max(1, small.stats.Compared)); r > 20 {
		t.Errorf("compared %d pairs for %d records and %d for %d: %.1f times, want at most 20", big.stats.Compared, n,
			small.stats.Compared, n/10, r)
	}
}

type scaleResult struct {
	took  time.Duration
	peak  uint64
	stats match.Stats
}

func scaleRun(t *testing.T, n int) scaleResult {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	ix, err := match.NewIndex()
	if err != nil {
		t.Fatal(err)
	}
	g := recgen.New(1, recgen.Options{Count: n})
	for i := 0; i < n; i++ {
		r, err := schema.Decode(g.Next())
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	pairs := 0
	st, err := ix.Pairs(match.PairOptions{}, func(*match.Pair) error { pairs++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	close(stop)
	<-done
	return scaleResult{took, peak.Load(), st}
}
