//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// maxRSSOf returns the peak resident size of a finished process in KiB.
func maxRSSOf(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return int64(ru.Maxrss), true
}

// newSession runs cmd in a session of its own, without a controlling
// terminal (a passphrase prompt then fails instead of waiting).
func newSession(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

// mkfifo makes a named pipe at path.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
