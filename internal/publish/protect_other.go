//go:build !windows

package publish

import "os"

// protect: the mode given to open(2) is the protection here.
func protect(f *os.File, mode os.FileMode) error { return nil }
