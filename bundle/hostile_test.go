package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"

	"valise/internal/testenv"
	"valise/schema"
)

// rawBundle builds a validly signed bundle around an arbitrary plaintext,
// so tests can feed the reader hostile payloads from an authentic sender.
func rawBundle(t testing.TB, from, to office, plaintext func(h *Header, hdr []byte) io.Reader, records uint64) []byte {
	t.Helper()
	id, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: from.card.Agency,
		SenderKey: from.card.Fingerprint(), Recipients: []Recipient{{Agency: to.card.Agency, Fingerprint: to.card.Fingerprint(), Sequence: 1}},
		Schema: schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	hdr := h.Marshal()
	var payload bytes.Buffer
	aw, err := age.Encrypt(&payload, to.card.AgeRecipients(true)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(aw, plaintext(h, hdr)); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	tr := &Trailer{PayloadLength: int64(payload.Len()), PayloadHash: sumPayload(payload.Bytes()), Records: records}
	tr.Signature = ed25519.Sign(from.keys.Signing, signedMessage(hdr, tr.body()))
	out := append(append([]byte(nil), hdr...), payload.Bytes()...)
	tb := tr.marshal()
	out = append(out, tb...)
	return append(out, fmt.Sprintf("%s%04x\n", footerPrefix, len(tb))...)
}

func zstdOf(t testing.TB, parts ...[]byte) []byte {
	var b bytes.Buffer
	zw, _ := zstd.NewWriter(&b)
	for _, p := range parts {
		zw.Write(p)
	}
	zw.Close()
	return b.Bytes()
}

func manifestOf(h *Header, hdr []byte) []byte {
	m := &Manifest{ID: h.ID, Sender: h.Sender, SenderKey: h.SenderKey, Recipients: h.Recipients, TreeSecret: make([]byte, TreeSecretSize), HeaderHash: sha256.Sum256(hdr)}
	return m.marshal()
}

// zeroReader yields n zero bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// TestDecompressionBomb: 1 GiB of zeros after a valid manifest, from an
// authentic sender, is refused as an over-long record with peak memory
// under SPEC §8's 200 MiB. The test runs again in a child process (the
// test binary, this test alone) whose peak resident memory is measured:
// the bomb's making and its refusal together must stay under the bound,
// which a reader that buffered the record would pass by gigabytes.
func TestDecompressionBomb(t *testing.T) {
	if !testenv.InChild(t) {
		if peak := testenv.RunChild(t); peak > 200<<20 {
			t.Errorf("peak memory %s making and refusing the bomb, want under 200 MiB", testenv.MiB(peak))
		}
		return
	}
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	// 1 GiB of zeros after a valid manifest: compresses to a few tens of KB.
	data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
		var c bytes.Buffer
		zw, _ := zstd.NewWriter(&c, zstd.WithEncoderLevel(zstd.SpeedFastest))
		zw.Write(manifestOf(h, hdr))
		io.Copy(zw, &zeroReader{n: 1 << 30})
		zw.Close()
		return &c
	}, 1)
	if len(data) > 1<<20 {
		t.Fatalf("bomb is %d bytes, expected it to be small", len(data))
	}
	_, err := readAll(data, a, b)
	var e *Error
	if !errors.As(err, &e) || e.Check != "record" || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("got %v, want a refused over-long record", err)
	}
}

func TestDecompressedCap(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	recs := testRecords(200)
	data := pack(t, a, b, recs)
	r, err := Open(bytes.NewReader(data), WithMaxBytes(4<<10))
	if err != nil {
		t.Fatal(err)
	}
	rr, err := r.Decrypt(a.card.SigningKey, b.keys.Identities...)
	if err == nil {
		for err == nil {
			_, _, err = rr.Next()
		}
	}
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "cap") {
		t.Fatalf("got %v, want the decompressed size cap", err)
	}
	if _, err := Open(bytes.NewReader(data), WithMaxBytes(10)); err == nil {
		t.Fatal("a cap below 1 KiB was accepted")
	}
}

