package bundle

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"valise/schema"
)

func TestManifestExtrasRoundTrip(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	id, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: "KZ-NCB", SenderKey: a.card.Fingerprint(),
		Recipients: []Recipient{{Agency: "CARICC", Fingerprint: b.card.Fingerprint(), Sequence: 3}},
		Schema:     schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	rc := []Receipt{{Agency: "CARICC", Ranges: RangesOf([]uint64{1, 2, 3, 5, 7, 8})}}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, a.keys.Signing, b.card.AgeRecipients(true), WithReceipts(rc), WithStatements([][]byte{[]byte("statement one\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ := Open(bytes.NewReader(buf.Bytes()))
	rr, err := r.Decrypt(a.card.SigningKey, b.keys.Identities...)
	if err != nil {
		t.Fatal(err)
	}
	m := rr.Manifest
	if len(m.Receipts) != 1 || m.Receipts[0].marshal() != "CARICC 1-3,5,7-8" {
		t.Fatalf("receipts %+v", m.Receipts)
	}
	for seq, want := range map[uint64]bool{1: true, 3: true, 4: false, 5: true, 6: false, 8: true, 9: false} {
		if m.Receipts[0].Contains(seq) != want {
			t.Errorf("Contains(%d) != %v", seq, want)
		}
	}
	if len(m.Statements) != 1 || string(m.Statements[0]) != "statement one\n" {
		t.Fatalf("statements %q", m.Statements)
	}
	if _, _, err := rr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	for _, bad := range []string{"CARICC 3,2", "CARICC 1,2", "CARICC 2-1", "CARICC 0", "CARICC 01", "CARICC", "caricc 1"} {
		if _, err := parseReceipt(bad); err == nil {
			t.Errorf("receipt %q accepted", bad)
		}
	}
}
