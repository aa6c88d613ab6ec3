package main

// Helpers for the hostile-input, crash, concurrency and vector tests: an
// adversary that holds the offices' secret keys and builds bundles byte by
// byte, following docs/FORMAT.md rather than package bundle's writer, so
// that it can write what no valise writes.
//
// The tests that call run in-process (valise, mustRun) are not parallel:
// run keeps each command's options in shared variables, and TestTamper
// runs it in parallel with the scripts. Sequential tests never overlap
// with parallel ones.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"

	"valise/bundle"
	"valise/crypto"
	"valise/internal/testenv"
	"valise/office"
)

// peerOffice is an office as the adversary knows it: its home, public card
// and secret keys.
type peerOffice struct {
	agency   string
	home     string
	cardPath string
	card     *crypto.Card
	keys     *crypto.Keys
}

// setupOffices creates one office per agency in dir, each trusting every
// other, and loads their secret keys.
func setupOffices(t testing.TB, dir string, agencies ...string) map[string]*peerOffice {
	t.Helper()
	return setupOfficesWith(t, mustRun, dir, agencies...)
}

// setupOfficesWith is setupOffices running valise with run (mustRun
// in-process, binMust as a subprocess).
func setupOfficesWith(t testing.TB, mustRun func(testing.TB, ...string) string, dir string, agencies ...string) map[string]*peerOffice {
	t.Helper()
	out := map[string]*peerOffice{}
	for _, a := range agencies {
		p := &peerOffice{agency: a, home: filepath.Join(dir, strings.ToLower(a)), cardPath: filepath.Join(dir, strings.ToLower(a)+".card")}
		mustRun(t, "init", "--home", p.home, "--agency", a)
		mustRun(t, "card", "--home", p.home, "-o", p.cardPath)
		c, err := office.ReadCard(p.cardPath)
		if err != nil {
			t.Fatal(err)
		}
		p.card = c
		k, err := crypto.Load(filepath.Join(p.home, office.IdentityFile), filepath.Join(p.home, office.SigningFile), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.keys = k
		out[a] = p
	}
	for _, a := range agencies {
		for _, b := range agencies {
			if a != b {
				mustRun(t, "peer", "add", "--home", out[a].home, out[b].cardPath, "--fingerprint", out[b].card.Fingerprint())
			}
		}
	}
	return out
}

// mustRun is mustValise for a testing.TB.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	code, out, errOut := valise(args...)
	if code != 0 {
		t.Fatalf("valise %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// personLines returns n valid JSON lines of Person records for ingest,
// ids prefix-000000 onwards; pad adds that many bytes of varied text to
// each, to make big payloads that do not compress away.
func personLines(prefix string, n, pad int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		notes := ""
		if pad > 0 {
			var s []byte
			h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
			for len(s) < pad {
				s = hex.AppendEncode(s, h[:])
				h = sha256.Sum256(h[:])
			}
			notes = fmt.Sprintf(`,"notes":[%q]`, s[:pad])
		}
		fmt.Fprintf(&b, `{"id":"%s-%06d","schema":"Person","properties":{"name":["Person %d of %s"],"birthDate":["1975-03-02"]%s}}`+"\n", prefix, i, i, prefix, notes)
	}
	return b.Bytes()
}

// parts splits a bundle into header, payload and trailer (footer
// excluded), by the layout of FORMAT.md §1.
type parts struct{ header, payload, trailer []byte }

func splitBundle(t testing.TB, b []byte) parts {
	t.Helper()
	end := bytes.Index(b, []byte("\n---\n"))
	if end < 0 || len(b) < 16 {
		t.Fatalf("not a bundle")
	}
	foot := b[len(b)-16:]
	var n int
	if _, err := fmt.Sscanf(string(foot), "valise-end %04x\n", &n); err != nil {
		t.Fatalf("footer %q: %v", foot, err)
	}
	hdrEnd := end + len("\n---\n")
	trStart := len(b) - 16 - n
	return parts{header: b[:hdrEnd], payload: b[hdrEnd:trStart], trailer: b[trStart : len(b)-16]}
}

// payloadHash is the payload hash of FORMAT.md §4.1, written from the
// document: SHA-256 over a prefix line and the SHA-256 of each 1 MiB chunk.
func payloadHash(payload []byte) [32]byte {
	joined := []byte("valise payload chunks v1 1048576\n")
	for off := 0; off < len(payload); off += 1 << 20 {
		sum := sha256.Sum256(payload[off:min(off+1<<20, len(payload))])
		joined = append(joined, sum[:]...)
	}
	return sha256.Sum256(joined)
}

// trailerBody is the signed trailer text without the signature line.
func trailerBody(payload []byte, records uint64) []byte {
	sum := payloadHash(payload)
	return []byte(fmt.Sprintf("valise-trailer/v1\npayload-length: %d\npayload-hash: %s\nrecords: %d\n", len(payload), hex.EncodeToString(sum[:]), records))
}

const sigContext = "valise-bundle-signature/v1\x00"

// assemble joins header, payload and a trailer body, signs header and
// body with key in the valise context and appends signature and footer.
func assemble(header, payload, body []byte, key ed25519.PrivateKey) []byte {
	msg := append(append([]byte(sigContext), header...), body...)
	return assembleSig(header, payload, body, ed25519.Sign(key, msg))
}

// assembleSig is assemble with a given signature.
func assembleSig(header, payload, body, sig []byte) []byte {
	tr := append(append([]byte(nil), body...), "signature: "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
	return assembleRaw(header, payload, tr)
}

// assembleRaw joins the parts and the footer for the trailer tr as given.
func assembleRaw(header, payload, tr []byte) []byte {
	out := append(append(append([]byte(nil), header...), payload...), tr...)
	return append(out, fmt.Sprintf("valise-end %04x\n", len(tr))...)
}

// signed builds a validly signed bundle of header and payload declaring
// records.
func signed(header, payload []byte, records uint64, key ed25519.PrivateKey) []byte {
	return assemble(header, payload, trailerBody(payload, records), key)
}

// newHeader returns a header from sender to the recipients, sequence seq
// for each, with a fresh id.
func newHeader(t testing.TB, from *peerOffice, seq uint64, to ...*peerOffice) *bundle.Header {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	h := &bundle.Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: from.agency,
		SenderKey: from.card.Fingerprint(), Schema: "1.0", Compression: bundle.Compression, Encryption: bundle.EncryptionX25519}
	for _, p := range to {
		h.Recipients = append(h.Recipients, bundle.Recipient{Agency: p.agency, Fingerprint: p.card.Fingerprint(), Sequence: seq})
	}
	bundle.SortRecipients(h.Recipients)
	return h
}

// x25519Recipients returns the classic age recipients of the offices.
func x25519Recipients(ps ...*peerOffice) []age.Recipient {
	var out []age.Recipient
	for _, p := range ps {
		out = append(out, p.card.AgeRecipients(false)...)
	}
	return out
}

// encrypt age-encrypts plain to recipients.
func encrypt(t testing.TB, plain []byte, to []age.Recipient) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := age.Encrypt(&b, to...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// compress returns one zstd frame of the parts.
func compress(parts ...[]byte) []byte {
	var b bytes.Buffer
	zw, _ := zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1))
	for _, p := range parts {
		zw.Write(p)
	}
	zw.Close()
	return b.Bytes()
}

// decrypt returns the decompressed plaintext of a bundle's payload.
func decrypt(t testing.TB, payload []byte, ids ...age.Identity) []byte {
	t.Helper()
	ar, err := age.Decrypt(bytes.NewReader(payload), ids...)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(ar)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestLen returns the length of the inner manifest at the start of a
// plaintext: through the first "---" line.
func manifestLen(t testing.TB, plain []byte) int {
	t.Helper()
	i := bytes.Index(plain, []byte("\n---\n"))
	if i < 0 {
		t.Fatalf("no manifest in %q", plain)
	}
	return i + len("\n---\n")
}

// genuineManifest returns the inner manifest the real writer makes for h
// (bundle.NewWriter), so that the tests follow the manifest as it grows.
func genuineManifest(t testing.TB, h *bundle.Header, from *peerOffice, to ...*peerOffice) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := bundle.NewWriter(&b, h, from.keys.Signing, x25519Recipients(to...))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := splitBundle(t, b.Bytes())
	plain := decrypt(t, p.payload, to[0].keys.Identities...)
	return plain[:manifestLen(t, plain)]
}

var headerHashLine = regexp.MustCompile(`(?m)^header-sha256: [0-9a-f]{64}$`)

// rebind points a manifest (or a plaintext starting with one) at other
// header bytes.
func rebind(t testing.TB, plain, header []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(header)
	if !headerHashLine.Match(plain) {
		t.Fatalf("no header-sha256 line in %q", plain)
	}
	return headerHashLine.ReplaceAll(plain, []byte("header-sha256: "+hex.EncodeToString(sum[:])))
}

// runBinary runs the valise command (the test binary, which testscript
// puts on PATH under that name) as a subprocess and reports its exit
// code, output and peak resident memory, which the child measures itself
// (testenv.RunPeak: its rusage would count the test process it was
// forked from).
func runBinary(t testing.TB, args ...string) (code int, stdout, stderr string, maxRSS int64, took time.Duration) {
	t.Helper()
	cmd := valiseCmd(t, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	maxRSS, err := testenv.RunPeak(t, cmd)
	took = time.Since(start)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running valise: %v", err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String(), maxRSS, took
}

// refusedCheck finds the check an import or verify refusal names.
var refusedCheck = regexp.MustCompile(`(?m)^valise (?:import|verify): .*: check "([a-z ]+)" failed: \S`)

// fakeStanzas returns n age stanzas of type typ ("X25519" or
// "mlkem768x25519") with random shares and bodies.
func fakeStanzas(n int, typ string) []byte {
	argLen := 32
	if typ == "mlkem768x25519" {
		argLen = 1120
	}
	arg, body := make([]byte, argLen), make([]byte, 32)
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		rand.Read(arg)
		rand.Read(body)
		fmt.Fprintf(&b, "-> %s %s\n%s\n", typ, base64.RawStdEncoding.EncodeToString(arg), base64.RawStdEncoding.EncodeToString(body))
	}
	return b.Bytes()
}

// spliceStanzas inserts stanza lines before the first stanza of an age
// file. The header MAC no longer matches, which age checks last.
func spliceStanzas(t testing.TB, ageFile, stanzas []byte) []byte {
	t.Helper()
	i := bytes.Index(ageFile, []byte("\n-> "))
	if i < 0 {
		t.Fatalf("no stanza in the age file")
	}
	i++
	return append(append(append([]byte(nil), ageFile[:i]...), stanzas...), ageFile[i:]...)
}

// stanzasOf returns the stanza lines of an age file's header.
func stanzasOf(t testing.TB, ageFile []byte) []byte {
	t.Helper()
	i := bytes.Index(ageFile, []byte("\n-> "))
	j := bytes.Index(ageFile, []byte("\n--- "))
	if i < 0 || j < i {
		t.Fatalf("no stanza in the age file")
	}
	return append(ageFile[i+1:j+1:j+1], nil...)
}

// encryptScrypt encrypts plain with a passphrase, as age -p does.
func encryptScrypt(t testing.TB, plain []byte) []byte {
	t.Helper()
	r, err := age.NewScryptRecipient("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	return encrypt(t, plain, []age.Recipient{r})
}

// encryptArmored encrypts plain as an ASCII-armored age file.
func encryptArmored(t testing.TB, plain []byte, to []age.Recipient) []byte {
	t.Helper()
	var b bytes.Buffer
	aw := armor.NewWriter(&b)
	w, err := age.Encrypt(aw, to...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// greaseRecipient writes a stanza of a type no valise or age identity
// knows.
type greaseRecipient struct{}

func (greaseRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	return []*age.Stanza{{Type: "valise-grease", Args: []string{"x"}, Body: append([]byte(nil), fileKey...)}}, nil
}

// valiseCmd returns a command running the valise binary (the test binary,
// which testscript puts on PATH under that name).
func valiseCmd(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	prog, err := exec.LookPath("valise")
	if err != nil {
		t.Fatalf("valise is not on PATH: %v", err)
	}
	return exec.Command(prog, args...)
}

// binRun runs valise as a subprocess: safe from parallel tests.
func binRun(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := valiseCmd(t, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running valise: %v", err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// binMust runs valise as a subprocess and fails the test unless it exits 0.
func binMust(t testing.TB, args ...string) string {
	t.Helper()
	code, out, errOut := binRun(t, args...)
	if code != 0 {
		t.Fatalf("valise %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// copyTree copies the regular files of src into dst (created), keeping
// their modes.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
