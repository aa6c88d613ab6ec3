package bundle

import (
	"bytes"
	"crypto/sha256"
	"io"
	"strings"
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

// TestManifestResent: resent lines round-trip, are checked against the
// header (an earlier bundle to a recipient of this one), and parse
// strictly.
func TestManifestResent(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	id, _ := uuid.NewV7()
	old1, _ := uuid.NewV7()
	old2, _ := uuid.NewV7()
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: "KZ-NCB", SenderKey: a.card.Fingerprint(),
		Recipients: []Recipient{{Agency: "CARICC", Fingerprint: b.card.Fingerprint(), Sequence: 3}},
		Schema:     schema.ModelVersion, Compression: Compression, Encryption: EncryptionHybrid}
	rs := []Resent{{Agency: "CARICC", Sequence: 1, Bundle: old1}, {Agency: "CARICC", Sequence: 2, Bundle: old2}}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, a.keys.Signing, b.card.AgeRecipients(true), WithResent(rs))
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
	if got := rr.Manifest.Resent; len(got) != 2 || got[0] != rs[0] || got[1] != rs[1] {
		t.Fatalf("resent %+v, want %+v", got, rs)
	}
	if _, _, err := rr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// The writer refuses what a reader would refuse.
	for _, bad := range [][]Resent{
		{{Agency: "CARICC", Sequence: 3, Bundle: old1}},                                                // not earlier than this bundle
		{{Agency: "KG-NCB", Sequence: 1, Bundle: old1}},                                                // not a recipient
		{{Agency: "CARICC", Sequence: 2, Bundle: old1}, {Agency: "CARICC", Sequence: 1, Bundle: old2}}, // unsorted
	} {
		if _, err := NewWriter(io.Discard, h, a.keys.Signing, b.card.AgeRecipients(true), WithResent(bad)); err == nil {
			t.Errorf("resent %+v accepted by the writer", bad)
		}
	}
	// A manifest naming a bundle that is not an earlier one to a
	// recipient fails the manifest check.
	m := &Manifest{ID: h.ID, Sender: h.Sender, SenderKey: h.SenderKey, Recipients: h.Recipients,
		Resent: []Resent{{Agency: "CARICC", Sequence: 5, Bundle: old1}}}
	hdr := h.Marshal()
	m.HeaderHash = sha256.Sum256(hdr)
	if err := checkManifest(m, h, hdr); err == nil {
		t.Error("a resent bundle later than the carrying one passed the manifest check")
	}
	m.Resent[0].Sequence = 2
	if err := checkManifest(m, h, hdr); err != nil {
		t.Errorf("a good resent line fails the manifest check: %v", err)
	}
	for _, bad := range []string{"CARICC 0 " + old1.String(), "CARICC 1", "CARICC x " + old1.String(), "CARICC 1 " + strings.ToUpper(old1.String()),
		"caricc 1 " + old1.String(), "CARICC 1 " + old1.String() + " more", "CARICC 01 " + old1.String()} {
		if _, err := parseResent(bad); err == nil {
			t.Errorf("resent %q accepted", bad)
		}
	}
}
