package crypto

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// openSecret opens a secret file, refusing a symbolic link or junction
// (os.Lstat reports reparse points as links).
func openSecret(path string) (*os.File, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode()&os.ModeSymlink != 0 || st.Mode()&os.ModeIrregular != 0 {
		return nil, fmt.Errorf("%s is a symbolic link; valise reads a secret key only from a regular file, not through a link", path)
	}
	return os.Open(path)
}

// checkProtected reads the owner and DACL of the open file
// (GetSecurityInfo) and applies checkACL: Windows reports no POSIX mode
// (Go shows 0666 or 0444), so the ACL is what it enforces. A file system
// without ACLs (FAT) gives no DACL and is refused: keys belong in the
// home on NTFS, not on a stick.
func checkProtected(path string, f *os.File, st os.FileInfo) error {
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s: reading its access control list: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("%s: no owner: %v", path, err)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("reading the user running valise: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil && err != windows.ERROR_OBJECT_NOT_FOUND {
		return fmt.Errorf("%s: reading its access control list: %w", path, err)
	}
	var aces []ACE
	if dacl != nil {
		for i := uint32(0); i < uint32(dacl.AceCount); i++ {
			var a *windows.ACCESS_ALLOWED_ACE
			if err := windows.GetAce(dacl, i, &a); err != nil {
				return fmt.Errorf("%s: reading its access control list: %w", path, err)
			}
			if a.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE && a.Header.AceType != windows.ACCESS_DENIED_ACE_TYPE {
				// Object and callback entries: valise does not write them
				// and cannot judge them; taken as granting to an unknown.
				aces = append(aces, ACE{SID: fmt.Sprintf("(entry of type %d)", a.Header.AceType), Allow: true, Mask: 1})
				continue
			}
			sid := (*windows.SID)(unsafe.Pointer(&a.SidStart))
			aces = append(aces, ACE{SID: sid.String(), Allow: a.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE,
				InheritOnly: a.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0, Mask: uint32(a.Mask)})
		}
	}
	return checkACL(path, owner.String(), tu.User.Sid.String(), dacl == nil, aces)
}
