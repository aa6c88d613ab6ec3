//go:build !unix

package main

import (
	"errors"
	"os/exec"
)

func newSession(cmd *exec.Cmd) {}

// mkfifo: no named pipes in the file system here.
func mkfifo(path string) error { return errors.ErrUnsupported }
