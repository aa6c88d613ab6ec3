package crypto

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseStatement: a keyring statement that parses marshals back to the
// same bytes, and checking it against a card never panics.
func FuzzParseStatement(f *testing.F) {
	k1, err := Generate()
	if err != nil {
		f.Fatal(err)
	}
	k2, err := Generate()
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	old, err := NewCard("KZ-NCB", "KZ", now, k1)
	if err != nil {
		f.Fatal(err)
	}
	next, err := NewCard("KZ-NCB", "KZ", now, k2)
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []string{Rotate, Revoke} {
		st, err := NewStatement(kind, old, k1, next, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(st.Marshal())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := ParseStatement(in)
		if err != nil {
			return
		}
		if !bytes.Equal(st.Marshal(), in) {
			t.Fatalf("parse then marshal is not the identity")
		}
		st.Verify(old)
	})
}
