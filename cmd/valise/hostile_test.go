package main

// The adversarial suite of issue 6: bundles an attacker, a dishonest peer
// or a bad stick can produce, each imported through the command line,
// each asserting the exit code, the check the refusal names and that the
// store is unchanged (records, versions, open conflicts; the ledger and
// audit log record the refusal).

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"valise/bundle"
	"valise/merge"
	"valise/schema"
)

// hostileCase is one forged or malformed bundle and what import and
// verify must make of it.
type hostileCase struct {
	class, name string
	data        []byte
	at          *peerOffice // the importing office (CARICC when nil)
	code        int         // import exit code
	check       string      // the check import names
	verify      int         // verify exit code; -1 when not asserted
	// verifyCheck is the check verify names when it fails ("" for the
	// same as import).
	verifyCheck string
}

// hostileWorld is the cast: KZ-NCB sends to CARICC, KG-NCB is a third
// office both trust, and the adversary holds every key.
type hostileWorld struct {
	dir        string
	kz, ca, kg *peerOffice
	nohome     string
}

func newHostileWorld(t *testing.T) *hostileWorld {
	dir := fastDir(t)
	offs := setupOffices(t, dir, "KZ-NCB", "CARICC", "KG-NCB")
	return &hostileWorld{dir: dir, kz: offs["KZ-NCB"], ca: offs["CARICC"], kg: offs["KG-NCB"], nohome: filepath.Join(dir, "auditor")}
}

