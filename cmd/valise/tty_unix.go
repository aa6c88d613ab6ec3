//go:build !windows

package main

import "os"

// openTerminal opens the controlling terminal for a prompt: /dev/tty,
// which works even when standard input and output are redirected.
func openTerminal() (in, out *os.File, err error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	return tty, tty, nil
}
