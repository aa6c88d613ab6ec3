package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"valise/internal/fattest"
)

// TestStickFAT: the acceptance of issue 13 on a FUSE-mounted FAT image:
// pack, export, conflicts --html, audit --export, card and import work on
// it; a second pack onto an existing name is refused and the first file
// is untouched; a pack onto a stick that fills up exits 9, leaves nothing
// and the retried pack arrives with no gap.
func TestStickFAT(t *testing.T) {
	fattest.Need(t)
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz, ca := offs["KZ-NCB"], offs["CARICC"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 300, 100)))
	stick := fattest.Mount(t, 16<<10, true)

	b1 := filepath.Join(stick, "week1.valise")
	binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", b1)
	first, err := os.ReadFile(b1)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := binRun(t, "pack", "--home", kz.home, "--to", "CARICC", "--all", "-o", b1)
	if code != exitIO || !strings.Contains(out+errOut, "never overwrite") {
		t.Errorf("second pack onto %s: exit %d, want %d and a refusal\n%s%s", b1, code, exitIO, out, errOut)
	}
	if again, _ := os.ReadFile(b1); !bytes.Equal(again, first) {
		t.Errorf("the second pack changed the first bundle")
	}
	binMust(t, "export", "--home", kz.home, "-o", filepath.Join(stick, "records.jsonl"))
	binMust(t, "conflicts", "--home", kz.home, "--html", filepath.Join(stick, "conflicts.html"))
	binMust(t, "audit", "--home", kz.home, "--export", filepath.Join(stick, "audit.txt"))
	binMust(t, "card", "--home", kz.home, "-o", filepath.Join(stick, "kz.card"))
	binMust(t, "verify", "--home", filepath.Join(dir, "auditor"), "--card", filepath.Join(stick, "kz.card"), b1)
	if out := binMust(t, "import", "--home", ca.home, b1); !strings.Contains(out, "300 inserted") {
		t.Errorf("import from the stick:\n%s", out)
	}
	if code, out, errOut := binRun(t, "export", "--home", kz.home, "-o", filepath.Join(stick, "records.jsonl")); code == 0 {
		t.Errorf("export onto an existing file succeeded\n%s%s", out, errOut)
	}
	assertNoLitter(t, stick)

	t.Run("full", func(t *testing.T) {
		binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "b.jsonl", personLines("b", 2000, 400)))
		small := fattest.Mount(t, 256, false)
		b2 := filepath.Join(small, "week2.valise")
		code, out, errOut := binRun(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", b2)
		if code != exitIO || !strings.Contains(out+errOut, "no space left") {
			t.Fatalf("pack onto a full stick: exit %d, want %d saying so\n%s%s", code, exitIO, out, errOut)
		}
		if _, err := os.Lstat(b2); err == nil {
			t.Fatalf("a failed pack left %s", b2)
		}
		assertNoLitter(t, small)
		b2 = filepath.Join(stick, "week2.valise")
		out = binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", b2)
		if !strings.Contains(out, "sequence 2") {
			t.Errorf("the retried pack does not take sequence 2:\n%s", out)
		}
		if out := binMust(t, "import", "--home", ca.home, b2); !strings.Contains(out, "2000 inserted") || strings.Contains(out, "MISSING") {
			t.Errorf("import of the retried pack: want 2000 inserted and no gap\n%s", out)
		}
	})
}

