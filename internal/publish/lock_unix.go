//go:build unix

package publish

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive lock on f, failing at once when try is set
// and another process holds it. The lock goes with the process.
func lockFile(f *os.File, try bool) error {
	how := unix.LOCK_EX
	if try {
		how |= unix.LOCK_NB
	}
	return unix.Flock(int(f.Fd()), how)
}
