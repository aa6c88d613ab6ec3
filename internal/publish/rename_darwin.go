package publish

import (
	"errors"

	"golang.org/x/sys/unix"
)

var errUnsupported = errors.New("rename without replace not supported here")

// renameNoReplace renames old to new unless new exists (renamex_np with
// RENAME_EXCL; msdos and some network volumes answer ENOTSUP).
func renameNoReplace(old, new string) error {
	err := unix.RenamexNp(old, new, unix.RENAME_EXCL)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return err
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return errUnsupported
	}
	return err
}
