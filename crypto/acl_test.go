package crypto

import (
	"strings"
	"testing"
)

func TestCheckACL(t *testing.T) {
	const me, other = "S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1002"
	mine := []ACE{{SID: me, Allow: true, Mask: 0x1f01ff}, {SID: sidSystem, Allow: true, Mask: 0x1f01ff}, {SID: sidAdministrators, Allow: true, Mask: 0x1f01ff}}
	for name, c := range map[string]struct {
		owner string
		null  bool
		aces  []ACE
		want  string // "" for accepted, else a part of the error
	}{
		"profile default":       {me, false, mine, ""},
		"owned by admins":       {sidAdministrators, false, mine, ""},
		"user only":             {me, false, mine[:1], ""},
		"owned by another":      {other, false, mine, "owned by " + other},
		"null dacl":             {me, true, nil, "no access control list"},
		"everyone reads":        {me, false, append(mine[:1:1], ACE{SID: "S-1-1-0", Allow: true, Mask: 0x120089}), "S-1-1-0"},
		"users read":            {me, false, append(mine[:1:1], ACE{SID: "S-1-5-32-545", Allow: true, Mask: 0x120089}), "S-1-5-32-545"},
		"another user":          {me, false, append(mine[:1:1], ACE{SID: other, Allow: true, Mask: 1}), other},
		"deny is harmless":      {me, false, append(mine[:1:1], ACE{SID: "S-1-1-0", Allow: false, Mask: 0x1f01ff}), ""},
		"inherit-only ignored":  {me, false, append(mine[:1:1], ACE{SID: "S-1-3-0", Allow: true, InheritOnly: true, Mask: 0x1f01ff}), ""},
		"empty mask is nothing": {me, false, append(mine[:1:1], ACE{SID: "S-1-1-0", Allow: true}), ""},
	} {
		err := checkACL(`C:\Users\kz\.valise\signing.key`, c.owner, me, c.null, c.aces)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
}
