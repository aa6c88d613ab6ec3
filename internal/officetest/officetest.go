// Package officetest makes offices for the tests of the packages that
// carry out an office's jobs.
package officetest

import (
	"path/filepath"
	"testing"

	"valise/identity"
	"valise/office"
)

// Offices creates offices named names under dir, each trusting the others,
// closed when the test ends.
func Offices(t testing.TB, dir string, names ...string) []*office.Office {
	t.Helper()
	var out []*office.Office
	for _, n := range names {
		o, err := office.Init(filepath.Join(dir, n), office.InitOptions{Agency: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		out = append(out, o)
	}
	for _, a := range out {
		for _, b := range out {
			if a != b {
				if _, err := identity.AddPeer(a, b.Card.Marshal(), b.Card.Fingerprint()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return out
}
