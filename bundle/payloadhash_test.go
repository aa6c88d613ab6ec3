package bundle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"valise/schema"
)

// sumPayload returns the payload hash of p.
func sumPayload(p []byte) [32]byte {
	h := newPayloadHash()
	h.Write(p)
	return h.Sum()
}

// referencePayloadHash is FORMAT.md §4.1 written as plainly as possible:
// the whole payload in memory, cut, hashed, joined.
func referencePayloadHash(p []byte) [32]byte {
	joined := []byte("valise payload chunks v1 1048576\n")
	for off := 0; off < len(p); off += 1 << 20 {
		d := sha256.Sum256(p[off:min(off+1<<20, len(p))])
		joined = append(joined, d[:]...)
	}
	return sha256.Sum256(joined)
}

// TestPayloadHashDocumented pins the examples given in FORMAT.md §4.1.
func TestPayloadHashDocumented(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"no bytes", nil, "d54ec41977bc110e989b33d5f81e84f21afbf910b2cab6ce29047c41bdca7104"},
		{"abc", []byte("abc"), "844d2987f3ebdfb7459c8c5f829d1bbf1923694d5f16d745ccf7147e41f953de"},
		{"1 MiB + 1 zero bytes", make([]byte, 1<<20+1), "d229e488fab7f99dc4f7cc0c1d0f7654160a5bfb9f9c01a9e455775810de5370"},
	} {
		got := sumPayload(c.payload)
		if ref := referencePayloadHash(c.payload); got != ref {
			t.Fatalf("%s: %x, the reference computes %x", c.name, got, ref)
		}
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("%s: %x, FORMAT.md says %s", c.name, got, c.want)
		}
	}
}

// TestPayloadHashPaths: every way the reader and writer compute the hash
// (written in pieces of any size, read at offsets in parallel, streamed in
// parallel) agrees with the reference, around chunk boundaries.
func TestPayloadHashPaths(t *testing.T) {
	data := make([]byte, 3<<20+100)
	rand.Read(data)
	const base = 7 // the payload does not start at offset 0 of its file
	file := append(make([]byte, base), data...)
	for _, n := range []int{0, 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 2 << 20, 3<<20 + 100} {
		p := data[:n]
		want := referencePayloadHash(p)
		for _, step := range []int{1, 4095, 64 << 10, 1 << 20, 3 << 20} {
			if n > 1<<20+1 && step == 1 {
				continue
			}
			h := newPayloadHash()
			for off := 0; off < n; off += step {
				h.Write(p[off:min(off+step, n)])
			}
			if got := h.Sum(); got != want {
				t.Fatalf("%d bytes written %d at a time: %x, want %x", n, step, got, want)
			}
			if got := h.Sum(); got != want {
				t.Fatalf("%d bytes: Sum changed the state", n)
			}
		}
		h := newPayloadHash()
		if err := hashAt(h, bytes.NewReader(file), base, int64(n)); err != nil {
			t.Fatal(err)
		}
		if got := h.Sum(); got != want {
			t.Fatalf("%d bytes read at offsets: %x, want %x", n, got, want)
		}
		h = newPayloadHash()
		if err := hashStream(h, iotest.HalfReader(bytes.NewReader(p))); err != nil {
			t.Fatal(err)
		}
		if got := h.Sum(); got != want {
			t.Fatalf("%d bytes streamed: %x, want %x", n, got, want)
		}
		// The import path: sequential to the middle of a chunk, then the
		// rest streamed in parallel, as Verify does after a failed Decrypt.
		if n > 1<<20+12345 {
			h = newPayloadHash()
			h.Write(p[:1<<20+12345])
			rest := bytes.NewReader(p[1<<20+12345:])
			io.CopyN(h, rest, 1<<20-12345)
			if err := hashStream(h, rest); err != nil {
				t.Fatal(err)
			}
			if got := h.Sum(); got != want {
				t.Fatalf("%d bytes, sequential then streamed: %x, want %x", n, got, want)
			}
		}
	}
}

// failingReaderAt fails every read from off on.
type failingReaderAt struct {
	r   io.ReaderAt
	off int64
}

var errDisk = errors.New("input/output error")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

func TestPayloadHashReadErrorStopsWorkers(t *testing.T) {
	data := make([]byte, 20<<20)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		err := hashAt(newPayloadHash(), failingReaderAt{bytes.NewReader(data), int64(i) << 20}, 0, int64(len(data)))
		if !errors.Is(err, errDisk) {
			t.Fatalf("read failing at chunk %d: %v", i, err)
		}
		err = hashStream(newPayloadHash(), io.MultiReader(bytes.NewReader(data[:i<<20+5]), iotest.ErrReader(errDisk)))
		if !errors.Is(err, errDisk) {
			t.Fatalf("stream failing in chunk %d: %v", i, err)
		}
	}
	// A hang guard, not a timing bound: the workers end as soon as they are
	// scheduled, which on a loaded machine may take a while.
	for deadline := time.Now().Add(time.Minute); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after: hash workers leaked", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bigRecords are records whose notes do not compress away, so that a
// bundle of n of them has a payload of about n KiB.
func bigRecords(n int) []*schema.Record {
	recs := testRecords(n)
	for _, r := range recs {
		notes := make([]byte, 1024)
		rand.Read(notes)
		r.Properties["notes"] = []string{fmt.Sprintf("%x", notes)[:1400]}
	}
	return recs
}