func TestManifestBindsHeader(t *testing.T) {
	a, b, c := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC"), newOffice(t, "KG-NCB")
	// A payload whose manifest names another sender: the signature is
	// valid (made by a), the manifest says the content was sealed by c.
	data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
		m := &Manifest{ID: h.ID, Sender: c.card.Agency, SenderKey: c.card.Fingerprint(), Recipients: h.Recipients, TreeSecret: make([]byte, TreeSecretSize), HeaderHash: sha256.Sum256(hdr)}
		return bytes.NewReader(zstdOf(t, m.marshal()))
	}, 0)
	if _, err := readAll(data, a, b); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "re-signed") {
		t.Fatalf("got %v, want a manifest failure naming re-signing", err)
	}
	// A manifest bound to another header.
	data = rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
		return bytes.NewReader(zstdOf(t, manifestOf(h, append([]byte("x"), hdr...))))
	}, 0)
	if _, err := readAll(data, a, b); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `"manifest"`) {
		t.Fatalf("got %v, want a manifest failure", err)
	}
}

func TestRecordRules(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	line := func(id string) []byte {
		r := testRecords(1)[0]
		r.ID = id
		return append(r.AppendCanonical(nil), '\n')
	}
	lineOf := func(id, origin string) []byte {
		r := testRecords(1)[0]
		r.ID, r.Origin = id, origin
		return append(r.AppendCanonical(nil), '\n')
	}
	cases := map[string]struct {
		lines [][]byte
		count uint64
		want  string
	}{
		"duplicate id":     {[][]byte{line("a"), line("a")}, 2, "duplicate record a@KZ-NCB"},
		"unsorted":         {[][]byte{line("b"), line("a")}, 2, "increasing order of id and origin"},
		"origins unsorted": {[][]byte{lineOf("a", "KZ-NCB"), lineOf("a", "KG-NCB")}, 2, "a@KG-NCB after a@KZ-NCB"},
		"count mismatch":   {[][]byte{line("a")}, 2, "record count"},
		"not canonical":    {[][]byte{[]byte(`{ "id":"a","schema":"Person","properties":{"name":["x"]},"origin":"KZ-NCB","handling":{"tlp":"amber"}}` + "\n")}, 1, "canonical"},
		"invalid record":   {[][]byte{[]byte(`{"handling":{"tlp":"amber"},"id":"a","origin":"KZ-NCB","properties":{"birthDate":["1975-13-01"],"name":["x"]},"schema":"Person"}` + "\n")}, 1, "ISO 8601"},
		"no final newline": {[][]byte{bytes.TrimSuffix(line("a"), []byte("\n"))}, 1, "ends inside"},
	}
	for name, tc := range cases {
		data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
			return bytes.NewReader(zstdOf(t, append([][]byte{manifestOf(h, hdr)}, tc.lines...)...))
		}, tc.count)
		if _, err := readAll(data, a, b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	// One id from two origins is two records, in order of origin.
	data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
		return bytes.NewReader(zstdOf(t, manifestOf(h, hdr), lineOf("a", "KG-NCB"), lineOf("a", "KZ-NCB")))
	}, 2)
	if recs, err := readAll(data, a, b); err != nil || len(recs) != 2 {
		t.Errorf("one id from two origins: %d records, %v", len(recs), err)
	}
}

func TestContextlessSignatureRefused(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	data := pack(t, a, b, testRecords(2))
	r, _ := Open(bytes.NewReader(data))
	tr, err := r.Verify(a.card.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	// Re-sign header and trailer body by the same key without the context.
	msg := append(append([]byte(nil), r.HeaderBytes...), tr.body()...)
	tr.Signature = ed25519.Sign(a.keys.Signing, msg)
	end := bytes.LastIndex(data, []byte(trailerMagic))
	tb := tr.marshal()
	bad := append(append(append([]byte(nil), data[:end]...), tb...), fmt.Sprintf("%s%04x\n", footerPrefix, len(tb))...)
	r, _ = Open(bytes.NewReader(bad))
	if _, err := r.Verify(a.card.SigningKey); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("context-less signature: got %v", err)
	}
}

