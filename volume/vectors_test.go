package volume

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var generate = flag.Bool("generate", false, "write the vectors in testdata/volumes instead of checking them")

const (
	vectorDir    = "../testdata/volumes"
	vectorBundle = "../testdata/vectors/good-x25519.valise"
)

// vectorFiles are the published volume vectors: a set of 2 data volumes
// and 1 parity volume of good-x25519.valise (volume size 1200, parity
// 50%, set id 00 01 … 0f), and two damaged copies of its volumes.
func vectorFiles(t *testing.T) map[string][]byte {
	bundle, err := os.ReadFile(vectorBundle)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(int64(len(bundle)), 1200, 50)
	if err != nil {
		t.Fatal(err)
	}
	var set [16]byte
	for i := range set {
		set[i] = byte(i)
	}
	bufs := make([]bytes.Buffer, plan.Data+plan.Parity)
	dst := make([]io.Writer, len(bufs))
	for j := range bufs {
		dst[j] = &bufs[j]
	}
	if _, err := WriteSet(bytes.NewReader(bundle), int64(len(bundle)), plan, set, dst); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for j := range bufs {
		out[Name("good.valise", j, len(bufs))] = bufs[j].Bytes()
	}
	// 300 bytes flipped in block 0 of volume 2.
	dmg := bytes.Clone(bufs[1].Bytes())
	for i := HeaderSize + 100; i < HeaderSize+400; i++ {
		dmg[i] ^= 0xff
	}
	out["damaged-block.vol2of3.valvol"] = dmg
	// One byte of the block hashes changed: the check fails, the volume
	// is taken as missing.
	hdr := bytes.Clone(bufs[0].Bytes())
	hdr[HeaderSize+plan.Blocks*plan.BlockSize] ^= 1
	out["damaged-header.vol1of3.valvol"] = hdr
	return out
}

func TestVectors(t *testing.T) {
	files := vectorFiles(t)
	if *generate {
		os.MkdirAll(vectorDir, 0o755)
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(vectorDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the published vector differs from what the writer makes (%v); go test ./volume -run TestVectors -generate", name, err)
		}
	}
	bundle, _ := os.ReadFile(vectorBundle)
	p := func(n string) string { return filepath.Join(vectorDir, n) }
	good := []string{p("good.vol1of3.valvol"), p("good.vol2of3.valvol"), p("good.vol3of3.valvol")}
	for _, c := range []struct {
		name     string
		paths    []string
		missing  int
		damaged  int
		rebuilds bool
	}{
		{"all", good, 0, 0, true},
		{"without 1", good[1:], 1, 0, true},
		{"without 2", []string{good[0], good[2]}, 1, 0, true},
		{"without 3", good[:2], 1, 0, true},
		{"damaged block", []string{good[0], p("damaged-block.vol2of3.valvol"), good[2]}, 0, 1, true},
		{"damaged header", []string{p("damaged-header.vol1of3.valvol"), good[1], good[2]}, 1, 0, true},
		{"only 3", good[2:], 2, 0, false},
		{"damaged block, 3 missing", []string{good[0], p("damaged-block.vol2of3.valvol")}, 1, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, rep, err := rebuild(t, c.paths)
			if len(rep.Missing) != c.missing || rep.DamagedBlocks != c.damaged {
				t.Errorf("report %+v: want %d missing, %d damaged blocks", rep, c.missing, c.damaged)
			}
			if c.rebuilds != (err == nil) || (err == nil && !bytes.Equal(got, bundle)) {
				t.Errorf("rebuilt %d bytes, %v; want rebuilt: %v", len(got), err, c.rebuilds)
			}
			if !c.rebuilds && !errors.Is(err, ErrInsufficient) {
				t.Errorf("error %v, want ErrInsufficient", err)
			}
		})
	}
}
