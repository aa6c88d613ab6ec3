package volume

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var seed = flag.Int64("seed", 0, "random seed (0: from the clock)")

func rng(t *testing.T) *rand.Rand {
	s := *seed
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (-seed to repeat)", s)
	return rand.New(rand.NewSource(s))
}

// split writes data as volumes into dir and returns their paths.
func split(t *testing.T, dir string, data []byte, volumeSize int64, parity int) ([]string, Plan) {
	t.Helper()
	plan, err := NewPlan(int64(len(data)), volumeSize, parity)
	if err != nil {
		t.Fatal(err)
	}
	n := plan.Data + plan.Parity
	bufs := make([]*bytes.Buffer, n)
	dst := make([]io.Writer, n)
	for j := range bufs {
		bufs[j] = new(bytes.Buffer)
		dst[j] = bufs[j]
	}
	hs, err := Write(bytes.NewReader(data), int64(len(data)), plan, dst)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for j, b := range bufs {
		if int64(b.Len()) != hs[j].FileSize() || int64(b.Len()) > volumeSize {
			t.Fatalf("volume %d: %d bytes, header says %d, limit %d", j, b.Len(), hs[j].FileSize(), volumeSize)
		}
		p := filepath.Join(dir, Name("b.valise", j, n))
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths, plan
}

// rebuild gathers paths as one set, scans it and reads the bundle back.
func rebuild(t *testing.T, paths []string) ([]byte, *Report, error) {
	t.Helper()
	sets, err := Gather(paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 {
		t.Fatalf("%d sets, want 1", len(sets))
	}
	s := sets[0]
	defer s.Close()
	rep := s.Scan()
	if err := rep.Check(); err != nil {
		return nil, rep, err
	}
	b, err := s.Reader()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(b)
	return data, s.Report(), err
}

func TestRoundTrip(t *testing.T) {
	r := rng(t)
	for _, c := range []struct {
		size       int
		volumeSize int64
		parity     int
	}{
		{1, 4 << 10, 0}, {1000, 4 << 10, 10}, {100 << 10, 40 << 10, 50}, {1 << 20, 300 << 10, 34}, {3 << 20, 1 << 20, 10}, {777777, 100 << 10, 100},
	} {
		t.Run(fmt.Sprintf("%d-in-%d-parity-%d", c.size, c.volumeSize, c.parity), func(t *testing.T) {
			data := make([]byte, c.size)
			r.Read(data)
			paths, plan := split(t, t.TempDir(), data, c.volumeSize, c.parity)
			if c.parity > 0 && plan.Parity < 1 {
				t.Fatalf("parity %d%%: no parity volume", c.parity)
			}
			// Volumes in any order.
			r.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
			got, rep, err := rebuild(t, paths)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("rebuilt %d bytes (%v), want %d equal bytes", len(got), err, len(data))
			}
			if len(rep.Missing) != 0 || rep.DamagedBlocks != 0 || rep.RebuiltBlocks != 0 {
				t.Fatalf("sound set reported as %+v", rep)
			}
		})
	}
}

// TestAcceptance: three volumes, one of them parity: the bundle is
// rebuilt with any one volume missing, and with a few hundred corrupted
// bytes in one; with two missing, the error names them.
func TestAcceptance(t *testing.T) {
	r := rng(t)
	data := make([]byte, 700<<10)
	r.Read(data)
	dir := t.TempDir()
	paths, plan := split(t, dir, data, 400<<10, 50)
	if plan.Data != 2 || plan.Parity != 1 {
		t.Fatalf("plan %+v, want 2 data and 1 parity volumes", plan)
	}
	for miss := range paths {
		rest := append(append([]string{}, paths[:miss]...), paths[miss+1:]...)
		got, rep, err := rebuild(t, rest)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("volume %d missing: %v", miss, err)
		}
		if len(rep.Missing) != 1 || rep.Missing[0] != paths[miss] {
			t.Errorf("volume %d missing: report says missing %v", miss, rep.Missing)
		}
		// Blocks of the missing data volume that hold bundle bytes (the
		// last volume ends in padding, which no read touches).
		shard := int64(plan.Blocks * plan.BlockSize)
		want := min(int64(plan.Blocks), (int64(len(data))-int64(miss)*shard+int64(plan.BlockSize)-1)/int64(plan.BlockSize))
		if miss < plan.Data && rep.RebuiltBlocks != want {
			t.Errorf("data volume %d missing: %d blocks rebuilt, want %d", miss, rep.RebuiltBlocks, want)
		}
	}
	for target := range paths {
		dir := t.TempDir()
		var cp []string
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			q := filepath.Join(dir, filepath.Base(p))
			os.WriteFile(q, b, 0o600)
			cp = append(cp, q)
		}
		b, _ := os.ReadFile(cp[target])
		// 300 bytes in the blocks (not the header or hashes).
		at := HeaderSize + r.Intn(plan.Blocks*plan.BlockSize-300)
		for i := at; i < at+300; i++ {
			b[i] ^= byte(1 + r.Intn(255))
		}
		os.WriteFile(cp[target], b, 0o600)
		got, rep, err := rebuild(t, cp)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("300 bytes corrupted in volume %d at %d: %v", target, at, err)
		}
		if rep.DamagedBlocks < 1 || rep.DamagedBlocks > 2 || len(rep.Damaged[cp[target]]) != rep.DamagedBlocks {
			t.Errorf("corruption in volume %d: report %+v", target, rep)
		}
		want := int64(0) // damaged blocks that hold bundle bytes, not padding
		for _, i := range rep.Damaged[cp[target]] {
			if target < plan.Data && int64(target)*int64(plan.Blocks*plan.BlockSize)+int64(i*plan.BlockSize) < int64(len(data)) {
				want++
			}
		}
		if rep.RebuiltBlocks != want {
			t.Errorf("corruption in volume %d: %d blocks rebuilt, want %d", target, rep.RebuiltBlocks, want)
		}
		if !strings.Contains(rep.String(), "damaged blocks") {
			t.Errorf("report line %q does not say what was damaged", rep.String())
		}
	}
	_, rep, err := rebuild(t, paths[2:])
	if !errors.Is(err, ErrInsufficient) || rep.Repairable {
		t.Fatalf("two of three missing: %v", err)
	}
	for _, p := range paths[:2] {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name missing %s", err, p)
		}
	}
}

