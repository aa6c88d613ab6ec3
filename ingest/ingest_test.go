package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"valise/formats"
	"valise/internal/officetest"
	"valise/office"
	"valise/schema"
)

// memFile is an IngestFile whose content is text.
func memFile(name, text string) IngestFile {
	return IngestFile{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(text)), nil }}
}

func person(id, name string) string {
	return fmt.Sprintf(`{"id":%q,"schema":"Person","origin":"KZ-NCB","properties":{"name":[%q]}}`+"\n", id, name)
}

func mustIngest(t *testing.T, o *office.Office, files ...IngestFile) *IngestReport {
	t.Helper()
	rep, err := Ingest(o, files, false)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func held(t *testing.T, o *office.Office, id string) *schema.Record {
	t.Helper()
	r, err := o.Store.Get(schema.Key{ID: id, Origin: o.Agency()})
	if err != nil {
		return nil
	}
	return r
}

func TestIngestProblemsBounded(t *testing.T) {
	o := officetest.Offices(t, t.TempDir(), "KZ-NCB")[0]
	const bad = MaxIngestProblems + 500
	var b strings.Builder
	b.WriteString(person("ok-1", "Fine"))
	for i := range bad {
		fmt.Fprintf(&b, `{"id":"b-%d","schema":"Person","properties":{"birthDate":["1975"]}}`+"\n", i)
	}
	b.WriteString(person("ok-2", "Fine too"))
	before, err := o.Store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	rep, err := Ingest(o, []IngestFile{memFile("bad.jsonl", b.String())}, false)
	if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("%d problems; nothing ingested", bad)) {
		t.Fatalf("error %v, want %d problems", err, bad)
	}
	if rep.ProblemCount != bad || len(rep.Problems) != MaxIngestProblems {
		t.Fatalf("%d problems counted, %d kept; want %d, %d", rep.ProblemCount, len(rep.Problems), bad, MaxIngestProblems)
	}
	if p := rep.Problems[0]; p.Line != 2 || p.ID != "b-0" || p.Property != "name" {
		t.Errorf("first problem %v, want line 2, record b-0, property name", p)
	}
	if p := rep.Problems[MaxIngestProblems-1]; p.Line != MaxIngestProblems+1 {
		t.Errorf("last problem kept %v, want line %d", p, MaxIngestProblems+1)
	}
	if rep.Added != 0 {
		t.Errorf("%d added by a refused ingest", rep.Added)
	}
	if after, _ := o.Store.Snapshot(); after != before {
		t.Fatal("a refused ingest changed the store")
	}

	rep, err = Ingest(o, []IngestFile{memFile("bad.jsonl", b.String())}, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Skipped != bad || rep.ProblemCount != bad || len(rep.Problems) != MaxIngestProblems {
		t.Fatalf("--skip-invalid: %d added, %d skipped, %d problems, %d kept", rep.Added, rep.Skipped, rep.ProblemCount, len(rep.Problems))
	}
	if held(t, o, "ok-2") == nil {
		t.Fatal("the valid record after the problems was not ingested")
	}
}

func TestIngestDuplicateAcrossFiles(t *testing.T) {
	o := officetest.Offices(t, t.TempDir(), "KZ-NCB")[0]
	a := memFile("a.jsonl", person("d-1", "One")+person("d-2", "Two"))
	b := memFile("b.jsonl", person("d-3", "Three")+person("d-1", "Again"))
	rep, err := Ingest(o, []IngestFile{a, b}, false)
	if !errors.Is(err, schema.ErrInvalid) {
		t.Fatalf("error %v, want a refusal", err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Error() != "b.jsonl:2: record d-1: duplicate id: also in a.jsonl" {
		t.Fatalf("problems %v", rep.Problems)
	}
	for _, id := range []string{"d-1", "d-2", "d-3"} {
		if held(t, o, id) != nil {
			t.Fatalf("%s ingested by a refused ingest", id)
		}
	}

	// With --skip-invalid the first occurrence counts.
	rep, err = Ingest(o, []IngestFile{a, b}, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 3 || rep.Skipped != 1 {
		t.Fatalf("%d added, %d skipped; want 3, 1", rep.Added, rep.Skipped)
	}
	if r := held(t, o, "d-1"); r == nil || r.Properties["name"][0] != "One" {
		t.Fatalf("d-1 is %v, want the first file's", r)
	}

	// A record that failed in an earlier file does not hold its id: the
	// later file's is the only valid one.
	rep, err = Ingest(o, []IngestFile{
		memFile("c.jsonl", `{"id":"e-1","schema":"Person","properties":{}}`+"\n"),
		memFile("d.jsonl", person("e-1", "Valid")),
	}, true)
	if err != nil || rep.Added != 1 || rep.ProblemCount != 1 {
		t.Fatalf("%+v, %v; want e-1 added from d.jsonl, one problem", rep, err)
	}

	// A delta may delete what an earlier file of the run adds: no
	// duplicate.
	rep, err = Ingest(o, []IngestFile{
		memFile("t1.ftm.json", `{"id":"f-1","schema":"Person","properties":{"name":["F"]}}`+"\n"),
		memFile("t2.delta.json", `{"op":"DEL","entity":{"id":"f-1"}}`+"\n"),
	}, false)
	if err != nil || rep.Added != 1 || rep.Deleted != 1 {
		t.Fatalf("%+v, %v; want f-1 added, then deleted", rep, err)
	}
	if r := held(t, o, "f-1"); r == nil || !r.Deleted {
		t.Fatalf("f-1 is %v, want a tombstone", r)
	}
}

func TestIngestDuplicateInFile(t *testing.T) {
	o := officetest.Offices(t, t.TempDir(), "KZ-NCB")[0]
	// The first occurrence holds the id even when it is invalid, as a
	// reader of the whole file sees it.
	f := memFile("x.csv", "id,name,nationality\nx-1,One,kz\nx-2,Two,xx\nx-2,Again,kz\nx-1,Once more,kz\n")
	f.Type = "Person"
	rep, err := Ingest(o, []IngestFile{f}, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`x.csv:3: record x-2: property nationality: value 1 "xx": not an ISO 3166-1 alpha-2 country code (lowercase)`,
		"x.csv:4: record x-2: duplicate id: also on line 3",
		"x.csv:5: record x-1: duplicate id: also on line 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Added != 1 || held(t, o, "x-2") != nil {
		t.Fatalf("%d added, x-2 %v; want x-1 only", rep.Added, held(t, o, "x-2"))
	}
}

// sdnRow is a row of an OFAC SDN list.
func sdnRow(n int, name string) string {
	return fmt.Sprintf("%d,%q,-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n", n, name)
}

func TestIngestListEdition(t *testing.T) {
	o := officetest.Offices(t, t.TempDir(), "KZ-NCB")[0]
	ed1 := memFile("sdn1.csv", sdnRow(1, "ONE LTD")+sdnRow(2, "TWO LTD")+sdnRow(3, "THREE LTD"))
	// Each entry is its party and a Sanction.
	rep := mustIngest(t, o, ed1)
	if rep.Added != 6 {
		t.Fatalf("%d added, want 6", rep.Added)
	}
	// An edition with an entry broken is not complete: nothing is removed
	// by absence.
	broken := memFile("sdn2.csv", sdnRow(1, "ONE LTD")+"x,\"BAD\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")
	broken.Format = formats.OFACSDN
	rep, err := Ingest(o, []IngestFile{broken}, true)
	if err != nil || rep.Deleted != 0 || rep.Unchanged != 2 {
		t.Fatalf("%+v, %v; want nothing deleted", rep, err)
	}
	// An entry of the edition that another file of the run already holds
	// is a problem too.
	rep, err = Ingest(o, []IngestFile{memFile("mine.jsonl", `{"id":"ofac-2","schema":"Organization","properties":{"name":["TWO LTD"]}}`+"\n"), memFile("sdn3.csv", sdnRow(2, "TWO LTD"))}, true)
	if err != nil || rep.Deleted != 0 || rep.ProblemCount != 1 {
		t.Fatalf("%+v, %v; want one problem and nothing deleted", rep, err)
	}
	// A whole edition removes what it no longer lists.
	rep = mustIngest(t, o, memFile("sdn4.csv", sdnRow(1, "ONE LTD")+sdnRow(4, "FOUR LTD")))
	if rep.Added != 2 || rep.Unchanged != 2 || rep.Deleted != 4 {
		t.Fatalf("%+v; want 2 added, 2 unchanged, 4 deleted", rep)
	}
	for id, deleted := range map[string]bool{"ofac-1": false, "ofac-2": true, "ofac-3": true, "ofac-4": false,
		"ofac-1-sanction": false, "ofac-2-sanction": true, "ofac-3-sanction": true, "ofac-4-sanction": false} {
		if r := held(t, o, id); r == nil || r.Deleted != deleted {
			t.Errorf("%s is %v, want deleted %v", id, r, deleted)
		}
	}
}

func TestIngestErrors(t *testing.T) {
	o := officetest.Offices(t, t.TempDir(), "KZ-NCB")[0]
	mustIngest(t, o, memFile("p.jsonl", person("p-1", "Person")))
	before, err := o.Store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// A file unreadable as a whole: no report, nothing ingested, not even
	// the files before it.
	rep, err := Ingest(o, []IngestFile{memFile("ok.jsonl", person("p-2", "Two")), memFile("what.bin", "\x00\x01")}, true)
	if rep != nil || !errors.Is(err, formats.ErrFormat) {
		t.Fatalf("report %v, error %v; want none, ErrFormat", rep, err)
	}
	rep, err = Ingest(o, []IngestFile{{Name: "gone.jsonl", Open: func() (io.ReadCloser, error) { return nil, io.ErrUnexpectedEOF }}}, true)
	if rep != nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("report %v, error %v; want none, the open error", rep, err)
	}

	// A schema change is refused, and the problems of every file are
	// still named.
	rep, err = Ingest(o, []IngestFile{
		memFile("c.jsonl", `{"id":"p-1","schema":"Company","properties":{"name":["Firm"]}}`+"\n"),
		memFile("d.jsonl", `{"id":"q-1","schema":"Person","properties":{}}`+"\n"),
	}, true)
	if err == nil || !strings.Contains(err.Error(), "record p-1 is a Person here; changing it to a Company is not allowed") {
		t.Fatalf("error %v, want the schema change refused", err)
	}
	if rep == nil || rep.ProblemCount != 1 || rep.Added+rep.Updated != 0 {
		t.Fatalf("report %+v, want d.jsonl's problem and no counts", rep)
	}
	if after, _ := o.Store.Snapshot(); after != before {
		t.Fatal("a failed ingest changed the store")
	}
}

func TestIDSetCollisions(t *testing.T) {
	s := newIDSet()
	// Two keys with one first hash: the second goes to the overflow.
	a, b := idKey{h: 7, check: 1 << checkShift}, idKey{h: 7, check: 2 << checkShift}
	s.set(a, 1<<fileShift|10)
	s.set(b, 2<<fileShift|20)
	if v, ok := s.get(a); !ok || fileOf(v) != 1 || v&lineMask != 10 {
		t.Fatalf("a: %x %v", v, ok)
	}
	if v, ok := s.get(b); !ok || fileOf(v) != 2 || v&lineMask != 20 {
		t.Fatalf("b: %x %v", v, ok)
	}
	if _, ok := s.get(idKey{h: 7, check: 3 << checkShift}); ok {
		t.Fatal("a third key with the same first hash found")
	}
	s.set(b, 3<<fileShift|validBit|30)
	if v, _ := s.get(b); fileOf(v) != 3 || v&validBit == 0 {
		t.Fatalf("b updated: %x", v)
	}
	if v, _ := s.get(a); fileOf(v) != 1 {
		t.Fatalf("a after b's update: %x", v)
	}
}
