package main

// valise's published test vectors, testdata/vectors at the root of the
// repository: good and bad bundles, one failure each, with the expected
// exit code and check in a small header file beside each. TestVectors runs
// them through the command line and the bundle package; TestGenerateVectors
// writes them (go test ./cmd/valise -run TestGenerateVectors -vectors.update),
// deterministically: the keys and every random choice come from a fixed
// seed (testing/cryptotest), the ids and times are fixed.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"valise/bundle"
	"valise/crypto"
	"valise/merge"
	"valise/office"
	"valise/schema"
)

var updateVectors = flag.Bool("vectors.update", false, "regenerate the published test vectors in testdata/vectors")

const vectorsDir = "../../testdata/vectors"

// vectorMeta is the header file of one vector.
type vectorMeta struct {
	Name        string
	Bundle      string
	Expect      string // ok or fail
	ImportExit  int
	ImportCheck string
	VerifyExit  int
	VerifyCheck string
	Recipient   string
	Cards       []string
	Records     int
	Comment     string
}

func (m *vectorMeta) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "valise-test-vector/v1\nname: %s\nbundle: %s\nexpect: %s\n", m.Name, m.Bundle, m.Expect)
	fmt.Fprintf(&b, "import-exit: %d\n", m.ImportExit)
	if m.ImportCheck != "" {
		fmt.Fprintf(&b, "import-check: %s\n", m.ImportCheck)
	}
	fmt.Fprintf(&b, "verify-exit: %d\n", m.VerifyExit)
	if m.VerifyCheck != "" {
		fmt.Fprintf(&b, "verify-check: %s\n", m.VerifyCheck)
	}
	fmt.Fprintf(&b, "recipient: %s\ncards: %s\n", m.Recipient, strings.Join(m.Cards, " "))
	if m.Expect == "ok" {
		fmt.Fprintf(&b, "records: %d\n", m.Records)
	}
	fmt.Fprintf(&b, "comment: %s\n", m.Comment)
	return b.Bytes()
}

func parseVectorMeta(data []byte) (*vectorMeta, error) {
	m := &vectorMeta{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			if line != "valise-test-vector/v1" {
				return nil, fmt.Errorf("not a vector header: %q", line)
			}
			first = false
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("bad line %q", line)
		}
		var err error
		switch k {
		case "name":
			m.Name = v
		case "bundle":
			m.Bundle = v
		case "expect":
			m.Expect = v
		case "import-exit":
			m.ImportExit, err = strconv.Atoi(v)
		case "import-check":
			m.ImportCheck = v
		case "verify-exit":
			m.VerifyExit, err = strconv.Atoi(v)
		case "verify-check":
			m.VerifyCheck = v
		case "recipient":
			m.Recipient = v
		case "cards":
			m.Cards = strings.Fields(v)
		case "records":
			m.Records, err = strconv.Atoi(v)
		case "comment":
			m.Comment = v
		default:
			return nil, fmt.Errorf("unknown field %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k, err)
		}
	}
	return m, sc.Err()
}

