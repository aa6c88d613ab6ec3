package publish

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

var errUnsupported = errors.New("rename without replace not supported here")

// renameNoReplace renames old to new unless new exists: MoveFileEx without
// MOVEFILE_REPLACE_EXISTING fails with ERROR_ALREADY_EXISTS on FAT, exFAT
// and NTFS alike (os.Rename would replace).
func renameNoReplace(old, new string) error {
	from, err := windows.UTF16PtrFromString(old)
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(new)
	if err != nil {
		return err
	}
	err = windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH)
	if err != nil {
		if errors.Is(err, windows.ERROR_ALREADY_EXISTS) || errors.Is(err, windows.ERROR_FILE_EXISTS) {
			return &os.LinkError{Op: "rename", Old: old, New: new, Err: os.ErrExist}
		}
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}
