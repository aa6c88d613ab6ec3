package schema_test

// Benchmarks of the record stages every valise command runs: parse and
// validate (pack --input, ingest, import), canonical encoding (pack, store),
// canonical decoding (import) and the content hash (store). The records
// are bench/recgen's, as in `make bench`; compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./schema > old.txt

import (
	"bytes"
	"sync"
	"testing"

	"valise/bench/recgen"
	"valise/merge"
	"valise/schema"
)

const benchRecords = 10000

var benchData = sync.OnceValues(func() (lines [][]byte, canon [][]byte) {
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, benchRecords, recgen.Options{}); err != nil {
		panic(err)
	}
	lines = bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	for _, l := range lines {
		r, err := schema.Decode(l)
		if err != nil {
			panic(err)
		}
		// As in a bundle and the store: with version information.
		r = merge.Edit(nil, r, "KZ-NCB", "2026-11-28T09:00:00Z")
		canon = append(canon, r.AppendCanonical(nil))
	}
	return lines, canon
})

func avgLen(lines [][]byte) int64 {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return int64(n / len(lines))
}

func decodeAll(b *testing.B, lines [][]byte) []*schema.Record {
	out := make([]*schema.Record, len(lines))
	for i, l := range lines {
		r, err := schema.Decode(l)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = r
	}
	return out
}

// BenchmarkDecode parses one JSON line of an input file (one op = one
// record).
func BenchmarkDecode(b *testing.B) {
	lines, _ := benchData()
	b.SetBytes(avgLen(lines))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := schema.Decode(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeValidate is what pack --input and ingest do per record.
func BenchmarkDecodeValidate(b *testing.B) {
	lines, _ := benchData()
	b.SetBytes(avgLen(lines))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r, err := schema.Decode(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		if ps := r.Validate(); len(ps) > 0 {
			b.Fatal(ps[0])
		}
	}
}

// BenchmarkValidate checks one decoded record against the model.
func BenchmarkValidate(b *testing.B) {
	lines, _ := benchData()
	recs := decodeAll(b, lines)
	b.SetBytes(avgLen(lines))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ps := recs[i%len(recs)].Validate(); len(ps) > 0 {
			b.Fatal(ps[0])
		}
	}
}

// BenchmarkAppendCanonical encodes one record with its version
// information, as the bundle writer and the store do.
func BenchmarkAppendCanonical(b *testing.B) {
	_, canon := benchData()
	recs := decodeAll(b, canon)
	b.SetBytes(avgLen(canon))
	b.ReportAllocs()
	var buf []byte
	for i := 0; b.Loop(); i++ {
		buf = recs[i%len(recs)].AppendCanonical(buf[:0])
	}
}

// BenchmarkDecodeCanonical compares the two ways of proving a record
// canonical: checking the spelling while parsing (DecodeCanonical) and
// what it did before, decoding and comparing with the encoding again.
func BenchmarkDecodeCanonical(b *testing.B) {
	_, canon := benchData()
	b.Run("checked-while-parsing", func(b *testing.B) {
		b.SetBytes(avgLen(canon))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := schema.DecodeCanonical(canon[i%len(canon)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoded-again", func(b *testing.B) {
		b.SetBytes(avgLen(canon))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l := canon[i%len(canon)]
			r, err := schema.Decode(l)
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.Equal(r.AppendCanonical(make([]byte, 0, len(l))), l) {
				b.Fatal(schema.ErrNotCanonical)
			}
		}
	})
}

// BenchmarkDecodeCanonicalValidate is what the bundle reader does per
// record on import.
func BenchmarkDecodeCanonicalValidate(b *testing.B) {
	_, canon := benchData()
	b.SetBytes(avgLen(canon))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r, err := schema.DecodeCanonical(canon[i%len(canon)])
		if err != nil {
			b.Fatal(err)
		}
		if ps := r.Validate(); len(ps) > 0 {
			b.Fatal(ps[0])
		}
	}
}

// BenchmarkContentHash is the store's per-version hash.
func BenchmarkContentHash(b *testing.B) {
	_, canon := benchData()
	recs := decodeAll(b, canon)
	b.SetBytes(avgLen(canon))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		recs[i%len(recs)].ContentHash()
	}
}

// BenchmarkClone is the deep copy merge.Edit and ingest make.
func BenchmarkClone(b *testing.B) {
	_, canon := benchData()
	recs := decodeAll(b, canon)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		recs[i%len(recs)].Clone()
	}
}
