//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"valise/internal/testenv"
)

// mountTiny mounts a tmpfs of size bytes at dir, or skips the test (fails
// it in CI, which runs as root).
func mountTiny(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		testenv.Unavailable(t, "cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// fill writes a file in dir until the file system is full, then gives
// back slack bytes.
func fill(t *testing.T, dir string, slack int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	// A few smaller writes for the last partial page.
	for _, n := range []int{1024, 256, 16, 1} {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	if slack > 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(max(0, st.Size()-slack)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestFullDisk: pack and import on a full disk fail with a clear message,
// leave no partial file, use no sequence number, and leave the store as
// it was; with space again they work.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz, ca := offs["KZ-NCB"], offs["CARICC"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 2000, 100)))

	t.Run("pack output", func(t *testing.T) {
		stick := filepath.Join(dir, "stick")
		mountTiny(t, stick, 4<<20)
		filler := fill(t, stick, 0)
		before := snapshot(t, kz.home)
		code, out, errOut := binRun(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", filepath.Join(stick, "b.valise"))
		if code == 0 || !strings.Contains(out+errOut, "no space left") {
			t.Errorf("pack to a full stick: exit %d, want a failure saying the disk is full\n%s%s", code, out, errOut)
		}
		if code != exitIO {
			t.Errorf("pack to a full stick: exit %d, want %d (I/O)\n%s", code, exitIO, errOut)
		}
		entries, _ := os.ReadDir(stick)
		for _, e := range entries {
			if e.Name() != "filler" {
				t.Errorf("pack left %s on the full stick", e.Name())
			}
		}
		if snapshot(t, kz.home) != before {
			t.Errorf("the store changed")
		}
		for _, e := range ledgerOf(t, kz.home) {
			if e.Direction == "sent" {
				t.Errorf("the ledger records bundle %s as sent (sequence %d)", e.Bundle, e.Sequence)
			}
		}
		os.Remove(filler)
		binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", filepath.Join(stick, "b.valise"))
		if h := bundleHeader(t, filepath.Join(stick, "b.valise")); h.Recipients[0].Sequence != 1 {
			t.Errorf("with space again, pack uses sequence %d, want 1", h.Recipients[0].Sequence)
		}
		t.Logf("pack to a full stick: exit %d: %s", code, strings.TrimSpace(errOut))
	})

	b := filepath.Join(dir, "b.valise")
	binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "--all", "-o", b)

	// The home on a small file system: completely full (the store cannot
	// even be opened), or with a little room (the import's transaction
	// runs out of space half-way).
	for _, slack := range []int64{0, 64 << 10, 256 << 10} {
		t.Run("import into a full home, slack "+strconv.FormatInt(slack>>10, 10)+" KiB", func(t *testing.T) {
			home := filepath.Join(dir, "cahome-"+strconv.FormatInt(slack, 10))
			st, err := os.Stat(filepath.Join(ca.home, "store.db"))
			if err != nil {
				t.Fatal(err)
			}
			mountTiny(t, home, int(st.Size())+(8<<20))
			copyTree(t, ca.home, home)
			before := snapshot(t, home)
			filler := fill(t, home, slack)
			code, out, errOut := binRun(t, "import", "--home", home, b)
			msg := out + errOut
			t.Logf("import into a full home: exit %d:\n%s", code, msg)
			if code == 0 {
				t.Fatalf("import into a full home succeeded")
			}
			// SQLite's own words may follow, not stand alone.
			if !strings.Contains(msg, "disk holding the store is full") && !strings.Contains(msg, "is its disk full") {
				t.Errorf("import into a full home: exit %d, the message does not say the disk is full:\n%s", code, msg)
			}
			if code != exitIO {
				t.Errorf("import into a full home: exit %d, want %d (I/O): cmd/valise exitCode does not map store.ErrFull and store.ErrIO", code, exitIO)
			}
			os.Remove(filler)
			if r := integrity(t, home); r != "ok" {
				t.Errorf("integrity check: %s", r)
			}
			if snapshot(t, home) != before {
				t.Errorf("the failed import changed the store")
			}
			binMust(t, "import", "--home", home, b)
			if code, _, _ := binRun(t, "import", "--home", home, b); code != exitReplay {
				t.Errorf("the second import after freeing space: exit %d, want %d", code, exitReplay)
			}
		})
	}

	t.Run("pack from a full home", func(t *testing.T) {
		home := filepath.Join(dir, "kzhome")
		st, err := os.Stat(filepath.Join(kz.home, "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		mountTiny(t, home, int(st.Size())+(8<<20))
		copyTree(t, kz.home, home)
		before := snapshot(t, home)
		filler := fill(t, home, 64<<10)
		outDir := filepath.Join(dir, "packout")
		os.MkdirAll(outDir, 0o755)
		out := filepath.Join(outDir, "b.valise")
		code, stdout, errOut := binRun(t, "pack", "--home", home, "--to", "CARICC", "--all", "-o", out)
		if code == 0 {
			// The store had room for the ledger entry after all.
			t.Logf("pack from a full home succeeded:\n%s", stdout)
		} else {
			if _, err := os.Stat(out); err == nil {
				t.Errorf("pack failed (exit %d) but left %s", code, out)
			}
			os.Remove(filler)
			if r := integrity(t, home); r != "ok" {
				t.Errorf("integrity check: %s", r)
			}
			if snapshot(t, home) != before {
				t.Errorf("the failed pack changed the store")
			}
			if !strings.Contains(errOut, "disk holding the store is full") && !strings.Contains(errOut, "is its disk full") {
				t.Errorf("pack from a full home: the message does not say the disk is full:\n%s", errOut)
			}
			if code != exitIO {
				t.Errorf("pack from a full home: exit %d, want %d (I/O): cmd/valise exitCode does not map store.ErrFull and store.ErrIO", code, exitIO)
			}
			t.Logf("pack from a full home: exit %d: %s", code, strings.TrimSpace(errOut))
		}
	})
}
