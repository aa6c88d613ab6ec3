package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"valise/crypto"
	"valise/schema"
)

type office struct {
	keys *crypto.Keys
	card *crypto.Card
}

func newOffice(t testing.TB, agency string) office {
	t.Helper()
	k, err := crypto.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := crypto.NewCard(agency, agency+" office", time.Now(), k)
	if err != nil {
		t.Fatal(err)
	}
	return office{k, c}
}

func testRecords(n int) []*schema.Record {
	var out []*schema.Record
	for i := 0; i < n; i++ {
		out = append(out, &schema.Record{ID: fmt.Sprintf("p-%06d", i), Schema: "Person", Origin: "KZ-NCB",
			Properties: map[string][]string{"name": {fmt.Sprintf("Person %d", i)}, "birthDate": {"1975-03-02"}},
			Handling:   schema.Handling{TLP: "amber"}})
	}
	return out
}

func pack(t testing.TB, from, to office, recs []*schema.Record) []byte {
	t.Helper()
	id, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: from.card.Agency,
		SenderKey: from.card.Fingerprint(), Recipients: []Recipient{{Agency: to.card.Agency, Fingerprint: to.card.Fingerprint(), Sequence: 1}},
		Schema: schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, from.keys.Signing, to.card.AgeRecipients(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(data []byte, from, to office) ([]*schema.Record, error) {
	r, err := Open(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	rr, err := r.Decrypt(from.card.SigningKey, to.keys.Identities...)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	var out []*schema.Record
	for {
		rec, _, err := rr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

func TestRoundTrip(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	recs := testRecords(100)
	data := pack(t, a, b, recs)
	got, err := readAll(data, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("got %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(got[i].AppendCanonical(nil), recs[i].AppendCanonical(nil)) {
			t.Fatalf("record %d differs", i)
		}
	}
	r, err := Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := r.Verify(a.card.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Records != 100 {
		t.Fatalf("trailer records %d", tr.Records)
	}
}

// verifyBothWays verifies data read at offsets (as from a file) and as a
// stream, and fails the test unless both fail the same check or both pass.
func verifyBothWays(t *testing.T, data []byte, from office) error {
	t.Helper()
	var errs [2]error
	for i, src := range []io.Reader{bytes.NewReader(data), iotest.HalfReader(bytes.NewReader(data))} {
		r, err := Open(src)
		if err == nil {
			_, err = r.Verify(from.card.SigningKey)
		}
		errs[i] = err
	}
	var e0, e1 *Error
	if (errs[0] == nil) != (errs[1] == nil) || errors.As(errs[0], &e0) != errors.As(errs[1], &e1) || (e0 != nil && e0.Check != e1.Check) {
		t.Fatalf("verify read at offsets: %v; as a stream: %v", errs[0], errs[1])
	}
	return errs[0]
}

func TestEveryBitFlipFails(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	data := pack(t, a, b, testRecords(3))
	for i := 0; i < len(data)*8; i++ {
		bad := append([]byte(nil), data...)
		bad[i/8] ^= 1 << (i % 8)
		var e *Error
		if err := verifyBothWays(t, bad, a); !errors.As(err, &e) {
			t.Fatalf("verify: flipping bit %d: got %v, want a failed check", i, err)
		}
		if _, err := readAll(bad, a, b); !errors.As(err, &e) {
			t.Fatalf("decrypt: flipping bit %d: got %v, want a failed check", i, err)
		}
	}
}

func TestTruncationAndAppend(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	data := pack(t, a, b, testRecords(3))
	for n := 0; n < len(data); n++ {
		if _, err := readAll(data[:n], a, b); err == nil {
			t.Fatalf("truncated at %d: no error", n)
		}
		if err := verifyBothWays(t, data[:n], a); err == nil {
			t.Fatalf("verify truncated at %d: no error", n)
		}
	}
	for _, extra := range []string{"x", "\n", "valise-end 0000\n"} {
		bad := append(append([]byte(nil), data...), extra...)
		if _, err := readAll(bad, a, b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuth) {
			t.Fatalf("appended %q: got %v", extra, err)
		}
	}
}
