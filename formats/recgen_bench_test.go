package formats_test

import (
	"bytes"
	"testing"

	"valise/bench/recgen"
	"valise/formats"
	"valise/schema"
)

// BenchmarkReadRecgen reads a file of 20,000 bench/recgen records with
// Stream, as `valise pack --input` and `valise ingest` do: parse, defaults,
// validation. The op is the whole file; ns/record is reported too.
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
		records, problems := 0, 0
		_, err := formats.Stream("recs.jsonl", bytes.NewReader(data), opts, func(it formats.Item) error {
			if it.Record != nil {
				records++
			} else {
				problems++
			}
			return nil
		})
		if err != nil || problems > 0 || records != n {
			b.Fatal(err, problems, records)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}
