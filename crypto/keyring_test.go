package crypto

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func genCard(t *testing.T, agency string) (*Keys, *Card) {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCard(agency, agency, time.Now(), k)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

// TestAuditorStatements: a file of statements parses back one by one;
// applied to an auditor's keyring, a rotation introduces its successor
// and keeps the old key, and a revocation refuses the key "since" its
// time together with the card it introduced.
func TestAuditorStatements(t *testing.T) {
	k1, c1 := genCard(t, "KZ-NCB")
	_, c2 := genCard(t, "KZ-NCB")
	_, c3 := genCard(t, "KZ-NCB")
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	rot, err := NewStatement(Rotate, c1, k1, c2, t0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := NewStatement(Revoke, c1, k1, c3, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	file := append(rev.Marshal(), rot.Marshal()...)
	sts, err := ParseStatements(file)
	if err != nil || len(sts) != 2 || sts[0].Kind != Revoke || sts[1].Kind != Rotate {
		t.Fatalf("ParseStatements: %v %v", sts, err)
	}
	if _, err := ParseStatements(append(file, "x\n"...)); !errors.Is(err, ErrStatement) {
		t.Errorf("trailing garbage: %v", err)
	}

	kr := NewKeyring()
	kr.Add(c1)
	notes, unchecked, err := kr.Apply(sts)
	if err != nil || len(unchecked) != 0 || len(notes) != 2 {
		t.Fatalf("Apply: %q %v %v", notes, unchecked, err)
	}
	// Applied in time order: the rotation first, then the revocation of
	// k1, which takes c2 (introduced by k1) with it.
	_, err = kr.Lookup("KZ-NCB", c1.Fingerprint())
	if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "revoked since 2026-11-01T10:00:00Z") {
		t.Errorf("k1: %v", err)
	}
	_, err = kr.Lookup("KZ-NCB", c2.Fingerprint())
	if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "with key "+c1.Fingerprint()) {
		t.Errorf("c2: %v", err)
	}
	if _, err := kr.Lookup("KZ-NCB", c3.Fingerprint()); !errors.Is(err, ErrUnknownSigner) || !strings.Contains(err.Error(), "is pending") {
		t.Errorf("c3: %v", err)
	}

	// Without the revocation, both keys are accepted and c2 is current.
	kr = NewKeyring()
	kr.Add(c1)
	if _, _, err := kr.Apply(sts[1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Lookup("KZ-NCB", c1.Fingerprint()); err != nil {
		t.Errorf("k1 after a rotation: %v", err)
	}
	if c, ok := kr.Card("KZ-NCB"); !ok || c != nil && c.Fingerprint() != c2.Fingerprint() {
		t.Errorf("current after a rotation: %v", c)
	}

	// A statement that does not verify stops Apply.
	bad := *rot
	bad.Signature = append([]byte(nil), rot.Signature...)
	bad.Signature[0] ^= 1
	kr = NewKeyring()
	kr.Add(c1)
	if _, _, err := kr.Apply([]*Statement{&bad}); !errors.Is(err, ErrStatement) {
		t.Errorf("a bad signature: %v", err)
	}
}
