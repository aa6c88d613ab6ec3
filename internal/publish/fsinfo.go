package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// FATMaxFileSize is the largest file FAT12, FAT16 and FAT32 hold: 4 GiB
// less one byte. exFAT and NTFS have no such limit.
const FATMaxFileSize = 1<<32 - 1

// FileSystem describes the file system that holds a directory, as far as
// the system tells.
type FileSystem struct {
	// Name is the file system's kind as the system names it ("vfat",
	// "exfat", "fuse.fusefat", "FAT32", "NTFS", "msdos", …), or "" when
	// it cannot be told.
	Name string
	// FAT is set for FAT12, FAT16 and FAT32 (not exFAT): files of at most
	// FATMaxFileSize bytes.
	FAT bool
	// Free is the number of bytes free for this user, or -1 when unknown.
	Free int64
}

// MaxFileSize returns the largest file the file system holds, or 0 when
// it has no limit that valise knows of.
func (f FileSystem) MaxFileSize() int64 {
	if f.FAT {
		return FATMaxFileSize
	}
	return 0
}

// Stat tells what file system holds dir (see the files fsinfo_GOOS.go for
// how each system is asked).
func Stat(dir string) (FileSystem, error) { return statFS(dir) }

// full reports whether the file system holding dir has less than need
// bytes free. Some FUSE servers (fusefat) answer a write to a full disk
// with EPERM: Write asks this to say what happened.
func full(dir string, need int) bool {
	fsys, err := statFS(dir)
	return err == nil && fsys.Free >= 0 && fsys.Free < int64(need)
}

// noSpace is the error of a write that failed on a full file system.
func noSpace(final string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return fmt.Errorf("writing %s: %w (the device answered: %v)", final,
		&fs.PathError{Op: "write", Path: final, Err: syscall.ENOSPC}, err)
}
