package schema_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"testing"

	"valise/bench/recgen"
	"valise/schema"
)

// canonRecords returns records in their canonical encoding: generated
// ones, and hand-made ones with what the scan must step over (alternatives,
// extras before and after the version, with nested "version" keys, escaped
// quotes and braces in strings, no version at all).
func canonRecords(t *testing.T) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 3, 300, recgen.Options{}); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		r, err := schema.Decode(l)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 > 0 {
			r.Version = schema.Version{Vector: map[string]uint64{"KZ-NCB": uint64(i), "CARICC": 2}, By: "KZ-NCB", At: "2026-11-28T09:00:00Z",
				Props: map[string]string{"name": "KZ-NCB:1"}}
		}
		if i%3 == 2 {
			r.Version.Alts = map[string][]schema.Alt{"name": {{Dot: "CARICC:2", Values: []string{`a "quoted" } value`}}}}
		}
		out = append(out, r.AppendCanonical(nil))
	}
	for _, s := range []string{
		`{"aaa":{"version":{"vv":{"X":9}},"s":"\"version\":{"},"handling":{"tlp":"amber"},"id":"x-1","origin":"KZ-NCB","properties":{"name":["A \"}{ B"]},"schema":"Person","version":{"at":"2026-01-01T00:00:00Z","by":"KZ-NCB","props":{"name":"KZ-NCB:1"},"vv":{"KZ-NCB":1}},"zzz":[{"version":{}},"]"]}`,
		`{"handling":{"tlp":"red"},"id":"x-2","origin":"KZ-NCB","properties":{"version":["v"]},"schema":"Person"}`,
		`{"handling":{"tlp":"red"},"id":"x-4","origin":"KZ-NCB","properties":{"name":["back\\","\\\"","\\\\"]},"schema":"Person","version":{"vv":{"KZ-NCB":2}}}`,
		`{"deleted":true,"handling":{"tlp":"red"},"id":"x-3","origin":"KZ-NCB","properties":{},"schema":"Person","version":{"alts":{"@deleted":[{"dot":"CARICC:1","values":["present"]}]},"vv":{"CARICC":1,"KZ-NCB":18446744073709551615}}}`,
	} {
		r, err := schema.Decode([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out = append(out, r.AppendCanonical(nil))
	}
	return out
}

// TestCanonicalScan checks what import reads from canonical bytes against
// the decoded record.
func TestCanonicalScan(t *testing.T) {
	for _, body := range canonRecords(t) {
		r, err := schema.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		// The definition: the canonical encoding of the record without
		// its version.
		c := *r
		c.Version = schema.Version{}
		want := sha256.Sum256(c.AppendCanonical(nil))
		got, err := schema.ContentHashOf(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got != want || r.ContentHash() != want || schema.HexContentHash(body) != hex.EncodeToString(want[:]) {
			t.Errorf("%s: content hash %x, want %x", body, got, want)
		}
		vv, alts, err := schema.PeekVersion(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if !maps.Equal(vv, r.Version.Vector) || (vv == nil) != (r.Version.Vector == nil) {
			t.Errorf("%s: vector %v, want %v", body, vv, r.Version.Vector)
		}
		if alts != (len(r.Version.Alts) > 0) {
			t.Errorf("%s: alts %v, want %v", body, alts, len(r.Version.Alts) > 0)
		}
	}
	for _, bad := range []string{``, `{`, `{"id":"x"`, `{"id":`, `{"version":{"vv":{"A":x}}}`, `{"version":{"vv":{"A\u0041":1}}}`, `{"a":"\"}`} {
		_, _, err := schema.PeekVersion([]byte(bad))
		if _, herr := schema.ContentHashOf([]byte(bad)); err == nil && herr == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
