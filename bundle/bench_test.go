package bundle_test

// Benchmarks of writing and reading a bundle, per record (one op = one
// record through validation, canonical encoding, zstd, age and the hash;
// or back through age, zstd, canonical decoding and validation), on
// bench/recgen's records with their version information. SetBytes is the
// record's canonical size, so MB/s compares with the input rate of pack
// and import. Compare runs with benchstat.

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"valise/bench/recgen"
	"valise/bundle"
	"valise/crypto"
	"valise/merge"
	"valise/schema"
)

const benchRecords = 20000

type benchOffice struct {
	keys *crypto.Keys
	card *crypto.Card
}

func newBenchOffice(b *testing.B, agency string) benchOffice {
	b.Helper()
	k, err := crypto.Generate()
	if err != nil {
		b.Fatal(err)
	}
	c, err := crypto.NewCard(agency, agency, time.Now(), k)
	if err != nil {
		b.Fatal(err)
	}
	return benchOffice{k, c}
}

// benchRecs are recgen's records with a first version, in id order.
var benchRecs = sync.OnceValues(func() ([]*schema.Record, int64) {
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, benchRecords, recgen.Options{}); err != nil {
		panic(err)
	}
	var recs []*schema.Record
	var size int64
	for _, l := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		r, err := schema.Decode(l)
		if err != nil {
			panic(err)
		}
		r = merge.Edit(nil, r, "KZ-NCB", "2026-11-28T09:00:00Z")
		size += int64(len(r.AppendCanonical(nil)) + 1)
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *schema.Record) int { return strings.Compare(a.ID, b.ID) })
	return recs, size / int64(len(recs))
})

func newWriter(b *testing.B, dst io.Writer, from, to benchOffice) *bundle.Writer {
	b.Helper()
	id, _ := uuid.NewV7()
	h := &bundle.Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: from.card.Agency,
		SenderKey: from.card.Fingerprint(), Recipients: []bundle.Recipient{{Agency: to.card.Agency, Fingerprint: to.card.Fingerprint(), Sequence: 1}},
		Schema: schema.ModelVersion, Compression: bundle.Compression, Encryption: bundle.EncryptionHybrid}
	w, err := bundle.NewWriter(dst, h, from.keys.Signing, to.card.AgeRecipients(true))
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkWrite writes records into one bundle (the writer is created
// before the timer, closed within it). Records are renamed past the end of
// the generated set so that ids keep increasing whatever b.N.
func BenchmarkWrite(b *testing.B) {
	recs, size := benchRecs()
	from, to := newBenchOffice(b, "KZ-NCB"), newBenchOffice(b, "CARICC")
	w := newWriter(b, io.Discard, from, to)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		if i >= len(recs) {
			c := *r
			c.ID = strings.Repeat("z", i/len(recs)) + r.ID
			r = &c
		}
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRead decrypts and reads a bundle of benchRecords records to its
// end, every check included; the op is one record.
func BenchmarkRead(b *testing.B) {
	recs, size := benchRecs()
	from, to := newBenchOffice(b, "KZ-NCB"), newBenchOffice(b, "CARICC")
	var buf bytes.Buffer
	w := newWriter(b, &buf, from, to)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	var rr *bundle.RecordReader
	for i := 0; i < b.N; i++ {
		if rr == nil {
			r, err := bundle.Open(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if rr, err = r.Decrypt(from.card.SigningKey, to.keys.Identities...); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := rr.Next(); err != nil {
			b.Fatal(err)
		}
		if i%len(recs) == len(recs)-1 {
			if _, _, err := rr.Next(); err != io.EOF {
				b.Fatalf("end of bundle: %v", err)
			}
			rr.Close()
			rr = nil
		}
	}
	if rr != nil {
		rr.Close()
	}
}

// BenchmarkVerify is the auditor's check of a whole bundle of
// benchRecords records (hash and signature, no decryption); the op is the
// bundle, SetBytes its size.
func BenchmarkVerify(b *testing.B) {
	recs, _ := benchRecs()
	from, to := newBenchOffice(b, "KZ-NCB"), newBenchOffice(b, "CARICC")
	var buf bytes.Buffer
	w := newWriter(b, &buf, from, to)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := bundle.Open(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Verify(from.card.SigningKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(recs))/b.Elapsed().Seconds(), "records/s")
}
