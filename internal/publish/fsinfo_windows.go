package publish

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// statFS asks GetVolumeInformation for the file system name of the
// volume holding dir ("FAT", "FAT32", "exFAT", "NTFS", "ReFS") and
// GetDiskFreeSpaceEx for the free space.
func statFS(dir string) (FileSystem, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return FileSystem{Free: -1}, err
	}
	p, err := windows.UTF16PtrFromString(abs)
	if err != nil {
		return FileSystem{Free: -1}, err
	}
	f := FileSystem{Free: -1}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err == nil {
		f.Free = int64(free)
	}
	root := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumePathName(p, &root[0], uint32(len(root))); err != nil {
		return f, &os.PathError{Op: "GetVolumePathName", Path: dir, Err: err}
	}
	name := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(&root[0], nil, 0, nil, nil, nil, &name[0], uint32(len(name))); err != nil {
		return f, &os.PathError{Op: "GetVolumeInformation", Path: dir, Err: err}
	}
	f.Name = windows.UTF16ToString(name)
	f.FAT = strings.HasPrefix(strings.ToUpper(f.Name), "FAT")
	return f, nil
}