// TestHugeDeclaredSizes: trailers that declare sizes no bundle has, each
// validly signed by the sender, are refused by the size checks themselves
// (the check named, the error class), before any signature or record is
// looked at: the same trailer with a broken signature gets the same
// refusal. A control case with the true sizes verifies, so what fails is
// the size check and nothing else.
func TestHugeDeclaredSizes(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	data := pack(t, a, b, testRecords(1))
	r, err := Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	hdr := r.HeaderBytes
	end := bytes.LastIndex(data, []byte(trailerMagic))
	payload := data[len(hdr):end]
	sum := sumPayload(payload)
	hash := hex.EncodeToString(sum[:])
	n := fmt.Sprint(len(payload))
	// withTrailer replaces the trailer by body, signed by a unless broken,
	// padded with extra bytes before the signature line when pad > 0.
	withTrailer := func(body string, broken bool, pad int) []byte {
		sig := ed25519.Sign(a.keys.Signing, signedMessage(hdr, []byte(body)))
		if broken {
			sig[0] ^= 1
		}
		tb := []byte(body + strings.Repeat("x", pad) + "signature: " + b64(sig) + "\n")
		out := append(append([]byte(nil), data[:end]...), tb...)
		return append(out, fmt.Sprintf("%s%04x\n", footerPrefix, len(tb))...)
	}
	trailer := func(length, hash, records string) string {
		return trailerMagic + "\npayload-length: " + length + "\npayload-hash: " + hash + "\nrecords: " + records + "\n"
	}
	// The control: the construction is right, the signature valid.
	for _, stream := range []bool{false, true} {
		if _, err := verifyBytes(withTrailer(trailer(n, hash, "1"), false, 0), a, stream); err != nil {
			t.Fatalf("the control trailer (stream %v) does not verify: %v", stream, err)
		}
	}
	cases := []struct {
		name, body string
		pad        int
		check      string
		kind       error
		msg        string
	}{
		{"payload-length 2^63", trailer("9223372036854775808", hash, "1"), 0, "trailer", ErrMalformed, "payload-length"},
		{"payload-length 2^32", trailer("4294967296", hash, "1"), 0, "payload length", ErrMalformed, "declares 4294967296 payload bytes"},
		{"payload-length 2^32 with a zero hash", trailer("4294967296", strings.Repeat("0", 64), "1"), 0, "payload length", ErrMalformed, "declares 4294967296 payload bytes"},
		{"2^40+1 records", trailer(n, hash, "1099511627777"), 0, "trailer", ErrMalformed, "records"},
		{"2^64 records", trailer(n, hash, "18446744073709551616"), 0, "trailer", ErrMalformed, "records"},
		{"a 4,097-byte trailer", trailer(n, hash, "1"), MaxTrailerSize + 1 - len(trailer(n, hash, "1")) - len("signature: \n") - 88, "trailer", ErrMalformed, "footer declares a trailer of 4097 bytes"},
		{"a 60,000-byte trailer", trailer(n, hash, "1"), 60000 - len(trailer(n, hash, "1")) - len("signature: \n") - 88, "trailer", ErrMalformed, "footer declares a trailer of 60000 bytes"},
	}
	for _, tc := range cases {
		for _, broken := range []bool{false, true} {
			for _, stream := range []bool{false, true} {
				name := fmt.Sprintf("%s (signature broken %v, read as a stream %v)", tc.name, broken, stream)
				_, err := verifyBytes(withTrailer(tc.body, broken, tc.pad), a, stream)
				var e *Error
				if !errors.As(err, &e) || e.Check != tc.check || !errors.Is(err, tc.kind) || !strings.Contains(e.Msg, tc.msg) {
					t.Errorf("%s: got %v, want check %q (%v) saying %q", name, err, tc.check, tc.kind, tc.msg)
				}
			}
		}
	}
	// 10^12 records is within the bound: the auditor accepts the signed
	// trailer, and import refuses the count at the end of the records.
	big := withTrailer(trailer(n, hash, "1000000000000"), false, 0)
	if _, err := verifyBytes(big, a, false); err != nil {
		t.Fatalf("10^12 records, validly signed: verify: %v", err)
	}
	var e *Error
	if _, err := readAll(big, a, b); !errors.As(err, &e) || e.Check != "record count" || !errors.Is(err, ErrAuth) {
		t.Fatalf("10^12 records, validly signed: import got %v, want the record count check", err)
	}
	// A header claiming an absurd sequence.
	h := strings.Replace(string(data), " 1\nschema:", " 9223372036854775808\nschema:", 1)
	if _, err := Open(strings.NewReader(h)); !errors.As(err, &e) || e.Check != "header" || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "9223372036854775808") {
		t.Fatalf("huge sequence: %v", err)
	}
}

// verifyBytes opens and verifies a bundle: from a bytes.Reader (read at
// offsets), or as a stream.
func verifyBytes(data []byte, from office, stream bool) (*Trailer, error) {
	var src io.Reader = bytes.NewReader(data)
	if stream {
		src = io.MultiReader(src) // hides ReadAt and Seek
	}
	r, err := Open(src)
	if err != nil {
		return nil, err
	}
	return r.Verify(from.card.SigningKey)
}

