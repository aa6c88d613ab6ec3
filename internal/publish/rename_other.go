//go:build !linux && !darwin && !windows

package publish

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("rename without replace not supported here")

// renameNoReplace links new to old and removes old: atomic and never
// replacing where the file system has hard links; FAT answers EPERM or
// ENOTSUP and the caller falls back.
func renameNoReplace(old, new string) error {
	if err := os.Link(old, new); err != nil {
		if errors.Is(err, os.ErrExist) {
			return err
		}
		return errUnsupported
	}
	return os.Remove(old)
}
