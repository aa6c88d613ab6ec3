package crypto

import (
	"fmt"
	"strings"
)

// Well-known Windows SIDs that may hold a secret key file besides its
// user: the system itself and the local administrators, who can take any
// file anyway (and backup tools run as them).
const (
	sidSystem         = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
	sidOwnerRights    = "S-1-3-4"
)

// ACE is one access control entry of a file, as Windows reports it.
type ACE struct {
	SID         string // e.g. "S-1-5-21-…-1001", "S-1-1-0" (Everyone)
	Allow       bool   // an access-allowed entry (a deny entry takes rights away and is harmless)
	InheritOnly bool   // applies to children only, not to the file
	Mask        uint32
}

// checkACL is the rule Windows enforces for a secret key file in place of
// POSIX mode 0600: the file's owner is the user running valise (or the
// Administrators group, which owns files that an elevated process
// creates); its DACL exists (a NULL DACL grants everyone everything); and
// every entry that grants any right names the user, SYSTEM,
// Administrators or OWNER RIGHTS. An entry for Everyone, Users,
// Authenticated Users or another account is refused, naming it.
func checkACL(path, owner, user string, nullDACL bool, aces []ACE) error {
	if owner != user && owner != sidAdministrators {
		return fmt.Errorf("%s is owned by %s, not by the user running valise (%s); a secret key must belong to its user", path, owner, user)
	}
	if nullDACL {
		return fmt.Errorf("%s has no access control list (everyone may read and change it); valise init writes key files with one, or restrict it: icacls %s /inheritance:r /grant:r %%USERNAME%%:F", path, path)
	}
	var others []string
	for _, a := range aces {
		if !a.Allow || a.InheritOnly || a.Mask == 0 {
			continue
		}
		switch a.SID {
		case user, sidSystem, sidAdministrators, sidOwnerRights:
			continue
		}
		others = append(others, a.SID)
	}
	if len(others) > 0 {
		return fmt.Errorf("%s: its access control list lets %s read or change a secret key; run icacls %s /inheritance:r /grant:r %%USERNAME%%:F", path, strings.Join(others, ", "), path)
	}
	return nil
}
