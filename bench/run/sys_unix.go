//go:build unix

package main

import (
	"os"
	"syscall"
)

// syncDisks flushes dirty pages, so that a command is not charged for the
// write-back of the one before.
func syncDisks() { syscall.Sync() }

// maxRSSOf returns the peak resident size a finished process reported
// (getrusage: KiB on Linux).
func maxRSSOf(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return int64(ru.Maxrss), true
}
