package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCard(t testing.TB) (*Keys, *Card) {
	t.Helper()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCard("KZ-NCB", "Kazakhstan NCB", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), k)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func TestCardRoundTrip(t *testing.T) {
	_, c := testCard(t)
	data := c.Marshal()
	p, err := ParseCard(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Marshal(), data) {
		t.Fatal("parse then marshal changed the card")
	}
	if p.Fingerprint() != c.Fingerprint() {
		t.Fatal("fingerprint changed")
	}
	if !p.HasHybrid() || len(p.AgeRecipients(true)) != 1 || len(p.AgeRecipients(false)) != 1 {
		t.Fatal("card should offer one hybrid and one X25519 recipient")
	}
}

func TestCardTampering(t *testing.T) {
	_, c := testCard(t)
	data := c.Marshal()
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x01
		if _, err := ParseCard(bad); err == nil {
			t.Fatalf("flipping byte %d (%q) was accepted", i, data[i])
		}
	}
	for _, mod := range []func(string) string{
		func(s string) string { return s + "\n" },
		func(s string) string { return strings.Replace(s, "agency: ", "agency:  ", 1) },
		func(s string) string { return strings.Replace(s, "\n", "\r\n", 1) },
		func(s string) string { return "x" + s },
	} {
		if _, err := ParseCard([]byte(mod(string(data)))); err == nil {
			t.Fatalf("non-canonical card accepted")
		}
	}
}

// weakKeys are encodings under which ed25519.Verify can accept forgeries:
// small-order points and non-canonical encodings.
var weakKeys = map[string][]byte{
	"all zero":            make([]byte, 32),
	"identity 01 00…":     append([]byte{1}, make([]byte, 31)...),
	"order 2 (-1)":        append(append([]byte{0xec}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f),
	"non-canonical y=p+1": append(append([]byte{0xee}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f),
	"order 4":             decodeHex("0000000000000000000000000000000000000000000000000000000000000080"),
	"order 8":             decodeHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
}

func decodeHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

func TestWeakKeysRefused(t *testing.T) {
	for name, key := range weakKeys {
		if err := CheckPublicKey(key); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: got %v, want ErrWeakKey", name, err)
		}
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if err := CheckPublicKey(pub); err != nil {
		t.Fatalf("a fresh key was refused: %v", err)
	}
	// A card carrying a weak key is refused even before its signature.
	_, c := testCard(t)
	for name, key := range weakKeys {
		card := strings.Replace(string(c.Marshal()), base64.StdEncoding.EncodeToString(c.SigningKey), base64.StdEncoding.EncodeToString(key), 1)
		if _, err := ParseCard([]byte(card)); !errors.Is(err, ErrCard) || !strings.Contains(err.Error(), "weak") {
			t.Errorf("%s: card accepted or refused for another reason: %v", name, err)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	_, c := testCard(t)
	f := c.Fingerprint()
	for _, in := range []string{f, strings.ToLower(f), strings.ReplaceAll(f, "-", ""), strings.ReplaceAll(f, "-", " ")} {
		if NormalizeFingerprint(in) != f {
			t.Errorf("%q did not normalise to %q", in, f)
		}
	}
	for _, in := range []string{"", f[:10], f + "0", "ZZZZ" + f[4:]} {
		if NormalizeFingerprint(in) != "" {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k, _ := testCard(t)
	id, sig := filepath.Join(dir, "identity.txt"), filepath.Join(dir, "signing.key")
	if err := k.WriteFiles(id, sig, "KZ-NCB", ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{id, sig} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", p, st.Mode(), err)
		}
	}
	if err := k.WriteFiles(id, sig, "KZ-NCB", ""); !errors.Is(err, ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	l, err := Load(id, sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Public().Equal(k.Public()) || l.Hybrid.String() != k.Hybrid.String() {
		t.Fatal("loaded keys differ")
	}
	os.Chmod(sig, 0o644)
	if _, err := Load(id, sig, nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key accepted: %v", err)
	}
}

func TestPassphraseKeyFiles(t *testing.T) {
	dir := t.TempDir()
	k, _ := testCard(t)
	id, sig := filepath.Join(dir, "identity.txt"), filepath.Join(dir, "signing.key")
	if err := k.WriteFiles(id, sig, "KZ-NCB", "correct horse"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(sig)
	if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) || bytes.Contains(data, []byte(signingKeyPrefix)) {
		t.Fatal("signing key not encrypted")
	}
	if _, err := Load(id, sig, nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}
	if _, err := Load(id, sig, func() (string, error) { return "wrong", nil }); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	calls := 0
	l, err := Load(id, sig, func() (string, error) { calls++; return "correct horse", nil })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("passphrase asked %d times, want 1", calls)
	}
	if !l.Public().Equal(k.Public()) {
		t.Fatal("loaded key differs")
	}
}

func FuzzParseCard(f *testing.F) {
	_, c := testCard(f)
	f.Add(c.Marshal())
	f.Add([]byte("valise-card/v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCard(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), data) {
			t.Fatalf("parse then marshal is not the identity")
		}
	})
}
