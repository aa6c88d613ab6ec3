package publish

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// statFS asks statfs(2) for the file system's magic number: the kernel's
// vfat/msdos driver is FAT, exfat is not limited to 4 GiB. A FUSE mount
// (fusefat, ntfs-3g) has one magic number for all: its type is read from
// /proc/self/mountinfo, and a FUSE type naming "fat" (but not exfat) is
// taken as FAT.
func statFS(dir string) (FileSystem, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return FileSystem{Free: -1}, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	f := FileSystem{Free: int64(st.Bavail) * int64(st.Bsize)}
	switch uint32(st.Type) {
	case unix.MSDOS_SUPER_MAGIC:
		f.Name, f.FAT = "vfat", true
	case unix.EXFAT_SUPER_MAGIC:
		f.Name = "exfat"
	case unix.EXT4_SUPER_MAGIC:
		f.Name = "ext4"
	case unix.TMPFS_MAGIC:
		f.Name = "tmpfs"
	case unix.FUSE_SUPER_MAGIC:
		f.Name = mountType(dir)
		f.FAT = isFATName(f.Name)
	}
	return f, nil
}

func isFATName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "fat") && !strings.Contains(n, "exfat")
}

// mountType returns the type of the mount that holds dir, from
// /proc/self/mountinfo: the mount with the longest mount point that is a
// prefix of dir.
func mountType(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, typ := -1, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - type source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 1 {
			continue
		}
		mp := unescapeMount(fields[4])
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, typ = len(mp), tail[0]
		}
	}
	return typ
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := 0
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + int(c-'0')
			}
			if ok {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
