package publish

import (
	"os"

	"golang.org/x/sys/unix"
)

// statFS asks statfs(2) for f_fstypename: "msdos" is FAT, "exfat",
// "apfs", "hfs" and "ntfs" are not limited to 4 GiB.
func statFS(dir string) (FileSystem, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return FileSystem{Free: -1}, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	name := unix.ByteSliceToString(st.Fstypename[:])
	return FileSystem{Name: name, FAT: name == "msdos", Free: int64(st.Bavail) * int64(st.Bsize)}, nil
}