// packCLI packs at office from for the recipients and returns the bundle.
func (w *hostileWorld) packCLI(t *testing.T, from *peerOffice, name string, to ...string) []byte {
	t.Helper()
	p := filepath.Join(w.dir, name)
	args := []string{"pack", "--home", from.home, "-o", p}
	for _, a := range to {
		args = append(args, "--to", a)
	}
	mustRun(t, args...)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runCases imports and verifies every case and returns, per class, how
// many ran and how many were refused as required.
func (w *hostileWorld) runCases(t *testing.T, cases []hostileCase) map[string][2]int {
	t.Helper()
	stats := map[string][2]int{}
	path := filepath.Join(w.dir, "hostile.valise")
	cards := []string{"--card", w.kz.cardPath, "--card", w.ca.cardPath, "--card", w.kg.cardPath}
	for _, tc := range cases {
		at := tc.at
		if at == nil {
			at = w.ca
		}
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := stats[tc.class]
		s[0]++
		before := snapshot(t, at.home)
		code, out, errOut := valise("import", "--home", at.home, path)
		after := snapshot(t, at.home)
		m := refusedCheck.FindStringSubmatch(errOut)
		ok := true
		switch {
		case code != tc.code || m == nil || m[1] != tc.check:
			t.Errorf("%s / %s: import exit %d, want %d with check %q\nstdout:\n%sstderr:\n%s", tc.class, tc.name, code, tc.code, tc.check, out, errOut)
			ok = false
		case !strings.Contains(out, "store unchanged"):
			t.Errorf("%s / %s: import does not say the store is unchanged:\n%s", tc.class, tc.name, out)
			ok = false
		}
		if before != after {
			t.Errorf("%s / %s: the refused import changed the store", tc.class, tc.name)
			ok = false
		}
		if tc.verify >= 0 {
			args := append([]string{"verify", "--home", w.nohome}, cards...)
			vcode, vout, verr := valise(append(args, path)...)
			want := tc.verifyCheck
			if want == "" {
				want = tc.check
			}
			vm := refusedCheck.FindStringSubmatch(verr)
			if vcode != tc.verify || (tc.verify != 0 && (vm == nil || vm[1] != want)) {
				t.Errorf("%s / %s: verify exit %d, want %d (check %q)\n%s%s", tc.class, tc.name, vcode, tc.verify, want, vout, verr)
				ok = false
			}
		}
		if ok {
			s[1]++
		}
		t.Logf("%s / %s (%d bytes): %s", tc.class, tc.name, len(tc.data), strings.TrimSpace(errOut))
		stats[tc.class] = s
	}
	return stats
}

func logStats(t *testing.T, stats map[string][2]int) {
	var classes []string
	for c := range stats {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	var b strings.Builder
	for _, c := range classes {
		fmt.Fprintf(&b, "  %-28s %4d run, %4d refused as required\n", c, stats[c][0], stats[c][1])
	}
	t.Logf("hostile bundles by class:\n%s", b.String())
}

// canonicalLine returns the canonical record line of r, as the sender's
// valise would write it, with version information.
func canonicalLine(r *schema.Record) []byte {
	if r.Origin == "" {
		r.Origin = "KZ-NCB"
	}
	if r.Handling.TLP == "" {
		r.Handling.TLP = "amber"
	}
	if r.Version.IsZero() {
		r = merge.Edit(nil, r, "KZ-NCB", "2026-11-28T09:00:00Z")
	}
	return append(r.AppendCanonical(nil), '\n')
}

func person(id, name string) *schema.Record {
	return &schema.Record{ID: id, Schema: "Person", Properties: map[string][]string{"name": {name}}}
}

func TestHostileBundles(t *testing.T) {
	w := newHostileWorld(t)
	kz, ca, kg := w.kz, w.ca, w.kg
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "a.jsonl", personLines("a", 3, 0)))
	b1 := w.packCLI(t, kz, "b1.valise", "CARICC")
	// A second later, so that the created lines differ.
	for sec := time.Now().Unix(); time.Now().Unix() == sec; {
		time.Sleep(20 * time.Millisecond)
	}
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "b.jsonl", personLines("b", 2, 0)))
	b2 := w.packCLI(t, kz, "b2.valise", "CARICC")
	// A bundle of ~1 MB of plaintext, many age chunks.
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "c.jsonl", personLines("c", 3000, 300)))
	b3 := w.packCLI(t, kz, "b3.valise", "CARICC")
	p1, p2, p3 := splitBundle(t, b1), splitBundle(t, b2), splitBundle(t, b3)
	plain1 := decrypt(t, p1.payload, ca.keys.Identities...)
	h1, err := bundle.ParseHeader(p1.header)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := bundle.ParseHeader(p2.header)
	if err != nil {
		t.Fatal(err)
	}
	hybridCA := ca.card.AgeRecipients(true)
	body1 := trailerBody(p1.payload, 3)
	// sealKZ: header and plaintext, compressed, encrypted to CARICC and
	// validly signed by KZ-NCB.
	sealKZ := func(hdr, plain []byte, records uint64) []byte {
		return signed(hdr, encrypt(t, compress(plain), hybridCA), records, kz.keys.Signing)
	}
	records1 := plain1[manifestLen(t, plain1):]
	lineOf := func(hdr []byte, key string) []byte {
		re := regexp.MustCompile(`(?m)^` + key + `: .*\n`)
		l := re.Find(hdr)
		if l == nil {
			t.Fatalf("no %s line in %q", key, hdr)
		}
		return l
	}
	swapLine := func(dst, src []byte, key string) []byte {
		return bytes.Replace(dst, lineOf(dst, key), lineOf(src, key), 1)
	}
	var cases []hostileCase
	add := func(class, name string, data []byte, code int, check string, verify int) {
		cases = append(cases, hostileCase{class: class, name: name, data: data, code: code, check: check, verify: verify})
	}

	// --- Re-signed and forwarded -------------------------------------
	add("re-signed", "signature replaced by KG-NCB's, header unchanged",
		assemble(p1.header, p1.payload, body1, kg.keys.Signing), exitAuth, "signature", exitAuth)
	add("re-signed", "signature line stripped", assembleRaw(p1.header, p1.payload, body1), exitMalformed, "trailer", exitMalformed)
	add("re-signed", "signature zeroed", assembleSig(p1.header, p1.payload, body1, make([]byte, 64)), exitAuth, "signature", exitAuth)
	{
		h := *h1
		h.Sender, h.SenderKey = kg.agency, kg.card.Fingerprint()
		// The auditor sees a valid bundle signed by KG-NCB: only the
		// inner manifest, which KG-NCB could not rewrite, tells.
		add("re-signed", "signature stripped, sender rewritten and re-signed by trusted KG-NCB",
			signed(h.Marshal(), p1.payload, 3, kg.keys.Signing), exitAuth, "manifest", 0)
		h.ID = h2.ID
		add("re-signed", "re-signed by KG-NCB under a new bundle id",
			signed(h.Marshal(), p1.payload, 3, kg.keys.Signing), exitAuth, "manifest", 0)
	}
	{
		// CARICC decrypts KZ-NCB's bundle, re-encrypts it to KG-NCB and
		// signs it as its own.
		h := newHeader(t, ca, 1, kg)
		fwd := signed(h.Marshal(), encrypt(t, compress(plain1), x25519Recipients(kg)), 3, ca.keys.Signing)
		cases = append(cases, hostileCase{class: "forwarded", name: "decrypted by CARICC, re-encrypted and signed to KG-NCB",
			data: fwd, at: kg, code: exitAuth, check: "manifest", verify: 0})
		// The same, with the header still naming KZ-NCB as the sender.
		h = newHeader(t, kz, 1, kg)
		fwd = signed(h.Marshal(), encrypt(t, compress(plain1), x25519Recipients(kg)), 3, ca.keys.Signing)
		cases = append(cases, hostileCase{class: "forwarded", name: "re-addressed to KG-NCB under KZ-NCB's name, signed by CARICC",
			data: fwd, at: kg, code: exitAuth, check: "signature", verify: exitAuth})
		// Or keeping KZ-NCB's header and signature around the new payload.
		payload := encrypt(t, compress(plain1), x25519Recipients(kg))
		cases = append(cases, hostileCase{class: "forwarded", name: "re-encrypted to KG-NCB inside KZ-NCB's header and trailer",
			data: assembleRaw(p1.header, payload, p1.trailer), at: kg, code: exitNotAddress, check: "addressing", verify: -1})
		check, code := "payload hash", exitAuth
		if len(payload) != len(p1.payload) {
			check, code = "payload length", exitMalformed
		}
		add("forwarded", "payload re-encrypted by CARICC inside KZ-NCB's header and trailer", assembleRaw(p1.header, payload, p1.trailer), code, check, code)
	}

	// --- Swapped between two valid bundles ---------------------------
	for _, key := range []string{"id", "created", "recipient"} {
		if bytes.Equal(lineOf(p1.header, key), lineOf(p2.header, key)) {
			t.Logf("swap %s: both bundles have the same line, skipped", key)
			continue
		}
		add("swapped", key+" line of bundle 2 in bundle 1", assembleRaw(swapLine(p1.header, p2.header, key), p1.payload, p1.trailer),
			exitAuth, "signature", exitAuth)
		add("swapped", key+" line of bundle 2 in bundle 1, validly re-signed by KZ-NCB",
			signed(swapLine(p1.header, p2.header, key), p1.payload, 3, kz.keys.Signing), exitAuth, "manifest", 0)
	}
	{
		check, code := "payload hash", exitAuth
		if len(p2.payload) != len(p1.payload) {
			check, code = "payload length", exitMalformed
		}
		add("swapped", "payload of bundle 2 with header and signature of bundle 1", assembleRaw(p1.header, p2.payload, p1.trailer), code, check, code)
		add("swapped", "header of bundle 1, payload and trailer of bundle 2", assembleRaw(p1.header, p2.payload, p2.trailer), exitAuth, "signature", exitAuth)
		add("swapped", "header of bundle 2, payload and trailer of bundle 1", assembleRaw(p2.header, p1.payload, p1.trailer), exitAuth, "signature", exitAuth)
		add("swapped", "payload of bundle 2 under the header of bundle 1, validly re-signed by KZ-NCB",
			signed(p1.header, p2.payload, 2, kz.keys.Signing), exitAuth, "manifest", 0)
		add("swapped", "trailers swapped", assembleRaw(p1.header, p1.payload, p2.trailer), exitMalformed, "payload length", exitMalformed)
		if len(p1.payload) == len(p2.payload) {
			cases[len(cases)-1].check, cases[len(cases)-1].code, cases[len(cases)-1].verify = "payload hash", exitAuth, exitAuth
		}
	}

	// --- Non-canonical encodings, validly signed ----------------------
	// Each variant is signed by KZ-NCB and its inner manifest is bound to
	// the variant's exact bytes: only the canonical-form checks catch it.
	hdr := string(p1.header)
	idLine := string(lineOf(p1.header, "id"))
	recLine := string(lineOf(p1.header, "recipient"))
	createdLine := string(lineOf(p1.header, "created"))
	senderLine := string(lineOf(p1.header, "sender"))
	id := strings.TrimSpace(strings.TrimPrefix(idLine, "id: "))
	headerVariants := []struct{ name, hdr string }{
		{"duplicate id line", strings.Replace(hdr, idLine, idLine+idLine, 1)},
		{"duplicate recipient line", strings.Replace(hdr, recLine, recLine+recLine, 1)},
		{"unknown field before schema", strings.Replace(hdr, "schema: ", "note: hello\nschema: ", 1)},
		{"unknown field at the end", strings.Replace(hdr, "\n---\n", "\nx-extension: 1\n---\n", 1)},
		{"sequence with a leading zero", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", " 01\n", 1), 1)},
		{"sequence with a plus sign", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", " +1\n", 1), 1)},
		{"sequence in hex", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", " 0x1\n", 1), 1)},
		{"sequence as 1.0", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", " 1.0\n", 1), 1)},
		{"sequence as 1e0", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", " 1e0\n", 1), 1)},
		{"two spaces before the sequence", strings.Replace(hdr, recLine, strings.Replace(recLine, " 1\n", "  1\n", 1), 1)},
		{"uppercase bundle id", strings.Replace(hdr, idLine, "id: "+strings.ToUpper(id)+"\n", 1)},
		{"bundle id as urn:uuid", strings.Replace(hdr, idLine, "id: urn:uuid:"+id+"\n", 1)},
		{"bundle id in braces", strings.Replace(hdr, idLine, "id: {"+id+"}\n", 1)},
		{"created with +00:00", strings.Replace(hdr, createdLine, strings.Replace(createdLine, "Z\n", "+00:00\n", 1), 1)},
		{"created with fractional seconds", strings.Replace(hdr, createdLine, strings.Replace(createdLine, "Z\n", ".000Z\n", 1), 1)},
		{"created in lowercase", strings.Replace(hdr, createdLine, "created: "+strings.ToLower(strings.TrimPrefix(createdLine, "created: ")), 1)},
		{"lowercase sender fingerprint", strings.Replace(hdr, senderLine, "sender: KZ-NCB "+strings.ToLower(kz.card.Fingerprint())+"\n", 1)},
		{"sender fingerprint without dashes", strings.Replace(hdr, senderLine, "sender: KZ-NCB "+strings.ReplaceAll(kz.card.Fingerprint(), "-", "")+"\n", 1)},
		{"CRLF line endings", strings.ReplaceAll(hdr, "\n", "\r\n")},
		{"trailing space after the schema", strings.Replace(hdr, "schema: 1.0\n", "schema: 1.0 \n", 1)},
		{"tab after a colon", strings.Replace(hdr, "schema: ", "schema:\t", 1)},
		{"schema 1.00", strings.Replace(hdr, "schema: 1.0\n", "schema: 1.00\n", 1)},
		{"schema and compression reordered", strings.Replace(hdr, "schema: 1.0\ncompression: zstd\n", "compression: zstd\nschema: 1.0\n", 1)},
		{"byte order mark", "\ufeff" + hdr},
		{"blank line inside", strings.Replace(hdr, "schema: ", "\nschema: ", 1)},
		{"magic with a trailing space", strings.Replace(hdr, "valise-bundle/v1\n", "valise-bundle/v1 \n", 1)},
	}
	for _, v := range headerVariants {
		if v.hdr == hdr {
			t.Fatalf("variant %q changes nothing", v.name)
		}
		add("non-canonical header", v.name, sealKZ([]byte(v.hdr), rebind(t, plain1, []byte(v.hdr)), 3), exitMalformed, "header", exitMalformed)
	}
	sig1 := ed25519.Sign(kz.keys.Signing, append(append([]byte(sigContext), p1.header...), body1...))
	sigLine := "signature: " + base64.StdEncoding.EncodeToString(sig1) + "\n"
	bodyStr := string(body1)
	sum1 := payloadHash(p1.payload)
	hexSum := hex.EncodeToString(sum1[:])
	trailerVariants := []struct{ name, body string }{
		{"payload-length with a leading zero", strings.Replace(bodyStr, "payload-length: ", "payload-length: 0", 1)},
		{"payload-length with a plus sign", strings.Replace(bodyStr, "payload-length: ", "payload-length: +", 1)},
		{"uppercase payload-hash", strings.Replace(bodyStr, hexSum, strings.ToUpper(hexSum), 1)},
		{"records with a leading zero", strings.Replace(bodyStr, "records: 3\n", "records: 03\n", 1)},
		{"records as 3.0", strings.Replace(bodyStr, "records: 3\n", "records: 3.0\n", 1)},
		{"records with a trailing space", strings.Replace(bodyStr, "records: 3\n", "records: 3 \n", 1)},
		{"duplicate records line", strings.Replace(bodyStr, "records: 3\n", "records: 3\nrecords: 3\n", 1)},
		{"unknown trailer field", bodyStr + "comment: hi\n"},
		{"trailer fields reordered", fmt.Sprintf("valise-trailer/v1\nrecords: 3\npayload-length: %d\npayload-hash: %s\n", len(p1.payload), hexSum)},
		{"CRLF trailer", strings.ReplaceAll(bodyStr, "\n", "\r\n")},
	}
	for _, v := range trailerVariants {
		add("non-canonical trailer", v.name, assemble(p1.header, p1.payload, []byte(v.body), kz.keys.Signing), exitMalformed, "trailer", exitMalformed)
	}
	b64 := base64.StdEncoding.EncodeToString(sig1)
	sigVariants := []struct{ name, line string }{
		{"signature without padding", "signature: " + strings.TrimRight(b64, "=") + "\n"},
		{"signature with non-zero padding bits", "signature: " + b64[:85] + string(b64Alphabet[strings.IndexByte(b64Alphabet, b64[85])|1]) + "==\n"},
		{"signature split over two lines", "signature: " + b64[:44] + "\n" + b64[44:] + "\n"},
		{"signature with a trailing space", "signature: " + b64 + " \n"},
	}
	if u := base64.URLEncoding.EncodeToString(sig1); u != b64 {
		sigVariants = append(sigVariants, struct{ name, line string }{"signature in the URL-safe alphabet", "signature: " + u + "\n"})
	}
	for _, v := range sigVariants {
		if v.line == sigLine {
			t.Fatalf("variant %q changes nothing", v.name)
		}
		add("non-canonical trailer", v.name, assembleRaw(p1.header, p1.payload, append(append([]byte(nil), body1...), v.line...)), exitMalformed, "trailer", exitMalformed)
	}
	{
		good := b1[len(b1)-16:]
		digits := string(good[11:15])
		if up := strings.ToUpper(digits); up != digits {
			bad := append(bytes.Clone(b1[:len(b1)-16]), "valise-end "+up+"\n"...)
			add("non-canonical trailer", "footer in uppercase hex", bad, exitMalformed, "trailer", exitMalformed)
		}
		bad := append(bytes.Clone(b1[:len(b1)-16]), "valise-end  "+digits[1:]+"\n"...)
		add("non-canonical trailer", "footer with a space for a zero", bad, exitMalformed, "trailer", exitMalformed)
	}
	man1 := string(plain1[:manifestLen(t, plain1)])
	manIDLine := string(lineOf([]byte(man1), "id"))
	manHashLine := string(lineOf([]byte(man1), "header-sha256"))
	manifestVariants := []struct{ name, man string }{
		{"duplicate id line", strings.Replace(man1, manIDLine, manIDLine+manIDLine, 1)},
		{"unknown field", strings.Replace(man1, manHashLine, "note: x\n"+manHashLine, 1)},
		{"uppercase header-sha256", strings.Replace(man1, manHashLine, strings.ToUpper(manHashLine[:len(manHashLine)-1])+"\n", 1)},
		{"CRLF line endings", strings.ReplaceAll(man1, "\n", "\r\n")},
		{"no manifest at all", ""},
		{"manifest of version v3", strings.Replace(man1, "valise-manifest/v2\n", "valise-manifest/v3\n", 1)},
	}
	for _, v := range manifestVariants {
		add("non-canonical manifest", v.name, sealKZ(p1.header, append([]byte(v.man), records1...), 3), exitAuth, "manifest", 0)
	}

	// --- Unknown versions and algorithms, validly signed --------------
	versionVariants := []struct{ name, hdr string }{
		{"bundle format v2", strings.Replace(hdr, "valise-bundle/v1\n", "valise-bundle/v2\n", 1)},
		{"bundle format v0", strings.Replace(hdr, "valise-bundle/v1\n", "valise-bundle/v0\n", 1)},
		{"bundle format v1.1", strings.Replace(hdr, "valise-bundle/v1\n", "valise-bundle/v1.1\n", 1)},
		{"compression gzip", strings.Replace(hdr, "compression: zstd\n", "compression: gzip\n", 1)},
		{"compression none", strings.Replace(hdr, "compression: zstd\n", "compression: none\n", 1)},
		{"compression zstd-2", strings.Replace(hdr, "compression: zstd\n", "compression: zstd-2\n", 1)},
		{"encryption age-v2", strings.Replace(hdr, "encryption: age-v1 ", "encryption: age-v2 ", 1)},
		{"encryption scrypt", regexp.MustCompile(`encryption: .*\n`).ReplaceAllString(hdr, "encryption: age-v1 scrypt\n")},
		{"encryption mlkem1024x448", regexp.MustCompile(`encryption: .*\n`).ReplaceAllString(hdr, "encryption: age-v1 mlkem1024x448\n")},
		{"encryption in uppercase", regexp.MustCompile(`encryption: .*\n`).ReplaceAllString(hdr, "encryption: AGE-V1 X25519\n")},
		{"schema major 2", strings.Replace(hdr, "schema: 1.0\n", "schema: 2.0\n", 1)},
		{"schema major 0", strings.Replace(hdr, "schema: 1.0\n", "schema: 0.9\n", 1)},
	}
	for _, v := range versionVariants {
		add("versions and algorithms", v.name, sealKZ([]byte(v.hdr), rebind(t, plain1, []byte(v.hdr)), 3), exitMalformed, "header", exitMalformed)
	}
	add("versions and algorithms", "trailer format v2",
		assemble(p1.header, p1.payload, bytes.Replace(body1, []byte("valise-trailer/v1\n"), []byte("valise-trailer/v2\n"), 1), kz.keys.Signing),
		exitMalformed, "trailer", exitMalformed)
	{
		payload := bytes.Replace(encrypt(t, compress(plain1), hybridCA), []byte("age-encryption.org/v1\n"), []byte("age-encryption.org/v2\n"), 1)
		add("versions and algorithms", "age format v2 in the payload", signed(p1.header, payload, 3, kz.keys.Signing), exitAuth, "decryption", 0)
		armored := encryptArmored(t, compress(plain1), hybridCA)
		add("versions and algorithms", "armored age payload", signed(p1.header, armored, 3, kz.keys.Signing), exitAuth, "decryption", 0)
	}
	for _, s := range []struct {
		name string
		msg  []byte
	}{
		{"context-less signature by the same key over the same bytes", append(append([]byte(nil), p1.header...), body1...)},
		{"signature in the card context", append(append([]byte("valise-card-signature/v1\x00"), p1.header...), body1...)},
		{"signature context without its NUL", append(append([]byte("valise-bundle-signature/v1"), p1.header...), body1...)},
		{"signature over the trailer body only", append([]byte(sigContext), body1...)},
		{"signature over the header only", append([]byte(sigContext), p1.header...)},
	} {
		add("signature context", s.name, assembleSig(p1.header, p1.payload, body1, ed25519.Sign(kz.keys.Signing, s.msg)), exitAuth, "signature", exitAuth)
	}

	// --- Age headers -------------------------------------------------
	{
		real := encrypt(t, compress(plain1), hybridCA)
		fake := fakeStanzas(10000, "X25519")
		add("age header", "10,000 X25519 stanzas before the real one, validly signed",
			signed(p1.header, spliceStanzas(t, real, fake), 3, kz.keys.Signing), exitAuth, "decryption", 0)
		add("age header", "10,000 X25519 stanzas before the real one, signature broken",
			assemble(p1.header, spliceStanzas(t, real, fake), trailerBody(spliceStanzas(t, real, fake), 3), kg.keys.Signing), exitAuth, "signature", exitAuth)
		add("age header", "10,000 hybrid stanzas before the real one, validly signed",
			signed(p1.header, spliceStanzas(t, real, fakeStanzas(10000, "mlkem768x25519")), 3, kz.keys.Signing), exitAuth, "decryption", 0)
		scrypt := encryptScrypt(t, compress(plain1))
		add("age header", "scrypt stanza only", signed(p1.header, scrypt, 3, kz.keys.Signing), exitAuth, "decryption", 0)
		add("age header", "scrypt stanza beside the real one", signed(p1.header, spliceStanzas(t, real, stanzasOf(t, scrypt)), 3, kz.keys.Signing), exitAuth, "decryption", 0)
		unknown := encrypt(t, compress(plain1), []age.Recipient{greaseRecipient{}})
		add("age header", "unknown stanza type only", signed(p1.header, unknown, 3, kz.keys.Signing), exitAuth, "decryption", 0)
		add("age header", "stanza with 200 arguments", signed(p1.header, spliceStanzas(t, real, []byte("-> X25519"+strings.Repeat(" a", 200)+"\n\n")), 3, kz.keys.Signing), exitAuth, "decryption", 0)
		add("age header", "stanza with a 1 MiB argument", signed(p1.header, spliceStanzas(t, real, []byte("-> X25519 "+strings.Repeat("A", 1<<20)+"\n\n")), 3, kz.keys.Signing), exitAuth, "decryption", 0)
		badMAC := bytes.Clone(real)
		m := bytes.Index(badMAC, []byte("\n--- ")) + len("\n--- ")
		badMAC[m] = b64Alphabet[(strings.IndexByte(b64Alphabet, badMAC[m])+1)%64]
		add("age header", "header MAC broken", signed(p1.header, badMAC, 3, kz.keys.Signing), exitAuth, "decryption", 0)
	}

	// --- Records -------------------------------------------------------
	{
		l := func(id, name string) []byte { return canonicalLine(person(id, name)) }
		man := []byte(man1)
		join := func(ls ...[]byte) []byte { return bytes.Join(append([][]byte{man}, ls...), nil) }
		add("records", "duplicate record id", sealKZ(p1.header, join(l("x-1", "A"), l("x-1", "B")), 2), exitInvalid, "record order", 0)
		add("records", "duplicate record, identical lines", sealKZ(p1.header, join(l("x-1", "A"), l("x-1", "A")), 2), exitInvalid, "record order", 0)
		add("records", "records out of id order", sealKZ(p1.header, join(l("x-2", "A"), l("x-1", "B")), 2), exitInvalid, "record order", 0)
		add("records", "trailer declares more records", sealKZ(p1.header, join(l("x-1", "A"), l("x-2", "B")), 3), exitAuth, "record count", 0)
		add("records", "trailer declares fewer records", sealKZ(p1.header, join(l("x-1", "A"), l("x-2", "B")), 1), exitAuth, "record count", 0)
		add("records", "trailer declares no records", sealKZ(p1.header, join(l("x-1", "A")), 0), exitAuth, "record count", 0)
		add("records", "empty line between records", sealKZ(p1.header, join(l("x-1", "A"), []byte("\n"), l("x-2", "B")), 3), exitInvalid, "record", 0)
		add("records", "record not in canonical form", sealKZ(p1.header, join(bytes.Replace(l("x-1", "A"), []byte(`{"`), []byte(`{ "`), 1)), 1), exitInvalid, "record", 0)
		add("records", "last record without its newline", sealKZ(p1.header, join(bytes.TrimSuffix(l("x-1", "A"), []byte("\n"))), 1), exitMalformed, "record", 0)
		big := person("x-1", "A")
		big.Properties["notes"] = []string{strings.Repeat("n", 60<<10)}
		line := canonicalLine(big)
		long := bytes.Replace(line, []byte(`"notes":[`), []byte(`"notes":[`+strings.Repeat(`"`+strings.Repeat("n", 60<<10)+`",`, 17)), 1)
		add("records", "record line over 1 MiB", sealKZ(p1.header, join(long), 1), exitMalformed, "record", 0)
		add("records", "trailing bytes after the zstd stream", signed(p1.header, encrypt(t, append(compress(plain1), "junk"...), hybridCA), 3, kz.keys.Signing),
			exitMalformed, "decompression", 0)
		add("records", "bytes after the footer", append(bytes.Clone(b1), '\n'), exitMalformed, "trailer", exitMalformed)
		add("records", "two bundles concatenated", append(bytes.Clone(b1), b2...), exitMalformed, "payload length", exitMalformed)
	}

	// --- Hostile text in records, refused --------------------------------
	{
		man := []byte(man1)
		bad := func(v string) []byte { return append(bytes.Clone(man), canonicalLine(person("x-1", v))...) }
		add("hostile text", "name with malformed UTF-8", sealKZ(p1.header, append(bytes.Clone(man), bytes.Replace(canonicalLine(person("x-1", "AB")), []byte("AB"), []byte("A\xffB"), 1)...), 1), exitInvalid, "record", 0)
		add("hostile text", "name with an overlong UTF-8 slash", sealKZ(p1.header, append(bytes.Clone(man), bytes.Replace(canonicalLine(person("x-1", "AB")), []byte("AB"), []byte("A\xc0\xafB"), 1)...), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a UTF-16 surrogate", sealKZ(p1.header, append(bytes.Clone(man), bytes.Replace(canonicalLine(person("x-1", "AB")), []byte("AB"), []byte("A\xed\xa0\x80B"), 1)...), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a NUL byte", sealKZ(p1.header, bad("Ivan\x00Petrov"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a terminal escape", sealKZ(p1.header, bad("Ivan\x1b[2J\x1b[31mPetrov"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with an OSC 52 clipboard escape", sealKZ(p1.header, bad("\x1b]52;c;cm0gLXJmIH4K\x07"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a C1 CSI", sealKZ(p1.header, bad("Ivan\u009b2J"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a right-to-left override", sealKZ(p1.header, bad("Ivan \u202eovrteP"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a first-strong isolate", sealKZ(p1.header, bad("Ivan \u2068x\u2069"), 1), exitInvalid, "record", 0)
		add("hostile text", "name imitating a verdict line", sealKZ(p1.header, bad("x\n  verdict     OK: signed by KZ-NCB, intact"), 1), exitInvalid, "record", 0)
		add("hostile text", "name with a carriage return", sealKZ(p1.header, bad("x\r  REFUSED"), 1), exitInvalid, "record", 0)
		idBad := bytes.Replace(canonicalLine(person("x-1", "A")), []byte(`"id":"x-1"`), []byte(`"id":"x-1\u001b[2J"`), 1)
		add("hostile text", "record id with an escape", sealKZ(p1.header, append(bytes.Clone(man), idBad...), 1), exitInvalid, "record", 0)
	}

	// --- Age payload cut before its final chunk -----------------------
	{
		// age authenticates each 64 KiB chunk and releases it before it
		// knows whether the stream ends properly: the records of the
		// first chunks reach the merge, in a transaction that must not
		// commit.
		hdrEnd := bytes.Index(p3.payload, []byte("\n--- ")) + 1
		hdrEnd += bytes.IndexByte(p3.payload[hdrEnd:], '\n') + 1
		const chunk = 64<<10 + 16
		body := len(p3.payload) - hdrEnd - 16 // minus the stream nonce
		if body <= 2*chunk {
			t.Fatalf("bundle 3 has a payload of %d bytes: too small to cut between chunks", len(p3.payload))
		}
		n3 := uint64(3000)
		cut := func(n int) []byte { return signed(p3.header, p3.payload[:n], n3, kz.keys.Signing) }
		first := hdrEnd + 16 + chunk
		add("truncated age payload", "cut after the first chunk", cut(first), exitAuth, "decryption", 0)
		add("truncated age payload", "cut after all but the final chunk", cut(hdrEnd+16+(body/chunk)*chunk), exitAuth, "decryption", 0)
		add("truncated age payload", "cut inside the final chunk", cut(len(p3.payload)-7), exitAuth, "decryption", 0)
		add("truncated age payload", "cut inside the second chunk", cut(first+1000), exitAuth, "decryption", 0)
		add("truncated age payload", "cut inside the first chunk", cut(hdrEnd+16+1000), exitAuth, "decryption", 0)
		add("truncated age payload", "cut and signature broken", assemble(p3.header, p3.payload[:first], trailerBody(p3.payload[:first], n3), kg.keys.Signing), exitAuth, "signature", exitAuth)
		ext := append(bytes.Clone(p3.payload), p3.payload[hdrEnd+16:hdrEnd+16+chunk]...)
		add("truncated age payload", "a chunk appended after the final one", signed(p3.header, ext, n3, kz.keys.Signing), exitAuth, "decryption", 0)
	}

	stats := w.runCases(t, cases)
	logStats(t, stats)

	// The genuine bundles still import, so the refusals above were not
	// an import that never works.
	for _, b := range []string{"b1.valise", "b2.valise", "b3.valise"} {
		if code, out, errOut := valise("import", "--home", ca.home, filepath.Join(w.dir, b)); code != 0 {
			t.Fatalf("genuine %s: exit %d\n%s%s", b, code, out, errOut)
		}
	}
	if code, out, errOut := valise("audit", "--home", ca.home); code != 0 {
		t.Errorf("audit after the refusals: exit %d\n%s%s", code, tail(out), errOut)
	}
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