// TestStickVolumes: a bundle split in three volumes (two data, one
// parity) imports with any one volume missing and with a few hundred
// corrupted bytes in one; verify says what it repaired; with one volume
// only, verify and import exit 3 naming what is missing.
func TestStickVolumes(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC", "KG-NCB")
	kz, ca := offs["KZ-NCB"], offs["CARICC"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 2000, 300)))
	probe := filepath.Join(dir, "probe.valise")
	binMust(t, "pack", "--home", kz.home, "--to", "KG-NCB", "-o", probe)
	st, err := os.Stat(probe)
	if err != nil {
		t.Fatal(err)
	}
	sets := filepath.Join(dir, "sets")
	os.Mkdir(sets, 0o755)
	volSize := st.Size()/2 + st.Size()/8
	out := binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", filepath.Join(sets, "v.valise"),
		"--volume-size", itoa(volSize), "--parity", "50%")
	vols := regexp.MustCompile(`volume +(\S+)`).FindAllStringSubmatch(out, -1)
	if len(vols) != 3 {
		t.Fatalf("pack --volume-size %d of a %d-byte bundle: want 3 volumes\n%s", volSize, st.Size(), out)
	}
	var paths []string
	for _, v := range vols {
		paths = append(paths, v[1])
	}
	if _, err := os.Stat(filepath.Join(sets, "v.valise")); err == nil {
		t.Errorf("pack --volume-size also wrote the whole bundle")
	}
	auditor := filepath.Join(dir, "auditor")
	verify := func(path string) (int, string) {
		code, out, errOut := binRun(t, "verify", "--home", auditor, "--card", kz.cardPath, path)
		return code, out + errOut
	}
	if code, out := verify(paths[1]); code != 0 || !strings.Contains(out, "all sound") {
		t.Fatalf("verify of a complete set: exit %d\n%s", code, out)
	}
	// Each case in its own copy of the set.
	cp := func(name string, skip int, corrupt int) []string {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0o755)
		var out []string
		for i, p := range paths {
			if i == skip {
				continue
			}
			b, _ := os.ReadFile(p)
			if i == corrupt {
				at := len(b) / 3
				for j := at; j < at+300; j++ {
					b[j] ^= 0x5a
				}
			}
			q := filepath.Join(d, filepath.Base(p))
			os.WriteFile(q, b, 0o644)
			out = append(out, q)
		}
		return out
	}
	for miss := range paths {
		c := cp("miss"+itoa(int64(miss)), miss, -1)
		code, out := verify(c[0])
		if code != 0 || !strings.Contains(out, "missing "+filepath.Join(filepath.Dir(c[0]), filepath.Base(paths[miss]))) {
			t.Errorf("verify with volume %d missing: exit %d\n%s", miss+1, code, out)
		}
		if miss < 2 && !strings.Contains(out, "rebuilt from parity") {
			t.Errorf("verify with data volume %d missing does not say what it rebuilt\n%s", miss+1, out)
		}
	}
	for bad := range paths {
		c := cp("bad"+itoa(int64(bad)), -1, bad)
		code, out := verify(c[2])
		if code != 0 || !strings.Contains(out, "damaged blocks") {
			t.Errorf("verify with 300 bytes corrupted in volume %d: exit %d\n%s", bad+1, code, out)
		}
	}
	// Import: one volume missing (a data volume), then corrupted bytes.
	c := cp("import-miss", 0, -1)
	if out := binMust(t, "import", "--home", ca.home, "--dry-run", c[1]); !strings.Contains(out, "2000 inserted") || !strings.Contains(out, "rebuilt from parity") {
		t.Errorf("import with volume 1 missing:\n%s", out)
	}
	c = cp("import-bad", -1, 1)
	if out := binMust(t, "import", "--home", ca.home, c[0], c[1], c[2]); !strings.Contains(out, "2000 inserted") || !strings.Contains(out, "damaged blocks") {
		t.Errorf("import with volume 2 damaged:\n%s", out)
	}
	// Not enough: one volume alone.
	c = cp("alone", 0, -1)
	os.Remove(c[0])
	code, out := verify(c[1])
	if code != exitMalformed || !strings.Contains(out, "v.vol1of3.valvol") || !strings.Contains(out, "v.vol2of3.valvol") {
		t.Errorf("verify with one volume of three: exit %d, want %d naming the missing ones\n%s", code, exitMalformed, out)
	}
	code, out2, errOut := binRun(t, "import", "--home", ca.home, c[1])
	if code != exitMalformed || !strings.Contains(out2+errOut, "v.vol1of3.valvol") {
		t.Errorf("import with one volume of three: exit %d, want %d naming the missing ones\n%s%s", code, exitMalformed, out2, errOut)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// assertNoLitter fails when dir holds temporary files of valise.
func assertNoLitter(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, ".valise-*"))
	if len(left) > 0 {
		t.Errorf("left in %s: %v", dir, left)
	}
}
