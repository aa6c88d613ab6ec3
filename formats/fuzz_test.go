package formats

import (
	"bytes"
	"strings"
	"testing"

	"valise/schema"
)

// checkResult checks what Stream promises of any input it does not refuse.
func checkResult(t *testing.T, res *result, input []byte) {
	t.Helper()
	for _, r := range res.Records {
		if ps := r.Validate(); len(ps) > 0 {
			t.Fatalf("record %q returned with problem %v", r.ID, ps[0])
		}
		if !r.Version.IsZero() {
			t.Fatalf("record %q returned with a version", r.ID)
		}
		enc := r.AppendCanonical(nil)
		if len(enc) > schema.MaxRecordBytes {
			t.Fatalf("record %q is %d bytes", r.ID, len(enc))
		}
		if _, err := schema.DecodeCanonical(enc); err != nil {
			t.Fatalf("record %q: canonical form does not decode: %v", r.ID, err)
		}
	}
	lines := bytes.Count(input, []byte("\n")) + 1
	for _, p := range res.Problems {
		if p.File != "fuzz" || p.Line < 0 || p.Line > lines || p.Rule == "" {
			t.Fatalf("problem %+v (input has %d lines)", *p, lines)
		}
		_ = p.Error()
	}
	seen := map[string]bool{}
	for _, r := range res.Records {
		if seen[r.ID] {
			t.Fatalf("id %q returned twice", r.ID)
		}
		seen[r.ID] = true
	}
	for _, id := range res.Deletes {
		if seen[id] || schema.CheckID(id) != nil {
			t.Fatalf("delete %q duplicated or invalid", id)
		}
		seen[id] = true
	}
}

func fuzzRead(f *testing.F, format string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Format: format, Type: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}
		res, err := readAll("fuzz", bytes.NewReader(data), opts)
		if err != nil {
			if res != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		if format != "" && res.Format != format {
			t.Fatalf("format %q, asked for %q", res.Format, format)
		}
		checkResult(t, res, data)
	})
}

func FuzzReadJSONL(f *testing.F) {
	fuzzRead(f, JSONL,
		`{"id":"P-1","schema":"Person","origin":"KG-NCB","handling":{"tlp":"red","releasable_to":["KZ-NCB"]},"properties":{"name":["A"]}}`,
		`{"id":"P-1","schema":"Person","properties":{"name":["A"]},"deleted":true}`+"\n\n"+okPerson,
		okPerson+"\n"+okPerson, `{"id":"P-1","x":[1.0,{"b":-0,"a":1e21}]}`, "{", "\xff\n{}")
}

func FuzzReadFtM(f *testing.F) {
	fuzzRead(f, FtM, okPerson, `{"op":"ADD","entity":`+okPerson+`}`+"\n"+`{"op":"DEL","entity":{"id":"P-1"}}`,
		`{"op":"MOD","entity":{"id":"x"},"op":"DEL"}`, `{"id":"P-1","schema":"Ownership","properties":{"owner":["a"],"asset":["b"]},"datasets":["x"]}`)
}

func FuzzReadCSV(f *testing.F) {
	fuzzRead(f, CSV, "id,name,nationality\nP-1,A;B,DE\n", "id,schema,name\r\nP-1,Company,\"x\r\ny\"\r\n",
		"id,name\n\"a\"\"b\",c\n", "id,name,tlp,releasable_to,reliability\nP-1,A,red,KG-NCB;CARICC,B\n", "\ufeffid\n\"")
}

func FuzzReadUNSC(f *testing.F) {
	fuzzRead(f, UNSC, unEntry, "<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>",
		"<CONSOLIDATED_LIST><ENTITIES><ENTITY><DATAID>2</DATAID><FIRST_NAME>B</FIRST_NAME><ENTITY_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>b</ALIAS_NAME></ENTITY_ALIAS></ENTITY></ENTITIES></CONSOLIDATED_LIST>")
}

func FuzzReadOFAC(f *testing.F) {
	fuzzRead(f, OFACSDN,
		"36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a",
		`4243,"EBANO","vessel","CUBA] [SDGT",-0- ,"CL2192","General Cargo","318,000","1865","Panama","Samir S.A.","Vessel Registration Identification IMO 7406784; f.k.a. 'ANA I'."`+"\r\n",
		`7513,"M, E","individual","GLOMAG","P",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 15 Sep 1946; nationality Zimbabwe; Gender Male."`)
}

// FuzzDetect: detection of any file, then reading it, never panics.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{okPerson, "id,name\n", unEntry[:200], "36,\"A\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"} {
		f.Add("file", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		format, err := Detect(name, data)
		if err == nil && !strings.Contains(strings.Join(Formats, " "), format) {
			t.Fatalf("Detect gave %q", format)
		}
		res, err := readAll("fuzz", bytes.NewReader(data), Options{Type: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}})
		if err == nil {
			checkResult(t, res, data)
		}
	})
}