// TestParallelReads: the bundle reader reads at offsets on several
// goroutines, some blocks rebuilt.
func TestParallelReads(t *testing.T) {
	r := rng(t)
	data := make([]byte, 2<<20)
	r.Read(data)
	paths, _ := split(t, t.TempDir(), data, 600<<10, 25)
	sets, err := Gather(paths[1:])
	if err != nil {
		t.Fatal(err)
	}
	s := sets[0]
	defer s.Close()
	b, err := s.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < 50; i++ {
				off := r.Int63n(int64(len(data)))
				p := make([]byte, r.Intn(200<<10))
				n, err := b.ReadAt(p, off)
				if !bytes.Equal(p[:n], data[off:off+int64(n)]) || (err != nil && off+int64(len(p)) <= int64(len(data))) {
					t.Errorf("ReadAt(%d, %d): %d bytes, %v", len(p), off, n, err)
					return
				}
			}
		}(r.Int63())
	}
	wg.Wait()
}

func TestPlanBounds(t *testing.T) {
	for _, c := range []struct{ length, volume int64 }{
		{1, 1 << 10}, {5 << 30, 1<<32 - 1}, {1 << 40, 8 << 30}, {1 << 20, 8 << 10}, {100 << 30, 4 << 30}, {700 << 30, 1<<32 - 1},
	} {
		p, err := NewPlan(c.length, c.volume, 10)
		if err != nil {
			t.Errorf("plan %d in %d: %v", c.length, c.volume, err)
			continue
		}
		h := Header{BundleLength: c.length, BlockSize: p.BlockSize, Blocks: p.Blocks, Data: p.Data, Parity: p.Parity}
		if h.FileSize() > c.volume {
			t.Errorf("plan %d in %d: volume of %d bytes", c.length, c.volume, h.FileSize())
		}
		if _, err := ParseHeader(h.Marshal()); err != nil {
			t.Errorf("plan %d in %d: %+v: %v", c.length, c.volume, p, err)
		}
	}
	if _, err := NewPlan(1<<20, 4<<10, 10); err == nil {
		t.Error("1 MiB in 4 KiB volumes: no error (more than 256 volumes)")
	}
}

func TestHeaderRefusals(t *testing.T) {
	good := Header{BundleLength: 1000, BlockSize: 512, Blocks: 1, Data: 2, Parity: 1, Index: 2}
	if _, err := ParseHeader(good.Marshal()); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(b []byte){
		"magic":        func(b []byte) { b[0] = 'V' },
		"version":      func(b []byte) { b[15] = '2' },
		"reserved":     func(b []byte) { b[63] = 1 },
		"length 0":     func(b []byte) { clear(b[32:40]) },
		"length 2^63":  func(b []byte) { b[32] = 0x80 },
		"block 1000":   func(b []byte) { b[40], b[41], b[42], b[43] = 0, 0, 3, 0xe8 },
		"block 128MiB": func(b []byte) { b[40] = 8 },
		"no blocks":    func(b []byte) { clear(b[44:48]) },
		"2^32 blocks":  func(b []byte) { b[44], b[45], b[46], b[47] = 0xff, 0xff, 0xff, 0xff },
		"no data":      func(b []byte) { b[48], b[49] = 0, 0 },
		"257 shards":   func(b []byte) { b[50], b[51] = 1, 0 },
		"index":        func(b []byte) { b[53] = 3 },
		"padding only": func(b []byte) { b[45] = 0; b[46], b[47] = 0, 4 }, // 4 blocks: data volume 2 empty
	} {
		b := good.Marshal()
		mut(b)
		if _, err := ParseHeader(b); !errors.Is(err, ErrHeader) {
			t.Errorf("%s: %v, want ErrHeader", name, err)
		}
	}
}

func FuzzHeader(f *testing.F) {
	good := Header{BundleLength: 1000, BlockSize: 512, Blocks: 1, Data: 2, Parity: 1, Index: 2}
	f.Add(good.Marshal())
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(h.Marshal(), b) {
			t.Fatalf("parse then marshal changed the bytes")
		}
		if h.FileSize() > 1<<62 || h.Blocks*h.Shards() > MaxBlocks {
			t.Fatalf("bounds not enforced: %+v", h)
		}
	})
}

// FuzzVolume opens arbitrary files as volumes: no panic, no allocation
// beyond the bounds.
func FuzzVolume(f *testing.F) {
	data := make([]byte, 1500)
	plan, _ := NewPlan(int64(len(data)), 1200, 50)
	var bufs []*bytes.Buffer
	var dst []io.Writer
	for j := 0; j < plan.Data+plan.Parity; j++ {
		bufs = append(bufs, new(bytes.Buffer))
		dst = append(dst, bufs[j])
	}
	WriteSet(bytes.NewReader(data), int64(len(data)), plan, [16]byte{1}, dst)
	for _, b := range bufs {
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "v")
		os.WriteFile(p, b, 0o600)
		sets, _ := Gather([]string{p})
		for _, s := range sets {
			s.Scan()
			if rd, err := s.Reader(); err == nil {
				io.Copy(io.Discard, rd)
			}
			s.Close()
		}
	})
}
