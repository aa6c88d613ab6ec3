package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"valise/office"
	"valise/store"
)

// valise runs the command line in-process and returns its exit code and
// output. run is not safe for concurrent use (each command's options live
// in one shared struct), so a test calls it from one goroutine.
func valise(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// mustValise runs the command line and fails the test unless it exits 0.
func mustValise(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := valise(args...)
	if code != 0 {
		t.Fatalf("valise %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fastDir returns a fresh directory, on tmpfs when the machine has one:
// every refused import commits a ledger entry with synchronous=FULL, and
// on a disk the fsyncs alone would make TestTamper take minutes.
func fastDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "valise-cli-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// tamperSetup creates KZ-NCB and CARICC, which trust each other, and a
// bundle of three records from KZ-NCB to CARICC. It returns the directory,
// the homes, KZ-NCB's card and the bundle's bytes.
func tamperSetup(t *testing.T) (dir, kz, ca, kzCard string, bundle []byte) {
	dir = fastDir(t)
	kz, ca = filepath.Join(dir, "kz"), filepath.Join(dir, "ca")
	kzCard, caCard := filepath.Join(dir, "kz.card"), filepath.Join(dir, "ca.card")
	mustValise(t, "init", "--home", kz, "--agency", "KZ-NCB")
	mustValise(t, "init", "--home", ca, "--agency", "CARICC")
	mustValise(t, "card", "--home", kz, "-o", kzCard)
	mustValise(t, "card", "--home", ca, "-o", caCard)
	kc, err := office.ReadCard(kzCard)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := office.ReadCard(caCard)
	if err != nil {
		t.Fatal(err)
	}
	mustValise(t, "peer", "add", "--home", kz, caCard, "--fingerprint", cc.Fingerprint())
	mustValise(t, "peer", "add", "--home", ca, kzCard, "--fingerprint", kc.Fingerprint())
	records := filepath.Join(dir, "records.jsonl")
	if err := os.WriteFile(records, []byte(`{"id":"p-1","schema":"Person","properties":{"name":["Ivan Petrov"],"birthDate":["1975-03-02"],"nationality":["kz"]}}
{"id":"p-2","schema":"Person","properties":{"name":["Айгуль Серикова"],"alias":["Aigul Serikova"]}}
{"id":"o-1","schema":"Organization","properties":{"name":["Steppe Logistics LLP"],"country":["kz"]}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustValise(t, "ingest", "--home", kz, records)
	b := filepath.Join(dir, "b.valise")
	mustValise(t, "pack", "--home", kz, "--to", "CARICC", "-o", b)
	bundle, err = os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return dir, kz, ca, kzCard, bundle
}

func snapshot(t *testing.T, home string) string {
	t.Helper()
	st, err := store.Open(filepath.Join(home, office.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// layout finds the parts of a bundle: the payload starts after the
// header's "---" line, the trailer at its "valise-trailer/v1" line; the
// recipient lines lie in [recipFrom, recipTo).
type layout struct {
	payload, trailer   int
	recipFrom, recipTo int
}

func bundleLayout(t *testing.T, b []byte) layout {
	t.Helper()
	var l layout
	l.payload = bytes.Index(b, []byte("\n---\n")) + len("\n---\n")
	l.trailer = bytes.LastIndex(b, []byte("valise-trailer/v1\n"))
	l.recipFrom = bytes.Index(b, []byte("\nrecipient: ")) + 1
	l.recipTo = l.recipFrom + bytes.IndexByte(b[l.recipFrom:], '\n') + 1
	if l.payload < len("\n---\n") || l.trailer < l.payload || l.recipFrom < 1 || l.recipTo > l.payload {
		t.Fatalf("cannot find the parts of the bundle:\n%q", b)
	}
	if bytes.Contains(b[l.recipTo:l.payload], []byte("\nrecipient: ")) {
		t.Fatalf("want a bundle for one recipient")
	}
	return l
}

var (
	verifyFailed = regexp.MustCompile(`(?m)^valise verify: .*: check "([a-z ]+)" failed: \S`)
	importFailed = regexp.MustCompile(`(?m)^valise import: .*: check "([a-z ]+)" failed: \S`)
)

// TestTamper changes a bundle in every way an attacker or a bad USB stick
// can — one flipped bit anywhere, truncation at every length, bytes
// appended — and checks through the command line that verify and import
// both refuse it, naming the failed check, with the store unchanged.
//
// Cost, measured on tmpfs on a 2-core machine: verify takes about 0.4 ms
// of CPU, import about 2 ms (it opens the store, parses the peer cards,
// loads the keys and commits the refusal to the ledger), 3–4 ms when the
// header is intact and decryption starts. A 3-record bundle is about
// 2.7 KB, 22,000 bits. So verify runs for every bit. Import runs for
// every bit of the header, where the addressing and the fields bound into
// the signature and the inner manifest are, and for one bit of every byte
// after it, rotating through the bit positions (~4,600 runs in all): past
// the header a change is caught by age's authentication, the payload hash
// or the trailer's syntax and signature, whichever bit it is, and verify
// covers every bit there. Truncation at every length runs both. The flips
// take about 20 s, the truncations about 13 s. With -short, every 13th
// case only (about 2 s).
func TestTamper(t *testing.T) {
	t.Parallel()
	dir, _, ca, kzCard, orig := tamperSetup(t)
	l := bundleLayout(t, orig)
	nohome := filepath.Join(dir, "nohome") // the auditor has no office
	path := filepath.Join(dir, "t.valise")
	stride := 1
	if testing.Short() {
		stride = 13
	}
	empty := snapshot(t, ca)

	// The untouched bundle passes both, or the loops below prove nothing.
	write := func(data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(orig)
	if code, out, errOut := valise("verify", "--home", nohome, "--card", kzCard, path); code != 0 {
		t.Fatalf("the untouched bundle does not verify: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := valise("import", "--home", ca, "--dry-run", path); code != 0 || !strings.Contains(out, "3 inserted") {
		t.Fatalf("the untouched bundle does not import: exit %d\n%s%s", code, out, errOut)
	}

	failures := 0
	fail := func(format string, args ...any) {
		t.Helper()
		failures++
		if failures <= 20 {
			t.Errorf(format, args...)
		}
		if failures == 100 {
			t.Fatalf("too many failures")
		}
	}
	imports := 0
	// How often each exit code and check came up, for the log.
	seen := map[string]int{}
	verify := func(what string, allowed ...int) {
		t.Helper()
		code, out, errOut := valise("verify", "--home", nohome, "--card", kzCard, path)
		m := verifyFailed.FindStringSubmatch(errOut)
		if !contains(allowed, code) || m == nil {
			fail("%s: verify exit %d (want one of %v) and a failed check named\nstdout:\n%s\nstderr:\n%s", what, code, allowed, out, errOut)
			return
		}
		seen[fmt.Sprintf("verify exit %d check %q", code, m[1])]++
	}
	imp := func(what string, allowed ...int) int {
		t.Helper()
		code, out, errOut := valise("import", "--home", ca, path)
		m := importFailed.FindStringSubmatch(errOut)
		if !contains(allowed, code) || m == nil || !strings.Contains(out, "store unchanged") {
			fail("%s: import exit %d (want one of %v) and a failed check named\nstdout:\n%s\nstderr:\n%s", what, code, allowed, out, errOut)
		} else {
			seen[fmt.Sprintf("import exit %d check %q", code, m[1])]++
		}
		// A commit cannot be undone by a later refusal, so a snapshot now
		// and then (they cost about as much as a refused import) and one
		// at the end catch any change; the periodic ones say where.
		if imports++; imports%25 == 0 {
			if s := snapshot(t, ca); s != empty {
				t.Fatalf("%s: import exited %d, and the store changed since the previous 25 imports", what, code)
			}
		}
		return code
	}

	start := time.Now()
	for bit := 0; bit < len(orig)*8; bit += stride {
		off := bit / 8
		data := bytes.Clone(orig)
		data[off] ^= 1 << (bit % 8)
		write(data)
		what := fmt.Sprintf("bit %d (byte %d %q→%q)", bit, off, orig[off], data[off])
		verify(what, exitMalformed, exitAuth)
		if off >= l.payload && bit%8 != off%8 {
			continue // payload and trailer: one bit per byte
		}
		inRecipient := off >= l.recipFrom && off < l.recipTo
		if inRecipient {
			imp(what, exitMalformed, exitAuth, exitNotAddress)
		} else {
			imp(what, exitMalformed, exitAuth)
		}
	}
	t.Logf("flipped bits: %d verify and %d import runs in %v", (len(orig)*8+stride-1)/stride, imports, time.Since(start))

	start = time.Now()
	for n := 0; n < len(orig); n += stride {
		write(orig[:n])
		what := fmt.Sprintf("truncated to %d of %d bytes", n, len(orig))
		verify(what, exitMalformed)
		imp(what, exitMalformed)
	}
	t.Logf("truncations: %d in %v", len(orig)/stride, time.Since(start))

	footer := orig[bytes.LastIndex(orig, []byte("valise-end ")):]
	for _, extra := range []struct {
		name string
		data []byte
	}{
		{"a newline", []byte("\n")},
		{"one zero byte", []byte{0}},
		{"one letter", []byte("x")},
		{"4 KiB of zeros", make([]byte, 4096)},
		{"the footer again", footer},
		{"the trailer and footer again", orig[l.trailer:]},
		{"the whole bundle again", orig},
	} {
		write(append(bytes.Clone(orig), extra.data...))
		what := "appended " + extra.name
		verify(what, exitMalformed, exitAuth)
		imp(what, exitMalformed, exitAuth)
	}

	if snapshot(t, ca) != empty {
		t.Fatalf("a refused import changed the store")
	}
	var kinds []string
	for k, n := range seen {
		kinds = append(kinds, fmt.Sprintf("%6d  %s", n, k))
	}
	sort.Strings(kinds)
	t.Logf("refusals:\n%s", strings.Join(kinds, "\n"))
	if stride == 1 && seen[`import exit 5 check "addressing"`] == 0 {
		t.Errorf("no flipped bit in the recipient line was refused as not addressed")
	}

	// Refusals are in the ledger, and nothing was received.
	st, err := store.Open(filepath.Join(ca, office.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.Ledger()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range entries {
		if e.Direction != "refused" {
			t.Errorf("ledger entry %d: %s %s %s: want only refusals", e.N, e.Direction, e.Bundle, e.Result)
		}
		refused++
	}
	if refused == 0 {
		t.Errorf("the ledger records no refusal")
	}
	if code, out, errOut := valise("audit", "--home", ca); code != 0 || !strings.Contains(out, "audit log intact") {
		t.Errorf("audit after the refusals: exit %d\n%s%s", code, tail(out), errOut)
	}

	// Finally the untouched bundle imports, and the snapshot sees it.
	write(orig)
	if code, out, errOut := valise("import", "--home", ca, path); code != 0 || !strings.Contains(out, "3 inserted") {
		t.Fatalf("the untouched bundle does not import after the refusals: exit %d\n%s%s", code, out, errOut)
	}
	if snapshot(t, ca) == empty {
		t.Fatalf("the snapshot does not change on import: the store checks above prove nothing")
	}
}

func contains(l []int, x int) bool {
	for _, y := range l {
		if x == y {
			return true
		}
	}
	return false
}

// tail returns the last lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n") + "\n"
}
