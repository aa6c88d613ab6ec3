package exchange

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"valise/ingest"
	"valise/internal/fattest"
	"valise/internal/officetest"
)

// TestPackFATSplits: on a FAT destination a bundle larger than the file
// limit is split into volumes without being asked (the limit lowered from
// 4 GiB for the test), and one that fits is a single file; both import.
func TestPackFATSplits(t *testing.T) {
	stick := fattest.Mount(t, 16<<10, true)
	dir := t.TempDir()
	offs := officetest.Offices(t, dir, "KZ-NCB", "CARICC")
	kz, ca := offs[0], offs[1]
	var lines []string
	for i := 0; i < 500; i++ {
		lines = append(lines, fmt.Sprintf(`{"id":"p-%05d","schema":"Person","properties":{"name":["Person %d %x"]}}`, i, i, i*7919*7919))
	}
	in := ingest.IngestFile{Name: "a.jsonl", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(strings.Join(lines, "\n"))), nil
	}}
	if _, err := ingest.Ingest(kz, []ingest.IngestFile{in}, false); err != nil {
		t.Fatal(err)
	}

	smallRep, err := Pack(kz, PackOptions{To: []string{"CARICC"}, Output: filepath.Join(stick, "one.valise"), Parity: 10})
	if err != nil {
		t.Fatal(err)
	}
	small := smallRep.Bundles[0]
	if len(small.Volumes) != 0 {
		t.Fatalf("a bundle under the FAT limit was split: %v", small.Volumes)
	}
	old := fatLimit
	fatLimit = small.Size / 2
	defer func() { fatLimit = old }()
	bigRep, err := Pack(kz, PackOptions{To: []string{"CARICC"}, All: true, Output: filepath.Join(stick, "big.valise"), Parity: 10})
	if err != nil {
		t.Fatal(err)
	}
	rep := bigRep.Bundles[0]
	if len(rep.Volumes) < 4 { // at least 3 data volumes and 1 parity
		t.Fatalf("a bundle over the FAT limit: volumes %v", rep.Volumes)
	}
	for _, v := range rep.Volumes {
		if st, err := os.Stat(v); err != nil || st.Size() > fatLimit {
			t.Errorf("volume %s: %v, larger than %d bytes", v, err, fatLimit)
		}
	}
	// --volume-size larger than FAT allows is capped at the limit.
	cappedRep, err := Pack(kz, PackOptions{To: []string{"CARICC"}, All: true, Output: filepath.Join(stick, "capped.valise"), VolumeSize: 100 * fatLimit})
	if err != nil {
		t.Fatal(err)
	}
	capped := cappedRep.Bundles[0]
	for _, v := range capped.Volumes {
		if st, err := os.Stat(v); err != nil || st.Size() > fatLimit {
			t.Errorf("volume %s of --volume-size %d: %v, larger than the FAT limit %d", v, 100*fatLimit, err, fatLimit)
		}
	}
	if len(capped.Volumes) < 3 {
		t.Errorf("--volume-size above the FAT limit: volumes %v", capped.Volumes)
	}
	if _, err := os.Stat(filepath.Join(stick, "big.valise")); err == nil {
		t.Errorf("big.valise written beside its volumes")
	}
	for _, f := range []string{small.File, rep.Volumes[len(rep.Volumes)-1]} {
		ir, err := Import(ca, f, false)
		if err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
		if ir.Records != 500 {
			t.Errorf("import %s: %d records", f, ir.Records)
		}
	}
	left, _ := filepath.Glob(filepath.Join(stick, ".valise-*"))
	left2, _ := filepath.Glob(filepath.Join(kz.Home, ".valise-*"))
	if len(left)+len(left2) > 0 {
		t.Errorf("left behind: %v %v", left, left2)
	}
}
