package publish

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"valise/internal/fattest"
)

// TestFAT runs the publish behaviour on a FUSE-mounted FAT image: no hard
// links, no chmod, a rename that replaces and no rename without replace.
func TestFAT(t *testing.T) {
	stick := fattest.Mount(t, 8<<10, false)
	fsys, err := Stat(stick)
	if err != nil || !fsys.FAT || fsys.MaxFileSize() != FATMaxFileSize || fsys.Free <= 0 {
		t.Fatalf("Stat(stick) = %+v, %v; want FAT with free space", fsys, err)
	}
	// fusefat has no rename without replace: the placeholder path runs.
	os.WriteFile(filepath.Join(stick, "x"), nil, 0o600)
	if err := renameNoReplace(filepath.Join(stick, "x"), filepath.Join(stick, "y")); !errors.Is(err, errUnsupported) {
		t.Fatalf("renameNoReplace on fusefat: %v, want unsupported", err)
	}
	os.Remove(filepath.Join(stick, "x"))
	exercise(t, stick, t.TempDir())
}

// TestFATFull fills a small stick mid-write: the error says so, and
// nothing is left under the final name or beside it.
func TestFATFull(t *testing.T) {
	stick := fattest.Mount(t, 1<<10, false)
	work := t.TempDir()
	if err := WriteFile(filepath.Join(stick, "old.valise"), []byte("kept"), Options{}); err != nil {
		t.Fatal(err)
	}
	p, err := Create(filepath.Join(stick, "big.valise"), Options{WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0x5a}, 64<<10)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ { // 4 MiB onto 1 MiB
		_, werr = p.Write(chunk)
	}
	if werr == nil {
		werr = p.Publish()
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 4 MiB onto a 1 MiB stick: %v, want no space left", werr)
	}
	if _, err := p.Write(chunk[:1]); err == nil {
		t.Fatal("write after a failure succeeded (errors must be sticky)")
	}
	if err := p.Commit(); err == nil {
		t.Fatal("Commit after a failed write succeeded")
	}
	if _, err := os.Lstat(filepath.Join(stick, "big.valise")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("final name after a full stick: %v", err)
	}
	assertClean(t, stick, work, "old.valise")
	// With the space back, the same name publishes.
	if err := WriteFile(filepath.Join(stick, "big.valise"), chunk, Options{}); err != nil {
		t.Fatal(err)
	}
}
