//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"valise/internal/testenv"
)

// TestPackKilledAtPublish kills pack at the moment its bundle appears in
// the output directory (inotify), the one moment random kills rarely hit:
// pack publishes the file inside the transaction that records the
// sequence number, before the commit. On a disk the commit's fsync makes
// that moment last milliseconds. Whatever the moment, a published bundle
// must be in the ledger, or the next pack gives its sequence number to
// another bundle and the receiver raises a reused-sequence alert.
func TestPackKilledAtPublish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // a disk, not tmpfs: fsync takes time there
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz := offs["KZ-NCB"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 200, 0)))
	template := filepath.Join(dir, "template")
	copyTree(t, kz.home, template)
	home, outDir := filepath.Join(dir, "run"), filepath.Join(dir, "out")
	const runs = 10
	published, early := 0, 0
	for i := 0; i < runs; i++ {
		os.RemoveAll(home)
		os.RemoveAll(outDir)
		copyTree(t, template, home)
		os.MkdirAll(outDir, 0o755)
		fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
		if err != nil {
			testenv.Unavailable(t, "inotify: %v", err)
		}
		if _, err := syscall.InotifyAddWatch(fd, outDir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
			syscall.Close(fd)
			testenv.Unavailable(t, "inotify: %v", err)
		}
		cmd := valiseCmd(t, "pack", "--home", home, "--to", "CARICC", "-o", filepath.Join(outDir, "b.valise"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		seen := make(chan bool, 1)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := syscall.Read(fd, buf)
				if err != nil || n <= 0 {
					seen <- false
					return
				}
				for off := 0; off+syscall.SizeofInotifyEvent <= n; {
					ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
					name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
					if string(bytes.TrimRight(name, "\x00")) == "b.valise" {
						cmd.Process.Signal(syscall.SIGKILL)
						seen <- true
						return
					}
					off += syscall.SizeofInotifyEvent + int(ev.Len)
				}
			}
		}()
		cmd.Wait()
		syscall.Close(fd)
		select {
		case <-seen:
		case <-time.After(2 * time.Second):
		}
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		killed := ws.Signaled() && ws.Signal() == syscall.SIGKILL
		if !killed {
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("run %d: pack exited %d without being killed", i, code)
			}
			early++ // pack finished before the kill landed
		}
		p, _ := packKilledCheck(t, fmt.Sprintf("run %d", i), home, outDir, kz.cardPath, killed)
		if p {
			published++
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("pack killed as its bundle appeared: %d runs, %d published, %d finished before the kill", runs, published, early)
	// The kill follows the bundle's appearance by microseconds, and pack
	// still has its temporary file to remove and the directory to sync:
	// most runs are killed there (all ten on an idle machine). A test
	// whose kills all came too late proved nothing.
	if killed := runs - early; !t.Failed() && killed < runs/3 {
		t.Errorf("only %d of %d runs were killed as the bundle appeared, want at least %d", killed, runs, runs/3)
	}
	if !t.Failed() && published != runs {
		t.Errorf("the bundle was published in %d of %d runs: the kill came before it appeared", published, runs)
	}
}
