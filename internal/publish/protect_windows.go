package publish

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/windows"
)

// protect gives a private file (a mode without group or other bits) the
// Windows equivalent of 0600: a protected DACL (nothing inherited from
// the directory) granting full access to the user running valise, SYSTEM
// and Administrators only — what crypto's checkACL accepts. Files
// created under a directory such as C:\valise would otherwise inherit
// read access for Users. A file system without ACLs (FAT, exFAT) cannot
// hold one: there the file is left as the system makes it.
func protect(f *os.File, mode os.FileMode) error {
	if mode&0o077 != 0 {
		return nil
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("protecting %s: %w", f.Name(), err)
	}
	system, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if err != nil {
		return fmt.Errorf("protecting %s: %w", f.Name(), err)
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return fmt.Errorf("protecting %s: %w", f.Name(), err)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	var entries []windows.EXPLICIT_ACCESS
	for _, sid := range []*windows.SID{tu.User.Sid, system, admins} {
		pin.Pin(sid)
		entries = append(entries, windows.EXPLICIT_ACCESS{
			AccessPermissions: windows.GENERIC_ALL,
			AccessMode:        windows.GRANT_ACCESS,
			Inheritance:       windows.NO_INHERITANCE,
			Trustee: windows.TRUSTEE{TrusteeForm: windows.TRUSTEE_IS_SID, TrusteeType: windows.TRUSTEE_IS_UNKNOWN,
				TrusteeValue: windows.TrusteeValueFromSID(sid)},
		})
	}
	acl, err := windows.ACLFromEntries(entries, nil)
	if err != nil {
		return fmt.Errorf("protecting %s: %w", f.Name(), err)
	}
	err = windows.SetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if errors.Is(err, windows.ERROR_NOT_SUPPORTED) || errors.Is(err, windows.ERROR_INVALID_FUNCTION) {
		return nil // FAT, exFAT: no ACLs
	}
	if err != nil {
		return fmt.Errorf("protecting %s: %w", f.Name(), err)
	}
	return nil
}
