package schema

import (
	"testing"
	"unicode/utf8"
)

// FuzzProblemsPrintable: whatever a record holds, the problems Validate
// reports, which valise prints to officers, carry no raw control,
// bidirectional or invalid characters, only their escapes.
func FuzzProblemsPrintable(f *testing.F) {
	for _, tc := range canonicalVectors {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"id":"x\u001b[2J","schema":"Person\u202e","origin":"KZ-NCB","handling":{"tlp":"amber\n"},"properties":{"name":["a\u0000b"],"x\u0007":["y"]},"version":{"at":"2026\u001b","by":"a\nb","props":{"n\u001b":"A:1"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			if s := err.Error(); !printable(s) {
				t.Fatalf("decode error %q holds a raw control character", s)
			}
			return
		}
		for _, p := range r.Validate() {
			if s := p.Error(); !printable(s) {
				t.Fatalf("problem %q holds a raw control character", s)
			}
		}
	})
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidiControl(r) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}
