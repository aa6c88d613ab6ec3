//go:build unix

package main

// Secret key files: refused when others could read or replace them, and
// never echoed anywhere.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"valise/crypto"
	"valise/office"
)

// TestKeyFilesRefused: identity and signing key files with a mode wider
// than 0600, owned by another user, reached through a symbolic link, or
// not regular files are refused with a message that says what to do, and
// the command that needed them does nothing.
func TestKeyFilesRefused(t *testing.T) {
	w := newHostileWorld(t)
	kz, ca := w.kz, w.ca
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "a.jsonl", personLines("a", 2, 0)))
	bundlePath := filepath.Join(w.dir, "b.valise")
	mustRun(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", bundlePath)
	if os.Geteuid() != 0 {
		t.Log("not root: the owner cases need chown and are skipped")
	}
	elsewhere := filepath.Join(w.dir, "keys-elsewhere")
	if err := os.MkdirAll(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	type setup func(t *testing.T, path string) (undo func())
	chmod := func(mode os.FileMode) setup {
		return func(t *testing.T, path string) func() {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			return func() { os.Chmod(path, 0o600) }
		}
	}
	cases := []struct {
		name string
		do   setup
		want string
		root bool
	}{
		{"mode 0644", chmod(0o644), "chmod 600", false},
		{"mode 0640", chmod(0o640), "chmod 600", false},
		{"mode 0604", chmod(0o604), "chmod 600", false},
		{"mode 0660", chmod(0o660), "chmod 600", false},
		{"mode 0700", chmod(0o700), "chmod 600", false},
		{"mode 0602", chmod(0o602), "chmod 600", false},
		{"owned by nobody", func(t *testing.T, path string) func() {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return func() { os.Chown(path, 0, 0) }
		}, "owned by uid 65534", true},
		{"owned by nobody's group only", func(t *testing.T, path string) func() {
			// The group does not matter with mode 0600; the owner does.
			if err := os.Chown(path, 0, 65534); err != nil {
				t.Fatal(err)
			}
			return func() { os.Chown(path, 0, 0) }
		}, "", true},
		{"a symbolic link to a 0600 file", func(t *testing.T, path string) func() {
			target := filepath.Join(elsewhere, filepath.Base(path))
			if err := os.Rename(path, target); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(path); os.Rename(target, path) }
		}, "symbolic link", false},
		{"a relative symbolic link", func(t *testing.T, path string) func() {
			target := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".real")
			if err := os.Rename(path, target); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Base(target), path); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(path); os.Rename(target, path) }
		}, "symbolic link", false},
		{"a FIFO", func(t *testing.T, path string) func() {
			saved := path + ".saved"
			if err := os.Rename(path, saved); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(path); os.Rename(saved, path) }
		}, "not a regular file", false},
	}
	files := []string{office.IdentityFile, office.SigningFile}
	runs, refused := 0, 0
	for _, file := range files {
		for _, tc := range cases {
			if tc.root && os.Geteuid() != 0 {
				continue
			}
			for _, cmd := range []string{"pack", "import"} {
				home := kz.home
				if cmd == "import" {
					home = ca.home
				}
				path := filepath.Join(home, file)
				undo := tc.do(t, path)
				before := snapshot(t, home)
				out := filepath.Join(w.dir, "out.valise")
				var args []string
				if cmd == "pack" {
					args = []string{"pack", "--home", home, "--to", "CARICC", "-o", out}
				} else {
					args = []string{"import", "--home", home, "--dry-run", bundlePath}
				}
				code, stdout, stderr := valise(args...)
				runs++
				undo()
				if tc.want == "" {
					if code != 0 {
						t.Errorf("%s %s, %s: exit %d\n%s%s", file, tc.name, cmd, code, stdout, stderr)
					}
					os.Remove(out)
					continue
				}
				if code == 0 || !strings.Contains(stdout+stderr, tc.want) || !strings.Contains(stdout+stderr, file) {
					t.Errorf("%s %s, %s: exit %d, want a refusal naming the file and saying %q\n%s%s", file, tc.name, cmd, code, tc.want, stdout, stderr)
					continue
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("%s %s: pack wrote %s", file, tc.name, out)
					os.Remove(out)
				}
				if snapshot(t, home) != before {
					t.Errorf("%s %s, %s: the store changed", file, tc.name, cmd)
				}
				refused++
				t.Logf("%s %s, %s: exit %d: %s", file, tc.name, cmd, code, strings.TrimSpace(stdout+stderr))
			}
		}
	}
	t.Logf("key files: %d runs, %d refused as required (the rest must be accepted)", runs, refused)
	// Untouched, both work again.
	mustRun(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", filepath.Join(w.dir, "after.valise"))
	mustRun(t, "import", "--home", ca.home, bundlePath)
}

