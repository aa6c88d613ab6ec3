package publish

import (
	"errors"

	"golang.org/x/sys/unix"
)

var errUnsupported = errors.New("rename without replace not supported here")

// renameNoReplace renames old to new unless new exists. FUSE servers
// without rename2 (fusefat) answer EINVAL: the caller falls back.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return err
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EPERM):
		return errUnsupported
	}
	return err
}
