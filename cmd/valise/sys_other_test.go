//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

func maxRSSOf(ps *os.ProcessState) (int64, bool) { return 0, false }

func newSession(cmd *exec.Cmd) {}

// mkfifo: no named pipes in the file system here.
func mkfifo(path string) error { return errors.ErrUnsupported }
