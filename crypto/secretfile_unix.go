//go:build unix

package crypto

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openSecret opens a secret file without following a symbolic link in its
// last component, and without blocking on a FIFO put in its place.
func openSecret(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link; valise reads a secret key only from a regular file, not through a link", path)
	}
	return f, err
}

// checkProtected refuses a secret file with a mode wider than 0600, or
// that belongs to another user: whoever owns it can change its mode and
// replace the key.
func checkProtected(path string, f *os.File, st os.FileInfo) error {
	if perm := st.Mode().Perm(); perm&^0o600 != 0 {
		return fmt.Errorf("%s: mode %04o is wider than 0600 and lets others read or change a secret key; run chmod 600 %s", path, perm, path)
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(s.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not by the user running valise (uid %d); a secret key must belong to its user", path, s.Uid, uid)
	}
	return nil
}