func FuzzHeader(f *testing.F) {
	a, b := newOffice(f, "KZ-NCB"), newOffice(f, "CARICC")
	data := pack(f, a, b, nil)
	r, _ := Open(bytes.NewReader(data))
	f.Add(r.HeaderBytes)
	f.Add([]byte("valise-bundle/v1\n---\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseHeader(in)
		if err != nil {
			return
		}
		if !bytes.Equal(h.Marshal(), in) {
			t.Fatalf("parse then marshal is not the identity")
		}
	})
}

// FuzzReader feeds whole files to the reader. The seed is small (X25519,
// one record: about 750 bytes): the fuzzer minimizes every input that finds
// new coverage by removing bytes one and two at a time, so the cost of
// minimizing grows with the square of the seed's size, and with the 2.5 KB
// post-quantum seed this target had, workers spent nearly all their time
// minimizing (a few execs in 30 seconds). FuzzPayload reaches what lies
// behind the signature and age.
func FuzzReader(f *testing.F) {
	a, b := newOffice(f, "KZ-NCB"), newOffice(f, "CARICC")
	f.Add(packX25519(f, a, b, testRecords(1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Whatever the input, the reader must not panic or run away, and
		// what import accepts the auditor must accept too.
		r, err := Open(bytes.NewReader(in), WithMaxBytes(1<<20))
		if err != nil {
			return
		}
		_, verr := r.Verify(a.card.SigningKey)
		if _, err := readCapped(in, a, b, 1<<20); err == nil && verr != nil {
			t.Fatalf("import accepted a bundle that verify refuses: %v", verr)
		}
	})
}

// TestProofLines reads back what WriteProof and WriteTree wrote, and
// refuses the payloads that break their order: a proof line before any
// record, a record after the tree section; and reads a v1 manifest, which
// has no tree secret.
func TestProofLines(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	id, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: a.card.Agency,
		SenderKey: a.card.Fingerprint(), Recipients: []Recipient{{Agency: b.card.Agency, Fingerprint: b.card.Fingerprint(), Sequence: 1}},
		Schema: schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	var buf bytes.Buffer
	secret := bytes.Repeat([]byte{7}, TreeSecretSize)
	w, err := NewWriter(&buf, h, a.keys.Signing, b.card.AgeRecipients(true), WithTreeSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(3)
	if err := w.WriteProof([]byte(`[]`)); err == nil {
		t.Fatal("a proof line before any record was written")
	}
	buf.Reset()
	w, _ = NewWriter(&buf, h, a.keys.Signing, b.card.AgeRecipients(true), WithTreeSecret(secret))
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := w.WriteProof([]byte(`[{"p":1}]`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.WriteTree("tree", []byte(`{"t":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTree("node", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rr, err := r.Decrypt(a.card.SigningKey, b.keys.Identities...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rr.Manifest.TreeSecret, secret) {
		t.Errorf("tree secret %x, want %x", rr.Manifest.TreeSecret, secret)
	}
	var proofs []string
	for {
		rec, _, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, rec.ID+"="+string(rr.Proof()))
	}
	if fmt.Sprint(proofs) != `[p-000000= p-000001=[{"p":1}] p-000002=]` {
		t.Errorf("proofs %v", proofs)
	}
	if tr := rr.Trees(); len(tr) != 2 || string(tr[0]) != `tree {"t":1}` || string(tr[1]) != `node {"n":1}` {
		t.Errorf("tree section %q", tr)
	}

	// Out of order: refused.
	line := func(r *schema.Record) []byte { return append(r.AppendCanonical(nil), '\n') }
	for name, lines := range map[string][][]byte{
		"proof first":         {[]byte("proof []\n"), line(recs[0])},
		"record after a tree": {line(recs[0]), []byte("tree {}\n"), line(recs[1])},
	} {
		data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
			return bytes.NewReader(zstdOf(t, append([][]byte{manifestOf(h, hdr)}, lines...)...))
		}, 2)
		if _, err := readAll(data, a, b); !errors.Is(err, ErrContent) {
			t.Errorf("%s: got %v, want a content failure", name, err)
		}
	}
	// A v1 manifest is read, without a tree secret.
	data := rawBundle(t, a, b, func(h *Header, hdr []byte) io.Reader {
		m := &Manifest{ID: h.ID, Sender: h.Sender, SenderKey: h.SenderKey, Recipients: h.Recipients, HeaderHash: sha256.Sum256(hdr), V1: true}
		return bytes.NewReader(zstdOf(t, m.marshal(), line(recs[0])))
	}, 1)
	if got, err := readAll(data, a, b); err != nil || len(got) != 1 {
		t.Errorf("a v1 payload: %d records, %v", len(got), err)
	}
}
