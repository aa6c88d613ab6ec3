package merge

import (
	"bytes"
	"testing"

	"valise/schema"
)

// TestStampIsEdit: Stamp gives a new record the very version Edit(nil, …)
// gives it.
func TestStampIsEdit(t *testing.T) {
	for _, line := range []string{
		`{"id":"p-1","schema":"Person","properties":{"name":["Ivan Petrov"],"birthDate":["1975-03-02"]}}`,
		`{"id":"p-2","schema":"Person","origin":"KZ-NCB","handling":{"tlp":"red","releasable_to":["CARICC"]},"properties":{"name":["A"],"alias":[]}}`,
		`{"id":"p-3","schema":"Person","evaluation":{"reliability":"B","credibility":"2"},"properties":{"name":["B"]},"x-note":"kept"}`,
	} {
		r, err := schema.Decode([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		want := Edit(nil, r, "KZ-NCB", "2026-11-28T10:00:00Z").AppendCanonical(nil)
		Stamp(r, "KZ-NCB", "2026-11-28T10:00:00Z")
		if got := r.AppendCanonical(nil); !bytes.Equal(got, want) {
			t.Errorf("Stamp gave\n%s\nEdit gave\n%s", got, want)
		}
	}
}
