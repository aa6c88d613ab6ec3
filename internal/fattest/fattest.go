// Package fattest mounts small FAT file systems for tests: an image made
// by mkfs.vfat (Debian's dosfstools), mounted read-write with fusefat
// through /dev/fuse, the way a courier's USB stick looks to valise.
//
// Where the tools or /dev/fuse are missing the test is skipped with a
// message saying what to install, except under VALISE_CI=1 (set by
// .ci/run), where it fails: CI installs what the tests need.
package fattest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Missing returns what keeps FAT tests from running here, or "".
func Missing() string {
	var miss []string
	for _, tool := range []string{"mkfs.vfat", "fusefat", "fusermount"} {
		if _, err := exec.LookPath(tool); err != nil {
			miss = append(miss, tool)
		}
	}
	if len(miss) > 0 {
		return "missing " + strings.Join(miss, ", ") + " (apt-get install dosfstools fusefat)"
	}
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
		return fmt.Sprintf("no usable /dev/fuse: %v", err)
	} else {
		f.Close()
	}
	return ""
}

// Need skips t (or fails it under VALISE_CI=1) when FAT tests cannot run.
func Need(t testing.TB) {
	t.Helper()
	if why := Missing(); why != "" {
		if os.Getenv("VALISE_CI") == "1" {
			t.Fatalf("FAT test cannot run under VALISE_CI=1: %s", why)
		}
		t.Skipf("FAT test skipped: %s", why)
	}
}

// Mount makes a FAT image of sizeKB KiB (FAT12/16/32 as mkfs.vfat picks
// for the size, or FAT32 with fat32 set) in a temporary directory, mounts
// it and returns the mount point. It is unmounted when the test ends.
func Mount(t testing.TB, sizeKB int, fat32 bool) string {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "stick.img"), filepath.Join(dir, "stick")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-C"}
	if fat32 {
		args = append(args, "-F", "32")
	}
	args = append(args, img, strconv.Itoa(sizeKB))
	if out, err := exec.Command("mkfs.vfat", args...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v\n%s", err, out)
	}
	if out, err := exec.Command("fusefat", "-o", "rw+", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusefat: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("fusermount", "-u", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		exec.Command("fusermount", "-u", "-z", mnt).Run()
	})
	// fusefat forks before the mount is ready.
	for i := 0; i < 100; i++ {
		if IsFAT(mnt) {
			return mnt
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fusefat: %s did not appear as a mount", mnt)
	return ""
}

// IsFAT reports whether dir is the root of a fusefat mount.
func IsFAT(dir string) bool {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == dir && strings.Contains(f[2], "fuse") {
			return true
		}
	}
	return false
}
