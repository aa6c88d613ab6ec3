package schema

import (
	"strings"
	"testing"
)

// TestVersionAtValidated: the time of a record's last change travels in
// bundles and is printed by valise show; only valise's own spelling of a
// UTC time is accepted, so that it can hold no escape sequence or line
// break, and orders changes the same way everywhere.
func TestVersionAtValidated(t *testing.T) {
	for _, tc := range []struct {
		at string
		ok bool
	}{
		{"", true},
		{"2026-11-28T09:00:00Z", true},
		{"2026-11-28T09:00:00+00:00", false},
		{"2026-11-28T09:00:00.5Z", false},
		{"2026-11-28t09:00:00z", false},
		{"2026-11-28", false},
		{"2026-13-28T09:00:00Z", false},
		{"2026\x1b[2J", false},
		{"2026-11-28T09:00:00Z\n  verdict     OK", false},
		{"9999-99-99T99:99:99Z", false},
	} {
		r := &Record{ID: "p-1", Schema: "Person", Origin: "KZ-NCB", Handling: Handling{TLP: "amber"},
			Properties: map[string][]string{"name": {"A"}}, Version: Version{Vector: map[string]uint64{"KZ-NCB": 1}, By: "KZ-NCB", At: tc.at}}
		probs := r.Validate()
		bad := false
		for _, p := range probs {
			if p.Property == "version.at" {
				bad = true
				if strings.Contains(p.Error(), "\x1b") || strings.Contains(p.Error(), "\n") {
					t.Errorf("%q: the problem repeats the value raw: %q", tc.at, p.Error())
				}
			}
		}
		if bad == tc.ok {
			t.Errorf("version.at %q: valid %v, want %v (%v)", tc.at, !bad, tc.ok, probs)
		}
	}
}
