package formats

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// benchRead reads the files again and again and reports records per second.
func benchRead(b *testing.B, paths ...string) {
	var data [][]byte
	for _, p := range paths {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	var size int64
	for _, d := range data {
		size += int64(len(d))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	for i := 0; i < b.N; i++ {
		for j, d := range data {
			res, err := readAll(filepath.Base(paths[j]), bytes.NewReader(d), testOpts)
			if err != nil || len(res.Problems) > 0 {
				b.Fatal(err, res.Problems)
			}
			records += len(res.Records) + len(res.Deletes)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReadOFAC(b *testing.B) {
	benchRead(b, filepath.Join(dataDir(b), "ofac-sdn", "sdn-2024-02-28.csv"))
}

func BenchmarkReadFtM(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join(dataDir(b), "ftm", "*.json"))
	benchRead(b, paths...)
}

func BenchmarkReadUNSC(b *testing.B) {
	benchRead(b, filepath.Join(dataDir(b), "un-sc", "consolidated-2018-08-24.xml"))
}
