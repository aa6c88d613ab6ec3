package recgen_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"strings"
	"testing"

	"valise/bench/recgen"
	"valise/schema"
)

func generate(t *testing.T, format string, seed uint64, n int, o recgen.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := recgen.Write(&b, format, seed, n, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	a := generate(t, recgen.JSONL, 7, 3000, recgen.Options{})
	b := generate(t, recgen.JSONL, 7, 3000, recgen.Options{})
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	// A smaller count is a prefix of a larger one (the 100k file is the
	// start of the 1M file).
	short := generate(t, recgen.JSONL, 7, 1000, recgen.Options{Count: 3000})
	if !bytes.HasPrefix(a, short) {
		t.Fatal("1000 records are not a prefix of 3000 with the same seed")
	}
	if c := generate(t, recgen.JSONL, 8, 3000, recgen.Options{}); bytes.Equal(a, c) {
		t.Fatal("seeds 7 and 8 give the same records")
	}
	// The update run changes records without disturbing the plain run.
	u1 := generate(t, recgen.JSONL, 7, 3000, recgen.Options{Update: true})
	u2 := generate(t, recgen.JSONL, 7, 3000, recgen.Options{Update: true})
	if !bytes.Equal(u1, u2) {
		t.Fatal("two update runs with the same seed differ")
	}
}

const checkN = 20000

// TestValid decodes and validates every record, checks that ids are unique
// and that every link points at a record generated before it, and that the
// average line is about 400 bytes.
func TestValid(t *testing.T) {
	for _, update := range []bool{false, true} {
		data := generate(t, recgen.JSONL, 1, checkN, recgen.Options{Update: update})
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) != checkN {
			t.Fatalf("update=%v: %d lines, want %d", update, len(lines), checkN)
		}
		seen := map[string]string{}
		kinds := map[string]int{}
		cyrillic := 0
		for i, l := range lines {
			r, err := schema.Decode(l)
			if err != nil {
				t.Fatalf("update=%v: line %d: %v\n%s", update, i+1, err, l)
			}
			if ps := r.Validate(); len(ps) > 0 {
				t.Fatalf("update=%v: line %d: %v\n%s", update, i+1, ps[0], l)
			}
			if _, dup := seen[r.ID]; dup {
				t.Fatalf("duplicate id %s", r.ID)
			}
			if r.Handling.TLP != "amber" || r.Origin != recgen.DefaultOrigin {
				t.Fatalf("line %d: handling %+v origin %q", i+1, r.Handling, r.Origin)
			}
			s, _ := schema.Get(r.Schema)
			for name, values := range r.Properties {
				p, _ := s.Prop(name)
				for _, v := range values {
					if p.Type == schema.TypeEntity {
						if _, ok := seen[v]; !ok {
							t.Fatalf("line %d: %s %s points at %s, not generated before", i+1, r.ID, name, v)
						}
					}
					if p.Type == schema.TypeIBAN && !schema.ValidIBAN(v) {
						t.Fatalf("line %d: invalid IBAN %s", i+1, v)
					}
				}
			}
			if r.Schema == "Person" && strings.ContainsAny(r.Properties["name"][0], "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ") {
				cyrillic++
			}
			seen[r.ID] = r.Schema
			kinds[r.Schema]++
		}
		avg := float64(len(data)) / checkN
		t.Logf("update=%v: %.1f bytes a record; %v; %d people named in Cyrillic", update, avg, kinds, cyrillic)
		if avg < 350 || avg > 450 {
			t.Errorf("update=%v: average record is %.1f bytes, want 350–450", update, avg)
		}
		for _, s := range []string{"Person", "Passport", "Organization", "Company", "Membership", "Ownership", "BankAccount", "Payment"} {
			if kinds[s] < checkN/50 {
				t.Errorf("update=%v: only %d %s records", update, kinds[s], s)
			}
		}
		if cyrillic == 0 {
			t.Error("no person named in Cyrillic")
		}
	}
}

// TestUpdate checks that the update run keeps ids and schemas and changes
// every record.
func TestUpdate(t *testing.T) {
	plain := bytes.Split(generate(t, recgen.JSONL, 3, 2000, recgen.Options{}), []byte("\n"))
	upd := bytes.Split(generate(t, recgen.JSONL, 3, 2000, recgen.Options{Update: true}), []byte("\n"))
	for i := range plain {
		if len(plain[i]) == 0 {
			continue
		}
		a, _ := schema.Decode(plain[i])
		b, _ := schema.Decode(upd[i])
		if a.ID != b.ID || a.Schema != b.Schema {
			t.Fatalf("line %d: %s %s became %s %s", i+1, a.ID, a.Schema, b.ID, b.Schema)
		}
		if bytes.Equal(a.AppendCanonical(nil), b.AppendCanonical(nil)) {
			t.Fatalf("line %d: %s unchanged", i+1, a.ID)
		}
	}
}

// TestCSV checks that the CSV form holds the same records: id, schema and
// the JSON line as body.
func TestCSV(t *testing.T) {
	jl := bytes.Split(bytes.TrimSuffix(generate(t, recgen.JSONL, 5, 2000, recgen.Options{}), []byte("\n")), []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(generate(t, recgen.CSV, 5, 2000, recgen.Options{})))
	for i := 0; ; i++ {
		row, err := cr.Read()
		if err == io.EOF {
			if i != len(jl) {
				t.Fatalf("%d CSV rows, %d JSON lines", i, len(jl))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := schema.Decode(jl[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(row) != 3 || row[0] != r.ID || row[1] != r.Schema || row[2] != string(jl[i]) {
			t.Fatalf("row %d: %q does not match %s", i+1, row, jl[i])
		}
	}
}