// secretStrings returns the forms in which an office's secret keys could
// leak: the key file lines, the seed in hex and base64, and stretches of
// each long enough to identify a key.
func secretStrings(k *crypto.Keys) []string {
	seed := k.Signing.Seed()
	out := []string{k.Hybrid.String(), k.X25519.String(), base64.RawURLEncoding.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(seed), hex.EncodeToString(seed), hex.EncodeToString(k.Signing),
		base64.StdEncoding.EncodeToString(k.Signing), string(seed)}
	// 16-character stretches of the secret part of each encoding.
	for _, s := range []string{strings.TrimPrefix(k.Hybrid.String(), "AGE-SECRET-KEY-PQ-1"), strings.TrimPrefix(k.X25519.String(), "AGE-SECRET-KEY-1"),
		base64.RawURLEncoding.EncodeToString(seed), hex.EncodeToString(seed)} {
		for i := 0; i+16 <= len(s); i += 8 {
			out = append(out, s[i:i+16])
		}
	}
	return out
}

// TestNoSecretInOutput runs a whole session of two offices, with errors on
// the way, and looks for their secret keys and passphrase in every output,
// in the store (database, WAL and shared memory) and in every file the
// session wrote except the key files themselves.
func TestNoSecretInOutput(t *testing.T) {
	dir := fastDir(t)
	const pass = "Tr0ub4dor&3-horse-staple"
	t.Setenv("VALISE_PASSPHRASE", pass)
	kzHome, caHome := filepath.Join(dir, "kz"), filepath.Join(dir, "ca")
	var all bytes.Buffer
	runLog := func(args ...string) int {
		code, out, errOut := valise(args...)
		all.WriteString(out)
		all.WriteString(errOut)
		return code
	}
	must := func(args ...string) {
		t.Helper()
		if code := runLog(args...); code != 0 {
			t.Fatalf("valise %s: exit %d\n%s", strings.Join(args, " "), code, tail(all.String()))
		}
	}
	must("init", "--home", kzHome, "--agency", "KZ-NCB", "--passphrase")
	must("init", "--home", caHome, "--agency", "CARICC")
	must("card", "--home", kzHome, "-o", filepath.Join(dir, "kz.card"))
	must("card", "--home", caHome, "-o", filepath.Join(dir, "ca.card"))
	must("card", "--home", caHome)
	kc, _ := office.ReadCard(filepath.Join(dir, "kz.card"))
	cc, _ := office.ReadCard(filepath.Join(dir, "ca.card"))
	must("peer", "add", "--home", kzHome, filepath.Join(dir, "ca.card"), "--fingerprint", cc.Fingerprint())
	must("peer", "add", "--home", caHome, filepath.Join(dir, "kz.card"), "--fingerprint", kc.Fingerprint())
	must("peer", "list", "--home", caHome)
	must("ingest", "--home", kzHome, writeFile(t, dir, "a.jsonl", personLines("a", 20, 0)))
	must("ingest", "--home", caHome, writeFile(t, dir, "c.jsonl", personLines("a", 3, 0)))
	must("pack", "--home", kzHome, "--to", "CARICC", "-o", filepath.Join(dir, "b1.valise"))
	must("verify", "--home", filepath.Join(dir, "auditor"), "--card", filepath.Join(dir, "kz.card"), filepath.Join(dir, "b1.valise"))
	must("verify", "--home", caHome, "--json", filepath.Join(dir, "b1.valise"))
	must("import", "--home", caHome, "--dry-run", filepath.Join(dir, "b1.valise"))
	must("import", "--home", caHome, "--json", filepath.Join(dir, "b1.valise"))
	runLog("import", "--home", caHome, filepath.Join(dir, "b1.valise")) // a replay
	must("show", "--home", caHome, "--history", "a-000001@KZ-NCB")
	must("conflicts", "--home", caHome, "--html", filepath.Join(dir, "conflicts.html"))
	must("duplicates", "--home", caHome)
	for _, f := range []string{"jsonl", "csv", "ftm"} {
		must("export", "--home", caHome, "--format", f, "--include-restricted")
	}
	must("edit", "--home", caHome, "a-000002@KZ-NCB", "--set", "name=Changed")
	must("pack", "--home", caHome, "--to", "KZ-NCB", "-o", filepath.Join(dir, "b2.valise"))
	must("import", "--home", kzHome, filepath.Join(dir, "b2.valise"))
	must("log", "--home", kzHome)
	must("status", "--home", kzHome)
	must("audit", "--home", kzHome)
	must("audit", "--home", kzHome, "--export", filepath.Join(dir, "audit.txt"))
	must("key", "rotate", "--home", caHome)
	must("pack", "--home", caHome, "--to", "KZ-NCB", "-o", filepath.Join(dir, "b3.valise"))
	runLog("import", "--home", kzHome, filepath.Join(dir, "b3.valise"))

	// Errors on the way: a wrong passphrase, a damaged key, a wide mode.
	t.Setenv("VALISE_PASSPHRASE", "wrong")
	runLog("pack", "--home", kzHome, "--to", "CARICC", "-o", filepath.Join(dir, "x.valise"))
	t.Setenv("VALISE_PASSPHRASE", pass)
	caKeys, err := crypto.Load(filepath.Join(caHome, office.IdentityFile), filepath.Join(caHome, office.SigningFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	kzKeys, err := crypto.Load(filepath.Join(kzHome, office.IdentityFile), filepath.Join(kzHome, office.SigningFile), func() (string, error) { return pass, nil })
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(caHome, office.IdentityFile)
	orig, _ := os.ReadFile(idPath)
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { // one character of the X25519 key changed
			s := caKeys.X25519.String()
			i := bytes.Index(b, []byte(s)) + len(s) - 10
			b[i] ^= 1
			return b
		},
		func(b []byte) []byte { // the hybrid key cut short
			s := caKeys.Hybrid.String()
			return bytes.Replace(b, []byte(s), []byte(s[:len(s)-5]), 1)
		},
		func(b []byte) []byte { // a stray character in a key
			s := caKeys.X25519.String()
			return bytes.Replace(b, []byte(s), []byte(s[:30]+"!"+s[30:]), 1)
		},
		func(b []byte) []byte { // lowercase key
			s := caKeys.X25519.String()
			return bytes.Replace(b, []byte(s), []byte(strings.ToLower(s)), 1)
		},
	} {
		os.Remove(idPath)
		os.WriteFile(idPath, damage(bytes.Clone(orig)), 0o600)
		if code := runLog("import", "--home", caHome, "--dry-run", filepath.Join(dir, "b1.valise")); code == 0 {
			t.Errorf("a damaged identity file was accepted")
		}
	}
	os.Remove(idPath)
	os.WriteFile(idPath, orig, 0o600)
	sigPath := filepath.Join(caHome, office.SigningFile)
	sig, _ := os.ReadFile(sigPath)
	os.Remove(sigPath)
	os.WriteFile(sigPath, bytes.Replace(sig, []byte("KEY-"), []byte("KEY-!"), 1), 0o600)
	runLog("pack", "--home", caHome, "--to", "KZ-NCB", "-o", filepath.Join(dir, "y.valise"))
	os.Remove(sigPath)
	os.WriteFile(sigPath, sig, 0o644)
	runLog("pack", "--home", caHome, "--to", "KZ-NCB", "-o", filepath.Join(dir, "y.valise"))
	os.Chmod(sigPath, 0o600)

	secrets := map[string][]string{"KZ-NCB": append(secretStrings(kzKeys), pass), "CARICC": secretStrings(caKeys)}
	// Every generation's keys, the rotated ones included.
	for _, home := range []string{kzHome, caHome} {
		ids, _ := filepath.Glob(filepath.Join(home, "identity*.txt"))
		for _, id := range ids {
			sigFile := strings.Replace(strings.Replace(id, "identity", "signing", 1), ".txt", ".key", 1)
			if k, err := crypto.Load(id, sigFile, func() (string, error) { return pass, nil }); err == nil {
				secrets[filepath.Base(id)] = secretStrings(k)
			}
		}
	}
	look := func(where string, data []byte) {
		for owner, ss := range secrets {
			for _, s := range ss {
				if len(s) >= 8 && bytes.Contains(data, []byte(s)) {
					t.Errorf("%s holds secret material of %s (%q)", where, owner, s)
					return
				}
			}
		}
	}
	look("the command output", all.Bytes())
	files := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		base := filepath.Base(p)
		if strings.HasPrefix(base, "identity") || strings.HasPrefix(base, "signing") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("reading %s: %v", p, err)
			return nil
		}
		files++
		look(p, data)
		return nil
	})
	if files < 10 {
		t.Errorf("only %d files searched", files)
	}
	if !bytes.Contains(all.Bytes(), []byte("identity")) {
		t.Errorf("the damaged identity file was never reported")
	}
	t.Logf("searched %d bytes of output and %d files for %d secret strings", all.Len(), files, len(secrets["KZ-NCB"])+len(secrets["CARICC"]))
}
