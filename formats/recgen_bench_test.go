package formats_test

import (
	"bytes"
	"testing"

	"valise/bench/recgen"
	"valise/formats"
	"valise/schema"
)

// BenchmarkReadRecgen reads a file of 20,000 bench/recgen records with
// Read, as `valise pack --input` and `valise ingest` do: parse, defaults,
// duplicate ids, validation. The op is the whole file; ns/record is
// reported too.
func BenchmarkReadRecgen(b *testing.B) {
	const n = 20000
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, n, recgen.Options{}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	opts := formats.Options{Format: formats.JSONL, Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := formats.Read("recs.jsonl", bytes.NewReader(data), opts)
		if err != nil || len(res.Problems) > 0 || len(res.Records) != n {
			b.Fatal(err, res.Problems)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
