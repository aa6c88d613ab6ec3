//go:build !unix && !windows

package crypto

import (
	"fmt"
	"os"
)

// openSecret opens a secret file, refusing a symbolic link.
func openSecret(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link; valise reads a secret key only from a regular file, not through a link", path)
	}
	return os.Open(path)
}

// checkProtected has neither modes nor owners to check on this system
// (plan9, wasm).
func checkProtected(path string, f *os.File, st os.FileInfo) error { return nil }
