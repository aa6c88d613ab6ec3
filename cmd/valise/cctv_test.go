package main

// The C2SP CCTV age vectors through valise import: each vector's age file
// is the payload of a bundle validly signed by a trusted peer, and the
// importing office's identity file holds the vector's identity. Every
// vector must give the class age gives it (bundle/cctv_test.go checks the
// same at the payload layer), and the store must not change.

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	agetest "c2sp.org/CCTV/age"
	"filippo.io/age"

	"valise/office"
)

type cctvCase struct {
	name, expect string
	identity     age.Identity
	armored      bool
	file         []byte
}

// cctvSingleIdentity returns the vectors that name exactly one X25519 or
// hybrid identity: an office's identity file can hold those (valise never
// decrypts with a passphrase).
func cctvSingleIdentity(t *testing.T) (out []cctvCase, skipped int) {
	entries, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(agetest.Vectors, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		c := cctvCase{name: e.Name()}
		ids, other, zlibbed := 0, false, false
		for {
			line, rest, ok := bytes.Cut(data, []byte("\n"))
			if !ok {
				t.Fatalf("%s: no payload", e.Name())
			}
			data = rest
			if len(line) == 0 {
				break
			}
			key, value, _ := strings.Cut(string(line), ": ")
			switch key {
			case "expect":
				c.expect = value
			case "identity":
				ids++
				if id, err := age.ParseX25519Identity(value); err == nil {
					c.identity = id
				} else if id, err := age.ParseHybridIdentity(value); err == nil {
					c.identity = id
				} else {
					t.Fatalf("%s: identity: %v", e.Name(), err)
				}
			case "passphrase":
				other = true
			case "armored":
				c.armored = true
			case "compressed":
				zlibbed = true
			}
		}
		if zlibbed {
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		c.file = data
		if ids != 1 || other {
			skipped++
			continue
		}
		out = append(out, c)
	}
	return out, skipped
}

func TestCCTVThroughImport(t *testing.T) {
	w := newHostileWorld(t)
	kz, ca := w.kz, w.ca
	vectors, skipped := cctvSingleIdentity(t)
	if len(vectors) < 100 {
		t.Fatalf("only %d CCTV vectors with one identity", len(vectors))
	}
	hybrid, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(ca.home, office.IdentityFile)
	path := filepath.Join(w.dir, "cctv.valise")
	empty := snapshot(t, ca.home)
	classes := map[string]int{}
	for _, v := range vectors {
		// The office's identity file: the vector's identity and one of
		// the other kind, as valise writes them.
		var ids string
		switch id := v.identity.(type) {
		case *age.X25519Identity:
			ids = hybrid.String() + "\n" + id.String() + "\n"
		case *age.HybridIdentity:
			ids = id.String() + "\n" + x25519.String() + "\n"
		}
		os.Remove(idPath)
		if err := os.WriteFile(idPath, []byte("# CCTV vector "+v.name+"\n"+ids), 0o600); err != nil {
			t.Fatal(err)
		}
		h := newHeader(t, kz, 1, ca)
		if err := os.WriteFile(path, signed(h.Marshal(), v.file, 0, kz.keys.Signing), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := valise("import", "--home", ca.home, path)
		m := refusedCheck.FindStringSubmatch(errOut)
		check := ""
		if m != nil {
			check = m[1]
		}
		what := v.expect
		if v.armored {
			what += " (armored)"
		}
		classes[fmt.Sprintf("age %-27s -> exit %d check %q", what, code, check)]++
		var want map[string]int
		switch {
		case v.expect == "success" && !v.armored:
			// Past decryption: the plaintext is not a valise payload.
			want = map[string]int{"decompression": exitMalformed, "manifest": exitAuth}
		case v.expect == "payload failure":
			want = map[string]int{"decryption": exitAuth, "decompression": exitMalformed}
		default:
			want = map[string]int{"decryption": exitAuth}
		}
		if wc, ok := want[check]; !ok || wc != code || !strings.Contains(out, "store unchanged") {
			t.Errorf("%s (age: %s): import exit %d check %q, want one of %v\n%s%s", v.name, what, code, check, want, out, errOut)
		}
		if v.expect == "payload failure" && check == "decompression" {
			// Only when age released authenticated plaintext before its
			// failure (bundle/cctv_test.go checks which).
			r, err := age.Decrypt(bytes.NewReader(v.file), v.identity)
			var one [1]byte
			if err != nil {
				t.Errorf("%s: decompression failed, but age refuses the header: %v", v.name, err)
			} else if n, _ := r.Read(one[:]); n == 0 {
				t.Errorf("%s: decompression failed, but age releases no plaintext", v.name)
			}
		}
	}
	if snapshot(t, ca.home) != empty {
		t.Errorf("the CCTV vectors changed the store")
	}
	var lines []string
	for k, n := range classes {
		lines = append(lines, fmt.Sprintf("%4d  %s", n, k))
	}
	sort.Strings(lines)
	t.Logf("%d CCTV vectors through valise import (%d skipped: scrypt or several identities):\n%s", len(vectors), skipped, strings.Join(lines, "\n"))
}
