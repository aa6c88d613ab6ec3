//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// newSession runs cmd in a session of its own, without a controlling
// terminal (a passphrase prompt then fails instead of waiting).
func newSession(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

// mkfifo makes a named pipe at path.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
