package store

import (
	"bytes"
	"testing"
)

// BenchmarkSealRecord is the cost of one record's MAC, written at import
// and checked by pack, import and audit: about 400 bytes of body, the
// size of the generated benchmark records.
func BenchmarkSealRecord(b *testing.B) {
	s := &Store{key: bytes.Repeat([]byte{7}, 32)}
	m, err := s.sealer()
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 400)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m.record("p-0000001", "KZ-NCB", 3, "Person", false, false, `{"tlp":"amber"}`, "5d41402abc4b2a76b9719d911017c592a4bd5f4e8d2c0b4e9f4c5c1f0a0b0c0d", body, nil)
		m.sum()
	}
}