// verifyAll verifies data as the CLI does (a file), from a file at an
// offset, as a bytes.Reader and as a plain stream, and checks that all
// four agree: the same trailer or the same failed check.
func verifyAll(t *testing.T, data []byte, from office) (*Trailer, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "b.valise")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	shifted := filepath.Join(dir, "shifted.valise")
	if err := os.WriteFile(shifted, append([]byte("junk before the bundle\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	open := map[string]func() (io.Reader, func()){
		"file": func() (io.Reader, func()) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return f, func() { f.Close() }
		},
		"file at an offset": func() (io.Reader, func()) {
			f, err := os.Open(shifted)
			if err != nil {
				t.Fatal(err)
			}
			f.Seek(int64(len("junk before the bundle\n")), io.SeekStart)
			return f, func() { f.Close() }
		},
		"bytes.Reader": func() (io.Reader, func()) { return bytes.NewReader(data), func() {} },
		"stream":       func() (io.Reader, func()) { return iotest.HalfReader(bytes.NewReader(data)), func() {} },
	}
	var first string
	var tr0 *Trailer
	var err0 error
	for _, how := range []string{"file", "file at an offset", "bytes.Reader", "stream"} {
		src, done := open[how]()
		r, err := Open(src)
		var tr *Trailer
		if err == nil {
			if how != "stream" && r.file == nil {
				t.Fatalf("%s: not read at offsets", how)
			}
			tr, err = r.Verify(from.card.SigningKey)
		}
		done()
		outcome := "ok"
		var e *Error
		if errors.As(err, &e) {
			outcome = e.Check
		} else if err != nil {
			t.Fatalf("%s: error without a check: %v", how, err)
		}
		if first == "" {
			first, tr0, err0 = outcome, tr, err
			continue
		}
		if outcome != first {
			t.Fatalf("verify from a %s: %v; from a file: %v", how, err, err0)
		}
		if tr != nil && (tr.PayloadHash != tr0.PayloadHash || tr.PayloadLength != tr0.PayloadLength) {
			t.Fatalf("verify from a %s: another trailer", how)
		}
	}
	return tr0, err0
}

func TestVerifyMultiChunk(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	data := pack(t, a, b, bigRecords(4000))
	tr, err := verifyAll(t, data, a)
	if err != nil {
		t.Fatal(err)
	}
	if tr.PayloadLength <= 2<<20 {
		t.Fatalf("payload of %d bytes: want three chunks or more", tr.PayloadLength)
	}
	hdrLen := bytes.Index(data, []byte("\n---\n")) + 5
	if tr.PayloadHash != referencePayloadHash(data[hdrLen:hdrLen+int(tr.PayloadLength)]) {
		t.Fatal("the signed payload hash is not the one FORMAT.md defines")
	}
	// One bit in each chunk, and around the boundaries.
	for _, off := range []int{0, 1<<20 - 1, 1 << 20, 1<<20 + 1, 2<<20 - 1, 2 << 20, int(tr.PayloadLength) - 1} {
		bad := bytes.Clone(data)
		bad[hdrLen+off] ^= 0x20
		if _, err := verifyAll(t, bad, a); !errors.Is(err, ErrAuth) || err.(*Error).Check != "payload hash" {
			t.Fatalf("bit flipped at payload offset %d: %v", off, err)
		}
	}
	for _, cut := range []int{1, 40, 4112, 1 << 20} {
		if _, err := verifyAll(t, data[:len(data)-cut], a); err == nil {
			t.Fatalf("cut %d bytes: verified", cut)
		}
	}
	if _, err := verifyAll(t, append(bytes.Clone(data), 'x'), a); err == nil {
		t.Fatal("a byte appended: verified")
	}
}

// TestVerifyAfterPartialDecrypt: when decryption fails part way, the
// reader goes on to check the signature from where it stopped (diagnose):
// the payload hash must come out the same from the middle of a chunk.
func TestVerifyAfterPartialDecrypt(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	recs := bigRecords(3000)
	data := pack(t, a, b, recs)
	r, err := Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rr, err := r.Decrypt(a.card.SigningKey, b.keys.Identities...)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	for i := 0; i < 1500; i++ {
		if _, _, err := rr.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if r.tail.n < 1<<20 || r.tail.h.n == 0 {
		t.Fatalf("read %d payload bytes, %d into a chunk: want the middle of the second chunk", r.tail.n, r.tail.h.n)
	}
	if _, err := r.Verify(a.card.SigningKey); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyLarge is the auditor's check of a bundle with a 64 MiB
// payload (random bytes: Verify does not decrypt), read from a file as
// valise verify does and as a stream; SetBytes is the bundle's size.
func BenchmarkVerifyLarge(b *testing.B) {
	a := newOffice(b, "KZ-NCB")
	id, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: a.card.Agency, SenderKey: a.card.Fingerprint(),
		Recipients: []Recipient{{Agency: "CARICC", Fingerprint: a.card.Fingerprint(), Sequence: 1}},
		Schema:     schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	payload := make([]byte, 64<<20)
	rand.Read(payload)
	data := signedAround(a, h.Marshal(), payload, 1)
	path := filepath.Join(b.TempDir(), "large.valise")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, how := range []string{"file", "stream"} {
		b.Run(how, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				var src io.Reader = f
				if how == "stream" {
					src = struct{ io.Reader }{f}
				}
				r, err := Open(src)
				if err == nil {
					_, err = r.Verify(a.card.SigningKey)
				}
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