// TestVectors runs every published vector: valise verify with the cards it
// names, valise import into an office holding the recipient's published
// test keys, and the bundle package directly.
func TestVectors(t *testing.T) {
	metas, err := filepath.Glob(filepath.Join(vectorsDir, "*.txt"))
	if err != nil || len(metas) < 20 {
		t.Fatalf("want the published vectors in %s: %v (%d found)", vectorsDir, err, len(metas))
	}
	dir := fastDir(t)
	keys := filepath.Join(vectorsDir, "keys")
	// The recipient office: initialised, then given the published test
	// keys and card, trusting the published senders' cards.
	template := filepath.Join(dir, "template")
	// The published key files are 0644 in git; valise reads secret keys
	// only from files of mode 0600: copy them first. valise has no
	// command to adopt existing keys; office.Init does it.
	adopt := filepath.Join(dir, "adopt")
	if err := os.MkdirAll(adopt, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"CARICC.identity.txt", "CARICC.signing.key"} {
		data, err := os.ReadFile(filepath.Join(keys, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(adopt, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pubKeys, err := crypto.Load(filepath.Join(adopt, "CARICC.identity.txt"), filepath.Join(adopt, "CARICC.signing.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	caCard, err := office.ReadCard(filepath.Join(keys, "CARICC.card"))
	if err != nil {
		t.Fatal(err)
	}
	off, err := office.Init(template, office.InitOptions{Agency: "CARICC", Keys: pubKeys, Card: caCard})
	if err != nil {
		t.Fatalf("adopting the published keys: %v", err)
	}
	off.Close()
	for _, a := range []string{"KZ-NCB", "KG-NCB"} {
		p := filepath.Join(vectorsDir, "cards", a+".card")
		c, err := office.ReadCard(p)
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, "peer", "add", "--home", template, p, "--fingerprint", c.Fingerprint())
	}
	// The published files are 0644 in git; the office's copies are 0600.
	caKeys, err := crypto.Load(filepath.Join(template, office.IdentityFile), filepath.Join(template, office.SigningFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := snapshot(t, template)
	home := filepath.Join(dir, "home")
	ran := map[string]int{}
	for _, mp := range metas {
		data, err := os.ReadFile(mp)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseVectorMeta(data)
		if err != nil {
			t.Fatalf("%s: %v", mp, err)
		}
		path := filepath.Join(vectorsDir, m.Bundle)
		var cardArgs []string
		kr := crypto.NewKeyring()
		for _, c := range m.Cards {
			cp := filepath.Join(vectorsDir, "cards", c)
			cardArgs = append(cardArgs, "--card", cp)
			card, err := office.ReadCard(cp)
			if err != nil {
				t.Fatal(err)
			}
			kr.Add(card)
		}
		ran[m.Expect]++
		// The auditor.
		code, out, errOut := valise(append(append([]string{"verify", "--home", filepath.Join(dir, "auditor")}, cardArgs...), path)...)
		if code != m.VerifyExit {
			t.Errorf("%s: verify exit %d, want %d\n%s%s", m.Name, code, m.VerifyExit, out, errOut)
		} else if m.VerifyExit != 0 {
			if mm := refusedCheck.FindStringSubmatch(errOut); mm == nil || mm[1] != m.VerifyCheck {
				t.Errorf("%s: verify does not name check %q:\n%s", m.Name, m.VerifyCheck, errOut)
			}
		}
		// The recipient.
		os.RemoveAll(home)
		copyTree(t, template, home)
		code, out, errOut = valise("import", "--home", home, path)
		if code != m.ImportExit {
			t.Errorf("%s: import exit %d, want %d\n%s%s", m.Name, code, m.ImportExit, out, errOut)
		} else if m.ImportExit != 0 {
			if mm := refusedCheck.FindStringSubmatch(errOut); mm == nil || mm[1] != m.ImportCheck {
				t.Errorf("%s: import does not name check %q:\n%s", m.Name, m.ImportCheck, errOut)
			}
			if snapshot(t, home) != empty {
				t.Errorf("%s: the refused import changed the store", m.Name)
			}
		} else if !strings.Contains(out, fmt.Sprintf("records     %d:", m.Records)) {
			t.Errorf("%s: import does not report %d records:\n%s", m.Name, m.Records, out)
		}
		// The library, as another program would use it.
		if err := checkVectorWithLibrary(m, path, kr, caKeys); err != nil {
			t.Errorf("%s: bundle package: %v", m.Name, err)
		}
	}
	t.Logf("%d vectors: %d good, %d bad", len(metas), ran["ok"], ran["fail"])
}

// checkVectorWithLibrary reads a vector with package bundle: the verdict
// of Verify (the auditor's) and of Decrypt and Next (the recipient's).
func checkVectorWithLibrary(m *vectorMeta, path string, kr *crypto.Keyring, keys *crypto.Keys) error {
	checkOf := func(err error) string {
		var e *bundle.Error
		if errors.As(err, &e) {
			return e.Check
		}
		return fmt.Sprintf("(%v)", err)
	}
	open := func() (*bundle.Reader, *crypto.Card, error) {
		f, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		r, err := bundle.Open(bytes.NewReader(f))
		if err != nil {
			return nil, nil, err
		}
		c, err := kr.Lookup(r.Header.Sender, r.Header.SenderKey)
		if err != nil {
			return r, nil, &bundle.Error{Check: "sender", Kind: bundle.ErrAuth, Msg: err.Error()}
		}
		return r, c, nil
	}
	r, c, err := open()
	if err == nil {
		_, err = r.Verify(c.SigningKey)
	}
	if (err == nil) != (m.VerifyExit == 0) || (err != nil && checkOf(err) != m.VerifyCheck) {
		return fmt.Errorf("Verify: %v, want check %q", err, m.VerifyCheck)
	}
	// Decrypt only what import would: addressed to the recipient, from a
	// trusted sender; the CLI covers the rest.
	if m.ImportCheck == "addressing" || m.ImportCheck == "sender" || m.ImportCheck == "header" || m.ImportExit == exitReplay {
		return nil
	}
	r, c, err = open()
	if err != nil {
		if checkOf(err) == m.ImportCheck {
			return nil
		}
		return fmt.Errorf("Open: %v, want check %q", err, m.ImportCheck)
	}
	rr, err := r.Decrypt(c.SigningKey, keys.Identities...)
	n := 0
	if err == nil {
		defer rr.Close()
		for {
			_, _, err = rr.Next()
			if err != nil {
				break
			}
			n++
		}
		if err == io.EOF {
			err = nil
		}
	}
	switch {
	case m.Expect == "ok" && (err != nil || n != m.Records):
		return fmt.Errorf("Decrypt: %v after %d records, want %d records", err, n, m.Records)
	case m.Expect == "fail" && (err == nil || checkOf(err) != m.ImportCheck):
		return fmt.Errorf("Decrypt: %v, want check %q", err, m.ImportCheck)
	}
	return nil
}

// vectorID returns the fixed UUIDv7 of vector n.
func vectorID(n int) uuid.UUID {
	var u uuid.UUID
	ms := uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()) + uint64(n)
	binary.BigEndian.PutUint64(u[:8], ms<<16)
	u[6] = 0x70 | byte(n>>8)&0x0f
	u[7] = byte(n)
	u[8] = 0x80
	u[15] = byte(n)
	return u
}

// TestGenerateVectors writes testdata/vectors. It is deterministic: run
// twice, it writes the same bytes.
func TestGenerateVectors(t *testing.T) {
	if !*updateVectors {
		t.Skip("regenerate with: go test ./cmd/valise -run TestGenerateVectors -vectors.update")
	}
	cryptotest.SetGlobalRandom(t, 20261128)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	offices := map[string]*peerOffice{}
	for _, a := range []string{"KZ-NCB", "CARICC", "KG-NCB", "TJ-NCB"} {
		k, err := crypto.Generate()
		if err != nil {
			t.Fatal(err)
		}
		c, err := crypto.NewCard(a, a+" (test vectors only)", created, k)
		if err != nil {
			t.Fatal(err)
		}
		offices[a] = &peerOffice{agency: a, card: c, keys: k}
	}
	kz, ca, kg, tj := offices["KZ-NCB"], offices["CARICC"], offices["KG-NCB"], offices["TJ-NCB"]
	os.RemoveAll(vectorsDir)
	for _, d := range []string{"cards", "keys"} {
		if err := os.MkdirAll(filepath.Join(vectorsDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range offices {
		writeFile(t, filepath.Join(vectorsDir, "cards"), p.agency+".card", p.card.Marshal())
	}
	tmp := t.TempDir()
	if err := ca.keys.WriteFiles(filepath.Join(tmp, "id"), filepath.Join(tmp, "sig"), ca.agency, ""); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{{"id", "CARICC.identity.txt"}, {"sig", "CARICC.signing.key"}} {
		data, _ := os.ReadFile(filepath.Join(tmp, f.from))
		writeFile(t, filepath.Join(vectorsDir, "keys"), f.to, data)
	}
	writeFile(t, filepath.Join(vectorsDir, "keys"), "CARICC.card", ca.card.Marshal())

	n := 0
	header := func(from *peerOffice, enc string, seq uint64, to ...*peerOffice) *bundle.Header {
		n++
		h := &bundle.Header{ID: vectorID(n), Created: created.Add(time.Duration(n) * time.Minute), Sender: from.agency, SenderKey: from.card.Fingerprint(),
			Schema: "1.0", Compression: bundle.Compression, Encryption: enc}
		for _, p := range to {
			h.Recipients = append(h.Recipients, bundle.Recipient{Agency: p.agency, Fingerprint: p.card.Fingerprint(), Sequence: seq})
		}
		bundle.SortRecipients(h.Recipients)
		return h
	}
	recips := func(enc string, to ...*peerOffice) []age.Recipient {
		var out []age.Recipient
		for _, p := range to {
			out = append(out, p.card.AgeRecipients(enc == bundle.EncryptionHybrid)...)
		}
		return out
	}
	padded := func(prefix string, k, pad int) [][]byte {
		var out [][]byte
		for i := 0; i < k; i++ {
			r := person(fmt.Sprintf("%s-%04d", prefix, i), fmt.Sprintf("Person %d", i))
			r.Properties["birthDate"] = []string{"1975-03-02"}
			if pad > 0 {
				// Text that does not compress away, so that the payload
				// spans several age chunks.
				var notes []byte
				h := sha256.Sum256([]byte(r.ID))
				for len(notes) < pad {
					notes = hex.AppendEncode(notes, h[:])
					h = sha256.Sum256(h[:])
				}
				r.Properties["notes"] = []string{string(notes[:pad])}
			}
			out = append(out, canonicalLine(r))
		}
		return out
	}
	lines := func(prefix string, k int) [][]byte { return padded(prefix, k, 0) }
	// write builds a genuine bundle with the real writer.
	write := func(h *bundle.Header, from *peerOffice, ls [][]byte, to ...*peerOffice) []byte {
		var b bytes.Buffer
		secret := sha256.Sum256([]byte("tree secret of " + h.ID.String()))
		w, err := bundle.NewWriter(&b, h, from.keys.Signing, recips(h.Encryption, to...), bundle.WithTreeSecret(secret[:bundle.TreeSecretSize]))
		if err != nil {
			t.Fatal(err)
		}
		var recs []*schema.Record
		for _, l := range ls {
			line := bytes.TrimSuffix(l, []byte("\n"))
			if err := w.WriteCanonical(line); err != nil {
				t.Fatal(err)
			}
			if r, err := schema.Decode(line); err == nil {
				recs = append(recs, r)
			}
		}
		if err := writeOwnTree(w, h, from.keys.Signing, recs); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var metas []*vectorMeta
	add := func(name string, data []byte, m vectorMeta) {
		m.Name, m.Bundle, m.Recipient = name, name+".valise", "CARICC"
		if m.Cards == nil {
			m.Cards = []string{"KZ-NCB.card", "KG-NCB.card"}
		}
		if m.Expect == "" {
			m.Expect = "fail"
		}
		writeFile(t, vectorsDir, m.Bundle, data)
		writeFile(t, vectorsDir, name+".txt", m.marshal())
		metas = append(metas, &m)
	}
	x, hy := bundle.EncryptionX25519, bundle.EncryptionHybrid

	// Good bundles.
	good := write(header(kz, x, 1, ca), kz, lines("a", 3), ca)
	add("good-x25519", good, vectorMeta{Expect: "ok", Records: 3, Comment: "three records from KZ-NCB to CARICC, X25519 encryption"})
	add("good-hybrid", write(header(kz, hy, 1, ca), kz, lines("a", 3), ca), vectorMeta{Expect: "ok", Records: 3,
		Comment: "three records from KZ-NCB to CARICC, ML-KEM-768+X25519 encryption"})
	add("good-empty", write(header(kz, x, 1, ca), kz, nil, ca), vectorMeta{Expect: "ok", Records: 0, Comment: "no records: a manifest only"})
	add("good-two-recipients", write(header(kz, hy, 1, ca, kg), kz, lines("a", 2), ca, kg), vectorMeta{Expect: "ok", Records: 2,
		Comment: "addressed to CARICC and KG-NCB, either can read it"})
	{
		// KG-NCB's own record: a bundle proves its sender's changes.
		r := person("k-0000", "Person of KG-NCB")
		r.Origin, r.Handling.TLP = "KG-NCB", "amber"
		r = merge.Edit(nil, r, "KG-NCB", "2026-11-28T09:00:00Z")
		line := append(r.AppendCanonical(nil), '\n')
		add("good-from-kg", write(header(kg, x, 1, ca), kg, [][]byte{line}, ca), vectorMeta{Expect: "ok", Records: 1, Comment: "from KG-NCB, a record of its own"})
	}
	{
		h := header(kz, x, 1, ca)
		ls := lines("f", 3)
		// The plaintext the writer makes (manifest, records, tree
		// section), cut into one zstd frame per part.
		plain := decrypt(t, splitBundle(t, write(h, kz, ls, ca)).payload, ca.keys.Identities...)
		n := manifestLen(t, plain)
		parts := [][]byte{plain[:n]}
		for _, l := range bytes.SplitAfter(plain[n:], []byte("\n")) {
			if len(l) > 0 {
				parts = append(parts, l)
			}
		}
		var zst []byte
		for _, part := range parts {
			zst = append(zst, compress(part)...)
		}
		add("good-many-frames", signed(h.Marshal(), encrypt(t, zst, recips(x, ca)), 3, kz.keys.Signing),
			vectorMeta{Expect: "ok", Records: 3, Comment: "the zstd stream is five frames: the manifest, one per record and the tree section"})
	}
	{
		h := header(kz, x, 1, ca)
		add("good-large", write(h, kz, padded("l", 800, 200), ca), vectorMeta{Expect: "ok", Records: 800, Comment: "800 records, a payload of more than one 64 KiB age chunk"})
	}
	{
		h := header(kz, x, 1, ca)
		data := write(h, kz, padded("c", 1500, 1400), ca)
		if n := len(splitBundle(t, data).payload); n <= 1<<20 || n > 5<<18 {
			t.Fatalf("the two-chunk bundle's payload is %d bytes: want a little more than 1 MiB", n)
		}
		add("good-two-chunks", data, vectorMeta{Expect: "ok", Records: 1500,
			Comment: "a payload of a little more than 1 MiB: two chunks for the payload hash (FORMAT.md §4.1)"})
	}

	// Bad bundles, one failure each.
	gp := splitBundle(t, good)
	gh, _ := bundle.ParseHeader(gp.header)
	gplain := decrypt(t, gp.payload, ca.keys.Identities...)
	body := trailerBody(gp.payload, 3)
	fail := func(name string, data []byte, imp int, ic string, ver int, vc, comment string) {
		add(name, data, vectorMeta{ImportExit: imp, ImportCheck: ic, VerifyExit: ver, VerifyCheck: vc, Comment: comment})
	}
	seal := func(hdr, plain []byte, records uint64, key ed25519.PrivateKey) []byte {
		return signed(hdr, encrypt(t, compress(plain), recips(x, ca)), records, key)
	}
	fail("bad-signature-other-key", assemble(gp.header, gp.payload, body, kg.keys.Signing), exitAuth, "signature", exitAuth, "signature",
		"good-x25519 signed by KG-NCB's key instead of KZ-NCB's")
	fail("bad-signature-no-context", assembleSig(gp.header, gp.payload, body, ed25519.Sign(kz.keys.Signing, append(append([]byte(nil), gp.header...), body...))),
		exitAuth, "signature", exitAuth, "signature", "signed by KZ-NCB over header and trailer body without the context string")
	fail("bad-signature-missing", assembleRaw(gp.header, gp.payload, body), exitMalformed, "trailer", exitMalformed, "trailer", "no signature line")
	{
		h := *gh
		h.Sender, h.SenderKey = kg.agency, kg.card.Fingerprint()
		fail("bad-resigned-by-other-office", signed(h.Marshal(), gp.payload, 3, kg.keys.Signing), exitAuth, "manifest", 0, "",
			"good-x25519's signature stripped, the sender changed to KG-NCB and re-signed by KG-NCB: valid for an auditor, the inner manifest still names KZ-NCB")
	}
	{
		// KG-NCB received a bundle from KZ-NCB, decrypted it and sends it
		// on to CARICC as its own.
		hk := header(kz, x, 1, kg)
		orig := splitBundle(t, write(hk, kz, lines("a", 3), kg))
		plain := decrypt(t, orig.payload, kg.keys.Identities...)
		h := header(kg, x, 1, ca)
		fail("bad-forwarded", seal(h.Marshal(), plain, 3, kg.keys.Signing), exitAuth, "manifest", 0, "",
			"KG-NCB decrypted a bundle KZ-NCB sent it and re-encrypted and signed it to CARICC: the inner manifest names KZ-NCB and KG-NCB")
	}
	{
		other := splitBundle(t, write(header(kz, x, 2, ca), kz, lines("b", 2), ca))
		fail("bad-payload-swapped", signed(gp.header, other.payload, 2, kz.keys.Signing), exitAuth, "manifest", 0, "",
			"the header of one bundle, validly signed by KZ-NCB, around the payload of another")
		fail("bad-payload-swapped-unsigned", assembleRaw(gp.header, other.payload, gp.trailer), exitMalformed, "payload length", exitMalformed, "payload length",
			"header and trailer of one bundle around the payload of another")
		h := *gh
		h.ID = vectorID(999)
		fail("bad-header-field-changed", signed(h.Marshal(), gp.payload, 3, kz.keys.Signing), exitAuth, "manifest", 0, "",
			"good-x25519 with another bundle id, validly re-signed: the inner manifest binds the original header")
	}
	{
		bad := bytes.Clone(good)
		bad[len(gp.header)+len(gp.payload)/2] ^= 0x01
		fail("bad-payload-bit-flip", bad, exitAuth, "payload hash", exitAuth, "payload hash", "one bit of the payload flipped")
		chunked, plain := payloadHash(gp.payload), sha256.Sum256(gp.payload)
		unchunked := bytes.Replace(body, []byte(hex.EncodeToString(chunked[:])), []byte(hex.EncodeToString(plain[:])), 1)
		if bytes.Equal(unchunked, body) {
			t.Fatal("no payload hash in the trailer body")
		}
		fail("bad-payload-hash-unchunked", assemble(gp.header, gp.payload, unchunked, kz.keys.Signing), exitAuth, "payload hash", exitAuth, "payload hash",
			"good-x25519 validly signed over the plain SHA-256 of its payload instead of the hash of its chunks")
		fail("bad-truncated", good[:len(good)-40], exitMalformed, "trailer", exitMalformed, "trailer", "the last 40 bytes cut off")
		fail("bad-trailing-byte", append(bytes.Clone(good), '\n'), exitMalformed, "trailer", exitMalformed, "trailer", "one byte after the footer")
	}
	variant := func(name string, hdr []byte, comment string) {
		fail(name, seal(hdr, rebind(t, gplain, hdr), 3, kz.keys.Signing), exitMalformed, "header", exitMalformed, "header", comment)
	}
	variant("bad-header-version-2", bytes.Replace(gp.header, []byte("valise-bundle/v1\n"), []byte("valise-bundle/v2\n"), 1),
		"format version v2, validly signed, manifest bound to these bytes")
	variant("bad-header-sequence-leading-zero", bytes.Replace(gp.header, []byte(" 1\nschema:"), []byte(" 01\nschema:"), 1),
		"sequence number 01: not canonical, validly signed")
	variant("bad-header-unknown-field", bytes.Replace(gp.header, []byte("\n---\n"), []byte("\nnote: hello\n---\n"), 1),
		"an unknown header field, validly signed")
	variant("bad-header-compression", bytes.Replace(gp.header, []byte("compression: zstd\n"), []byte("compression: gzip\n"), 1),
		"an unknown compression, validly signed")
	variant("bad-header-sequence-2-63", bytes.Replace(gp.header, []byte(" 1\nschema:"), []byte(" 9223372036854775808\nschema:"), 1),
		"sequence number 2^63 (the limit is 2^53), validly signed")
	fail("bad-trailer-records-leading-zero", assemble(gp.header, gp.payload, bytes.Replace(body, []byte("records: 3\n"), []byte("records: 03\n"), 1), kz.keys.Signing),
		exitMalformed, "trailer", exitMalformed, "trailer", "records: 03, validly signed")
	fail("bad-trailer-length-2-63", assemble(gp.header, gp.payload, bytes.Replace(body, []byte(fmt.Sprintf("payload-length: %d\n", len(gp.payload))),
		[]byte("payload-length: 9223372036854775808\n"), 1), kz.keys.Signing), exitMalformed, "trailer", exitMalformed, "trailer", "payload-length 2^63")
	fail("bad-trailer-length-2-32", assemble(gp.header, gp.payload, bytes.Replace(body, []byte(fmt.Sprintf("payload-length: %d\n", len(gp.payload))),
		[]byte("payload-length: 4294967296\n"), 1), kz.keys.Signing), exitMalformed, "payload length", exitMalformed, "payload length", "payload-length 2^32 in a 1 KiB file")
	fail("bad-record-count", seal(gp.header, gplain, 4, kz.keys.Signing), exitAuth, "record count", 0, "", "the trailer declares 4 records, the payload holds 3")
	fail("bad-not-addressed", write(header(kz, x, 1, kg), kz, lines("a", 1), kg), exitNotAddress, "addressing", 0, "", "addressed to KG-NCB only")
	fail("bad-unknown-sender", write(header(tj, x, 1, ca), tj, lines("t", 1), ca), exitAuth, "sender", exitAuth, "sender",
		"from TJ-NCB, whose card the recipient and the auditor do not hold")
	{
		man := gplain[:manifestLen(t, gplain)]
		recs := gplain[len(man):]
		first := recs[:bytes.IndexByte(recs, '\n')+1]
		fail("bad-duplicate-record", seal(gp.header, append(append(bytes.Clone(man), first...), first...), 2, kz.keys.Signing), exitInvalid, "record order", 0, "",
			"the same record twice")
		invalid := bytes.Replace(first, []byte("1975-03-02"), []byte("1975-13-02"), 1)
		fail("bad-invalid-record", seal(gp.header, append(bytes.Clone(man), invalid...), 1, kz.keys.Signing), exitInvalid, "record", 0, "",
			"a birth date in month 13")
		nc := bytes.Replace(first, []byte(`{"`), []byte(`{ "`), 1)
		fail("bad-record-not-canonical", seal(gp.header, append(bytes.Clone(man), nc...), 1, kz.keys.Signing), exitInvalid, "record", 0, "",
			"a record line with a space: not its canonical encoding")
		fail("bad-no-manifest", seal(gp.header, recs, 3, kz.keys.Signing), exitAuth, "manifest", 0, "", "the payload starts with the records")
		bomb := append(compress(man), rleFrame(1<<30, 0)...)
		fail("bad-decompression-bomb", signed(gp.header, encrypt(t, bomb, recips(x, ca)), 1, kz.keys.Signing), exitMalformed, "record", 0, "",
			"after the manifest, 1 GiB of zeros in 32 KiB of zstd: refused at the 1 MiB record limit")
		window := append(compress(man), zframe(0x00, 0xa8, nil, zblock(0, 1, true, []byte("x")))...)
		fail("bad-zstd-window", signed(gp.header, encrypt(t, window, recips(x, ca)), 1, kz.keys.Signing), exitMalformed, "decompression", 0, "",
			"a zstd frame asking for a 2 GiB window (the limit is 8 MiB)")
		payload := encrypt(t, compress(gplain), recips(x, ca))
		fail("bad-age-stanzas", signed(gp.header, spliceStanzas(t, payload, fakeStanzas(1100, "X25519")), 3, kz.keys.Signing), exitAuth, "decryption", 0, "",
			"1,100 X25519 stanzas before the real one (age reads at most 1,024)")
	}
	{
		h := header(kz, x, 1, ca)
		big := splitBundle(t, write(h, kz, padded("l", 800, 200), ca))
		if len(big.payload) < 64<<10+4096 {
			t.Fatalf("the large bundle's payload is %d bytes: not several chunks", len(big.payload))
		}
		hdrEnd := bytes.Index(big.payload, []byte("\n--- ")) + 1
		hdrEnd += bytes.IndexByte(big.payload[hdrEnd:], '\n') + 1
		cut := big.payload[:hdrEnd+16+64<<10+16]
		fail("bad-age-truncated", signed(big.header, cut, 800, kz.keys.Signing), exitAuth, "decryption", 0, "",
			"the age payload cut after its first 64 KiB chunk and validly signed: age releases the first chunk before it fails")
	}
	writeVectorsReadme(t, metas)
}

func writeVectorsReadme(t *testing.T, metas []*vectorMeta) {
	sort.Slice(metas, func(i, j int) bool { return metas[i].Name < metas[j].Name })
	var b bytes.Buffer
	b.WriteString(vectorsReadme)
	b.WriteString("\n| vector | expect | import: exit, check | verify: exit, check | what |\n|---|---|---|---|---|\n")
	for _, m := range metas {
		imp, ver := fmt.Sprint(m.ImportExit), fmt.Sprint(m.VerifyExit)
		if m.ImportCheck != "" {
			imp += ", " + m.ImportCheck
		}
		if m.VerifyCheck != "" {
			ver += ", " + m.VerifyCheck
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", m.Name, m.Expect, imp, ver, m.Comment)
	}
	writeFile(t, vectorsDir, "README.md", b.Bytes())
}

const vectorsReadme = `# valise test vectors

Bundles in the valise bundle format v1 (docs/FORMAT.md), good and bad, for
anyone who writes a reader: each bad one has exactly one thing wrong.
They are generated by ` + "`go test ./cmd/valise -run TestGenerateVectors -vectors.update`" + `
(deterministic: the keys and every random choice come from a fixed seed) and
checked by ` + "`TestVectors`" + `, which runs each through ` + "`valise verify`" + `,
` + "`valise import`" + ` and package bundle.

**The keys here are test keys, published on purpose. Never trust these
cards outside tests.**

## Files

- ` + "`NAME.valise`" + `: the bundle.
- ` + "`NAME.txt`" + `: what a reader must make of it, one ` + "`key: value`" + ` per line
  after the first line ` + "`valise-test-vector/v1`" + `:
  - ` + "`bundle`" + `: the bundle file;
  - ` + "`expect`" + `: ` + "`ok`" + ` or ` + "`fail`" + `;
  - ` + "`import-exit`" + `, ` + "`import-check`" + `: the exit code and failed check of a recipient
    (CARICC) that trusts the senders' cards and holds CARICC's keys;
  - ` + "`verify-exit`" + `, ` + "`verify-check`" + `: the same for an auditor who holds only the
    cards listed in ` + "`cards`" + ` (no private key): 0 where only decryption can tell;
  - ` + "`recipient`" + `: the importing office;
  - ` + "`cards`" + `: the cards, in ` + "`cards/`" + `, the recipient and the auditor trust;
  - ` + "`records`" + `: for good bundles, the number of records;
  - ` + "`comment`" + `: what the vector is.
- ` + "`cards/`" + `: the public cards of KZ-NCB, CARICC, KG-NCB and TJ-NCB (TJ-NCB is
  trusted by nobody).
- ` + "`keys/`" + `: CARICC's card, age identity file and signing key (unencrypted,
  as ` + "`valise init`" + ` writes them without ` + "`--passphrase`" + `).

## Exit codes and checks

Exit codes follow ` + "`valise help`" + `: 0 ok, 3 malformed bundle, 4 authentication
failed, 5 not addressed to this office, 7 invalid content. A check is the
name valise gives the failed check (docs/FORMAT.md §8): it appears in
` + "`check \"NAME\" failed`" + ` in valise's messages and as ` + "`check`" + ` in its JSON.
An independent reader need not use the same words, but should fail the
same vectors for the same reason: the class (exit code) is the contract.

## Using them with valise

An auditor's check needs only the cards:

    valise verify --card cards/KZ-NCB.card --card cards/KG-NCB.card good-x25519.valise

Importing needs an office that holds CARICC's keys. valise has no command
to adopt existing keys, so ` + "`TestVectors`" + ` makes one with ` + "`valise init --agency CARICC`" + `,
replaces identity.txt, signing.key and card.txt with the files in ` + "`keys/`" + `
(mode 0600 for the secret ones: valise refuses key files others can read,
and they are 0644 in git), records the published card as the office's
current key generation in the store (` + "`own_cards`" + `, generation 1) and trusts
the cards of KZ-NCB and KG-NCB with ` + "`valise peer add`" + `. Each vector is
imported into a fresh copy of that office. Another implementation uses the
keys in ` + "`keys/`" + ` directly: the identity file is an age identity file.

## The vectors
`
