package formats

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"valise/schema"
)

func read(t *testing.T, name, input string, opts Options) *result {
	t.Helper()
	res, err := readAll(name, strings.NewReader(input), opts)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return res
}

func ids(res *result) []string {
	var out []string
	for _, r := range res.Records {
		out = append(out, r.ID)
	}
	return out
}

const okPerson = `{"id":"P-1","schema":"Person","properties":{"name":["Ivan Petrov"]}}`

// TestInvalidItems: each invalid item gives exactly one precise problem,
// and the valid records around it are kept.
func TestInvalidItems(t *testing.T) {
	long := `{"id":"P-9","schema":"Person","properties":{"name":["` + strings.Repeat("a", maxLine) + `"]}}`
	for _, tc := range []struct {
		name, file, format, input string
		want                      Problem // Rule is a prefix
		keep                      []string
	}{
		{
			name: "bad date", file: "people.jsonl", format: FtM,
			input: okPerson + "\n" + `{"id":"P-7","schema":"Person","properties":{"name":["A"],"birthDate":["1975-13-01"]}}`,
			want:  Problem{File: "people.jsonl", Line: 2, ID: "P-7", Property: "birthDate", Rule: `value 1 "1975-13-01": not an ISO 8601 date`},
			keep:  []string{"P-1"},
		},
		{
			name: "unknown country", file: "people.ftm.json", format: FtM,
			input: `{"id":"P-7","schema":"Person","properties":{"name":["A"],"nationality":["xx"]}}` + "\n" + okPerson,
			want:  Problem{File: "people.ftm.json", Line: 1, ID: "P-7", Property: "nationality", Rule: `value 1 "xx": not an ISO 3166-1 alpha-2 country code`},
			keep:  []string{"P-1"},
		},
		{
			name: "missing required property", file: "links.json", format: FtM,
			input: okPerson + "\n\n" + `{"id":"O-1","schema":"Ownership","properties":{"owner":["P-1"]}}`,
			want:  Problem{File: "links.json", Line: 3, ID: "O-1", Property: "asset", Rule: "required by Ownership but missing"},
			keep:  []string{"P-1"},
		},
		{
			name: "malformed UTF-8", file: "x.ftm.json", format: FtM,
			input: `{"id":"P-7","schema":"Person","properties":{"name":["Iv` + "\xff" + `an"]}}` + "\n" + okPerson,
			want:  Problem{File: "x.ftm.json", Line: 1, ID: "P-7", Property: "name", Rule: "malformed UTF-8 at byte 56 of the line"},
			keep:  []string{"P-1"},
		},
		{
			name: "duplicate id", file: "dup.jsonl", format: FtM,
			input: okPerson + "\n" + `{"id":"P-2","schema":"Person","properties":{"name":["B"]}}` + "\n" + okPerson,
			want:  Problem{File: "dup.jsonl", Line: 3, ID: "P-1", Rule: "duplicate id: also on line 1"},
			keep:  []string{"P-1", "P-2"},
		},
		{
			name: "reverse property", file: "p.json", format: FtM,
			input: `{"id":"P-7","schema":"Person","properties":{"name":["A"],"sanctions":["S-1"]}}`,
			want:  Problem{File: "p.json", Line: 1, ID: "P-7", Property: "sanctions", Rule: "is the reverse of Sanction.entity"},
		},
		{
			name: "unknown property in JSONL", file: "p.jsonl", format: JSONL,
			input: `{"id":"P-7","schema":"Person","origin":"KZ-NCB","properties":{"name":["A"],"shoeSize":["44"]}}`,
			want:  Problem{File: "p.jsonl", Line: 1, ID: "P-7", Property: "shoeSize", Rule: "not a property of Person"},
		},
		{
			name: "bad JSON", file: "p.json", format: FtM,
			input: okPerson + "\n" + `{"id":"P-7","schema":"Person",`,
			want:  Problem{File: "p.json", Line: 2, Rule: "bad JSON: byte 30: unexpected end of input"},
			keep:  []string{"P-1"},
		},
		{
			name: "duplicate key", file: "p.json", format: FtM,
			input: `{"id":"P-7","id":"P-8","schema":"Person","properties":{"name":["A"]}}`,
			want:  Problem{File: "p.json", Line: 1, Rule: `bad JSON: byte 12: duplicate key "id"`},
		},
		{
			name: "line too long", file: "p.json", format: FtM,
			input: long + "\n" + okPerson,
			want:  Problem{File: "p.json", Line: 1, Rule: "line longer than"},
			keep:  []string{"P-1"},
		},
		{
			name: "unknown delta op", file: "d.delta.json", format: FtM,
			input: `{"op":"PATCH","entity":{"id":"P-7"}}` + "\n" + `{"op":"ADD","entity":` + okPerson + `}`,
			want:  Problem{File: "d.delta.json", Line: 1, ID: "P-7", Rule: `unknown delta op "PATCH"`},
			keep:  []string{"P-1"},
		},
		{
			name: "bidi control", file: "p.jsonl", format: JSONL,
			input: `{"id":"P-7","schema":"Person","origin":"KG-NCB","handling":{"tlp":"red"},"properties":{"name":["Ivan` + "\u202e" + `"]}}`,
			want:  Problem{File: "p.jsonl", Line: 1, ID: "P-7", Property: "name", Rule: `value 1 "Ivan\u202e": contains a bidirectional control character`},
		},
		{
			name: "csv bad date", file: "people.csv", format: CSV,
			input: "id,name,birthDate\nP-1,Ivan,1975\r\nP-7,Anna,1975-13-01\n",
			want:  Problem{File: "people.csv", Line: 3, ID: "P-7", Property: "birthDate", Rule: `value 1 "1975-13-01": not an ISO 8601 date`},
			keep:  []string{"P-1"},
		},
		{
			name: "csv unknown country", file: "people.csv", format: CSV,
			input: "id,name,nationality\nP-7,Anna,XX\nP-1,Ivan,KZ\n",
			want:  Problem{File: "people.csv", Line: 2, ID: "P-7", Property: "nationality", Rule: `value 1 "xx": not an ISO 3166-1 alpha-2 country code`},
			keep:  []string{"P-1"},
		},
		{
			name: "csv missing required", file: "people.csv", format: CSV,
			input: "id,name,birthDate\nP-1,Ivan,\nP-7,,1975\n",
			want:  Problem{File: "people.csv", Line: 3, ID: "P-7", Property: "name", Rule: "required by Person but missing"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv malformed UTF-8", file: "people.csv", format: CSV,
			input: "id,name\nP-7,Iv\xc3an\nP-1,Ivan\n",
			want:  Problem{File: "people.csv", Line: 2, ID: "P-7", Property: "name", Rule: "malformed UTF-8 at byte 3 of the cell"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv duplicate id", file: "people.csv", format: CSV,
			input: "id,name,notes\nP-1,Ivan,\nP-2,Anna,\"multi\nline\"\nP-1,Ivan,\n",
			want:  Problem{File: "people.csv", Line: 5, ID: "P-1", Rule: "duplicate id: also on line 2"},
			keep:  []string{"P-1", "P-2"},
		},
		{
			name: "csv unknown property", file: "people.csv", format: CSV,
			input: "id,name,shoeSize\nP-1,Ivan,\nP-7,Anna,44\n",
			want:  Problem{File: "people.csv", Line: 3, ID: "P-7", Property: "shoeSize", Rule: "not a property of Person"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv field count", file: "people.csv", format: CSV,
			input: "id,name\nP-7,Anna,extra\nP-1,Ivan\n",
			want:  Problem{File: "people.csv", Line: 2, ID: "P-7", Rule: "row has 3 fields, the header 2"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv bare quote", file: "people.csv", format: CSV,
			input: "id,name\nP-7,An\"na\nP-1,Ivan\n",
			want:  Problem{File: "people.csv", Line: 2, Rule: "line 2: bare quote in unquoted field 2"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv text after quote", file: "people.csv", format: CSV,
			input: "id,name\nP-7,\"Anna\"x\nP-1,Ivan\n",
			want:  Problem{File: "people.csv", Line: 2, Rule: "line 2: text after the closing quote of field 2"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv unterminated quote", file: "people.csv", format: CSV,
			input: "id,name\nP-1,Ivan\nP-7,\"Anna\n",
			want:  Problem{File: "people.csv", Line: 3, Rule: "quoted field not closed at the end of the file"},
			keep:  []string{"P-1"},
		},
		{
			name: "csv bad handling", file: "people.csv", format: CSV,
			input: "id,name,tlp,handling_code\nP-1,Ivan,AMBER,h2\nP-7,Anna,purple,\n",
			want:  Problem{File: "people.csv", Line: 3, ID: "P-7", Property: "handling.tlp", Rule: "must be one of clear"},
			keep:  []string{"P-1"},
		},
		{
			name: "ofac stray end-of-file byte", file: "sdn.csv", format: OFACSDN,
			input: "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a\r\n" +
				"37,\"X\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a",
			want: Problem{File: "sdn.csv", Line: 2, Rule: "row has 1 fields, an SDN row 12"},
			keep: []string{"ofac-36", "ofac-36-sanction", "ofac-37", "ofac-37-sanction"},
		},
		{
			name: "ofac unknown type", file: "sdn.csv", format: OFACSDN,
			input: "36,\"A\",\"spaceship\",\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n",
			want:  Problem{File: "sdn.csv", Line: 1, ID: "ofac-36", Property: "SDN_Type", Rule: `unknown SDN type "spaceship"`},
		},
		{
			name: "un entry without DATAID", file: "un.xml", format: UNSC,
			input: `<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL>` +
				`<INDIVIDUAL><DATAID>7</DATAID><FIRST_NAME>B</FIRST_NAME></INDIVIDUAL></INDIVIDUALS><ENTITIES/></CONSOLIDATED_LIST>`,
			want: Problem{File: "un.xml", Line: 1, Property: "DATAID", Rule: `"" is not a list entry number`},
			keep: []string{"un-sc-7", "un-sc-7-sanction"},
		},
		{
			name: "un unknown section", file: "un.xml", format: UNSC,
			input: "<CONSOLIDATED_LIST>\n<VESSELS><VESSEL/></VESSELS>\n<ENTITIES><ENTITY><DATAID>8</DATAID><FIRST_NAME>B</FIRST_NAME></ENTITY></ENTITIES></CONSOLIDATED_LIST>",
			want:  Problem{File: "un.xml", Line: 2, Rule: "unexpected element VESSELS in the list; skipped"},
			keep:  []string{"un-sc-8", "un-sc-8-sanction"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts
			opts.Format = tc.format
			if tc.format == CSV {
				opts.Type = "Person"
			}
			res := read(t, tc.file, tc.input, opts)
			if len(res.Problems) != 1 {
				t.Fatalf("%d problems, want 1: %v", len(res.Problems), res.Problems)
			}
			p := res.Problems[0]
			if p.File != tc.want.File || p.Line != tc.want.Line || p.ID != tc.want.ID || p.Property != tc.want.Property ||
				!strings.HasPrefix(p.Rule, tc.want.Rule) {
				t.Errorf("problem %+v\nwant      %+v", *p, tc.want)
			}
			if !errors.Is(p, schema.ErrInvalid) {
				t.Errorf("problem is not ErrInvalid")
			}
			if got := ids(res); !reflect.DeepEqual(got, tc.keep) {
				t.Errorf("records %v, want %v", got, tc.keep)
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	res := read(t, "people.csv", "id,name,birthDate\nP-1,A,1975\n\nP-2,B,\n\n\n\n\n\n\n\nP-7,C,1975-13-01\n", Options{Type: "Person", Origin: "KZ-NCB",
		Handling: schema.Handling{TLP: "green"}})
	if len(res.Problems) != 1 {
		t.Fatalf("problems: %v", res.Problems)
	}
	want := `people.csv:12: record P-7: property birthDate: value 1 "1975-13-01": not an ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD, optionally THH:MM[:SS])`
	if got := res.Problems[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	p := &Problem{File: "a\x1b[31m.csv", Rule: "bad"}
	if got := p.Error(); got != `a\u001b[31m.csv: bad` {
		t.Errorf("got %s", got)
	}
}

// TestCSV: multiple values, countries, envelope columns, a schema column
// that overrides the type, quoted fields over several lines.
func TestCSV(t *testing.T) {
	in := "\ufeffid,schema,name,alias,nationality,notes,tlp,handling_code,releasable_to,reliability,credibility,origin\r\n" +
		"P-1,,Ivan Petrov,Vanya;Ivan P.;;I\\;P,KZ;kg,\"line one\r\nline \"\"two\"\"\",red,h2,KG-NCB;CARICC,B,2,\r\n" +
		"C-1,Company,Acme,,,,,,,,,KG-NCB\r\n"
	res := read(t, "people.csv", in, Options{Type: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}})
	if len(res.Problems) != 0 || len(res.Records) != 2 {
		t.Fatalf("records %v problems %v", ids(res), res.Problems)
	}
	p, c := res.Records[0], res.Records[1]
	want := map[string][]string{
		"name":        {"Ivan Petrov"},
		"alias":       {"Vanya", "Ivan P.", "I;P"},
		"nationality": {"kz", "kg"},
		"notes":       {"line one\r\nline \"two\""},
	}
	if !reflect.DeepEqual(p.Properties, want) {
		t.Errorf("properties %v\nwant %v", p.Properties, want)
	}
	wantH := schema.Handling{TLP: "red", Code: "H2", ReleasableTo: []string{"KG-NCB", "CARICC"}}
	if p.Schema != "Person" || !reflect.DeepEqual(p.Handling, wantH) || p.Origin != "KZ-NCB" ||
		*p.Evaluation != (schema.Evaluation{Reliability: "B", Credibility: "2"}) {
		t.Errorf("record %s: schema %s handling %+v origin %s evaluation %+v", p.ID, p.Schema, p.Handling, p.Origin, p.Evaluation)
	}
	if c.Schema != "Company" || c.Origin != "KG-NCB" || c.Handling.TLP != "amber" || c.Evaluation != nil {
		t.Errorf("record %s: schema %s origin %s handling %+v", c.ID, c.Schema, c.Origin, c.Handling)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ in, typ, want string }{
		{"", "Person", "empty CSV file"},
		{"name,birthDate\nIvan,1975\n", "Person", "header has no id column"},
		{"id,name,name\n", "Person", `header names column "name" twice`},
		{"id,,name\n", "Person", "header column 2 has no name"},

		{"id,\"name\n", "Person", "header on line 1: quoted field not closed"},
	} {
		_, err := readAll("x.csv", strings.NewReader(tc.in), Options{Format: CSV, Type: tc.typ})
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want ErrFormat with %q", tc.in, err, tc.want)
		}
	}
}

func TestSplitJoinValues(t *testing.T) {
	for _, tc := range []struct {
		cell string
		want []string
	}{
		{"a", []string{"a"}},
		{"a;b", []string{"a", "b"}},
		{" a ; b ", []string{" a ", " b "}},
		{"a;;b;", []string{"a", "b"}},
		{`a\;b`, []string{"a;b"}},
		{`a\\;b`, []string{`a\`, "b"}},
		{`C:\path`, []string{`C:\path`}},
		{";", nil},
	} {
		if got := splitValues(tc.cell); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitValues(%q) = %q, want %q", tc.cell, got, tc.want)
		}
	}
	for _, vs := range [][]string{{"a"}, {"a;b", `c\`, `\;`}, {`C:\path`, "x"}} {
		if got := splitValues(joinValues(vs)); !reflect.DeepEqual(got, vs) {
			t.Errorf("split(join(%q)) = %q", vs, got)
		}
	}
}

func TestDeltaAndTombstones(t *testing.T) {
	in := `{"op":"ADD","entity":` + okPerson + "}\n" +
		`{"op":"MOD","entity":{"id":"P-2","schema":"Person","properties":{"name":["B"]},"datasets":["x"]}}` + "\n" +
		`{"op":"DEL","entity":{"id":"P-3"}}` + "\n" +
		`{"id":"P-4","schema":"Person","properties":{"name":["op"]},"op":"not a delta line"}` + "\n"
	res := read(t, "t.delta.json", in, testOpts)
	if res.Format != FtM || len(res.Problems) != 0 || !reflect.DeepEqual(ids(res), []string{"P-1", "P-2", "P-4"}) ||
		!reflect.DeepEqual(res.Deletes, []string{"P-3"}) {
		t.Fatalf("format %s records %v deletes %v problems %v", res.Format, ids(res), res.Deletes, res.Problems)
	}
	if string(res.Records[1].Extra["datasets"]) != `["x"]` || string(res.Records[2].Extra["op"]) != `"not a delta line"` {
		t.Errorf("extras %q %q", res.Records[1].Extra, res.Records[2].Extra)
	}
	// valise JSONL: a tombstone record is a delete; the version is dropped.
	in = `{"id":"P-1","schema":"Person","origin":"KG-NCB","handling":{"tlp":"green"},"properties":{"name":["A"]},"version":{"by":"KG-NCB","vv":{"KG-NCB":3}}}` + "\n" +
		`{"id":"P-2","schema":"Person","origin":"KG-NCB","handling":{"tlp":"green"},"properties":{},"deleted":true}` + "\n"
	res = read(t, "x.jsonl", in, Options{})
	if res.Format != JSONL || len(res.Problems) != 0 || !reflect.DeepEqual(ids(res), []string{"P-1"}) ||
		!reflect.DeepEqual(res.Deletes, []string{"P-2"}) || !res.Records[0].Version.IsZero() {
		t.Fatalf("format %s records %v deletes %v problems %v", res.Format, ids(res), res.Deletes, res.Problems)
	}
	// Without origin option, a JSONL record without origin is a problem.
	res = read(t, "x.jsonl", `{"id":"P-1","schema":"Person","handling":{"tlp":"green"},"properties":{"name":["A"]}}`, Options{Format: JSONL})
	if len(res.Problems) != 1 || res.Problems[0].Property != "origin" {
		t.Errorf("problems %v", res.Problems)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		format string
		opts   Options
		want   string
	}{
		{FtM, Options{Handling: schema.Handling{TLP: "amber"}}, "carry no origin"},
		{UNSC, Options{Origin: "KZ-NCB"}, "carry no handling"},
		{CSV, Options{Origin: "kz", Type: "Person"}, "origin: agency id"},
		{CSV, Options{Handling: schema.Handling{TLP: "pink"}, Type: "Person"}, "handling.tlp: must be one of"},
		{"xls", testOpts, `unknown format "xls"`},
		{CSV, Options{}, "needs a type"},
		{CSV, Options{Type: "Thing"}, `type "Thing" is not a record type`},
	} {
		tc.opts.Format = tc.format
		_, err := readAll("f", strings.NewReader("id,name\n"), tc.opts)
		if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: error %v, want ErrOptions with %q", tc.format, tc.opts, err, tc.want)
		}
	}
	// Handling from the options is copied, not shared.
	opts := Options{Format: CSV, Type: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "red", ReleasableTo: []string{"KG-NCB"}}}
	res := read(t, "p.csv", "id,name\nP-1,A\nP-2,B\n", opts)
	res.Records[0].Handling.ReleasableTo[0] = "XX"
	if res.Records[1].Handling.ReleasableTo[0] != "KG-NCB" || opts.Handling.ReleasableTo[0] != "KG-NCB" {
		t.Error("records share the handling lists of the options")
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct{ name, head, want string }{
		{"zala.entities.ftm.json", `{"id": "x", "schema": "Person", "properties": {}}`, FtM},
		{"d.delta.json", `{"op":"ADD","entity":{"id":"x"}}`, FtM},
		{"export.jsonl", `{"handling":{"tlp":"amber"},"id":"x","origin":"KZ-NCB","properties":{},"schema":"Person"}`, JSONL},
		{"export", `{"id":"x","schema":"Person","origin":"KZ-NCB","properties":{"notes":["` + strings.Repeat("x", 100) + `"]}}`, JSONL},
		{"cut.json", `{"id":"x","properties":{"notes":["unterminated`, FtM},
		{"people.csv", "id,name\nP-1,Ivan\n", CSV},
		{"people.CSV", "name,id\n", CSV},
		{"list", "id;name\n", ""},
		{"sdn.csv", "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", OFACSDN},
		{"SDN", "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n", OFACSDN},
		{"consolidated.xml", `<?xml version="1.0" encoding="UTF-8"?><CONSOLIDATED_LIST dateGenerated="x">`, UNSC},
		{"list", "\n  <CONSOLIDATED_LIST>", UNSC},
		{"other.xml", `<rss>`, ""},
		{"data.json", `[{"id":"x"}]`, ""},
		{"photo.jpg", "\xff\xd8\xff", ""},
		{"empty.jsonl", "", JSONL},
		{"empty.ftm.json", "\ufeff\n", FtM},
		{"empty.csv", "", CSV},
		{"broken.ftm.json", "{\"id\":\"x\",]\n" + okPerson + "\n", FtM},
	} {
		got, err := Detect(tc.name, []byte(tc.head))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("Detect(%q, %.30q) = %q, %v; want %q", tc.name, tc.head, got, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Errorf("Detect(%q): error %v is not ErrFormat", tc.name, err)
		}
	}
}

// byEntryID returns the records of res by id.
func byEntryID(res *result) map[string]*schema.Record {
	m := map[string]*schema.Record{}
	for _, r := range res.Records {
		m[r.ID] = r
	}
	return m
}

// checkRecord compares a record's schema and properties with what is
// wanted, naming each property that differs.
func checkRecord(t *testing.T, r *schema.Record, schemaName string, want map[string][]string) {
	t.Helper()
	if r == nil {
		t.Errorf("no %s record", schemaName)
		return
	}
	if r.Schema != schemaName {
		t.Errorf("%s is a %s, want a %s", r.ID, r.Schema, schemaName)
	}
	for k, v := range r.Properties {
		if !reflect.DeepEqual(v, want[k]) {
			t.Errorf("%s: %s = %q, want %q", r.ID, k, v, want[k])
		}
	}
	for k, v := range want {
		if _, ok := r.Properties[k]; !ok {
			t.Errorf("%s: %s missing, want %q", r.ID, k, v)
		}
	}
}

// TestDetectForeign: JSON that valise does not read is named, in one line
// that says what valise reads instead.
func TestDetectForeign(t *testing.T) {
	for _, tc := range []struct{ name, head, want string }{
		{"apt1.json", "{\n  \"type\": \"bundle\",\n  \"id\": \"bundle--cf20f99b\",\n  \"objects\": [\n    {", "a STIX 2.1 bundle"},
		{"event.json", `{"Event": {"info": "OSINT", "Attribute": [`, "a MISP event"},
		{"event.json", "{\n  \"Attribute\": [\n    {\n      \"Tag\": [", "a MISP event"},
		{"person.definition.json", "{\n  \"attributes\": {\n    \"address\": {\n      \"misp-attribute\": \"text\"", "a MISP object template"},
		{"p.ftm.json", "{\n  \"id\": \"P-1\",\n  \"schema\": \"Person\",\n  \"properties\": {}\n}\n", "a JSON object spread over several lines"},
		{"p.json", "{\n  \"id\": \"P-1\",\n  \"schema\": \"Person\",\n  \"properties\": {\"notes\": [\"cut", "a JSON object spread over several lines"},
		{"data.json", `[{"id":"x"}]`, "a JSON array"},
	} {
		got, err := Detect(tc.name, []byte(tc.head))
		if got != "" || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.name+": "+tc.want) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("Detect(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestOFACRow maps one row of each kind.
func TestOFACRow(t *testing.T) {
	in := `4243,"EBANO","vessel","CUBA] [SDGT",-0- ,"CL2192","General Cargo","318,000","1865","Atlantis","Samir S.A.","Vessel Registration Identification IMO 7406784; f.k.a. 'ANA I'; MMSI 123456789; Linked To: BANCO NACIONAL DE CUBA."` + "\r\n" +
		`7513,"MNANGAGWA, Emmerson","individual","GLOMAG","President","-0-",-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 15 Sep 1946; alt. DOB 1942; DOB circa 1940; DOB 1950 to 1952; nationality Zimbabwe; citizen Atlantis; Gender Male; POB Zvishavane, Zimbabwe; Passport AD 005831 (Zimbabwe) issued 11 Jan 2018 expires 10 Jan 2028; a.k.a. 'O'NEIL'; National ID No. 63-453849Z80; Member of the Politburo; DOB 31 Feb 1950."` + "\r\n" +
		`306,"BANCO NACIONAL DE CUBA",-0- ,"CUBA] [SDNTK","Bank",-0- ,-0- ,"12.5",-0- ,-0- ,-0- ,"Tax ID No. 7707083893 (Russia); Website www.bnc.cu; Email Address info@bnc.cu; SWIFT/BIC BNCUCUHH; Digital Currency Address - XBT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT; Linked To: NOBODY KNOWN; Remarks cut short; DOB 1 Jan 1950; DOB 1962"` + "\r\n\x1a"
	res := read(t, "sdn.csv", in, testOpts)
	want := []string{"ofac-4243", "ofac-4243-sanction", "ofac-4243-owner-dc3d0a7ad4", "ofac-4243-ownership-98b76167aa",
		"ofac-4243-link-dd7bf2721f", "ofac-7513", "ofac-7513-sanction", "ofac-7513-passport-3237409c26",
		"ofac-7513-id-1864b716a7", "ofac-306", "ofac-306-sanction", "ofac-306-id-4f6bda1fb5", "ofac-306-wallet-5c66edb8e8"}
	if len(res.Problems) != 0 || res.Source != OFACSDN || !reflect.DeepEqual(ids(res), want) {
		t.Fatalf("records %v\nwant %v\nproblems %v", ids(res), want, res.Problems)
	}
	m := byEntryID(res)
	checkRecord(t, m["ofac-4243"], "Vessel", map[string][]string{"name": {"EBANO"}, "type": {"General Cargo"},
		"program": {"CUBA", "SDGT"}, "topics": {"sanction", "crime.terror"}, "callSign": {"CL2192"},
		"tonnage": {"318000"}, "grossRegisteredTonnage": {"1865"}, "notes": {"Vessel flag: Atlantis"},
		"imoNumber": {"IMO7406784"}, "previousName": {"ANA I"}, "mmsi": {"123456789"}})
	checkRecord(t, m["ofac-4243-sanction"], "Sanction", map[string][]string{"entity": {"ofac-4243"},
		"authority": {"Office of Foreign Assets Control"}, "country": {"us"}, "authorityId": {"4243"}, "program": {"CUBA", "SDGT"}})
	checkRecord(t, m["ofac-4243-owner-dc3d0a7ad4"], "LegalEntity", map[string][]string{"name": {"Samir S.A."}})
	checkRecord(t, m["ofac-4243-ownership-98b76167aa"], "Ownership", map[string][]string{"owner": {"ofac-4243-owner-dc3d0a7ad4"},
		"asset": {"ofac-4243"}, "role": {"Vessel owner"}})
	checkRecord(t, m["ofac-4243-link-dd7bf2721f"], "UnknownLink", map[string][]string{"subject": {"ofac-4243"},
		"object": {"ofac-306"}, "role": {"Linked To"}})
	checkRecord(t, m["ofac-7513"], "Person", map[string][]string{"name": {"MNANGAGWA, Emmerson"}, "program": {"GLOMAG"},
		"topics": {"sanction"}, "title": {"President"},
		"birthDate":   {"1946-09-15", "1942", "1940", "1950", "1951", "1952"},
		"nationality": {"zw"}, "gender": {"male"}, "birthPlace": {"Zvishavane, Zimbabwe"},
		"passportNumber": {"AD 005831"}, "idNumber": {"63-453849Z80"}, "alias": {"O'NEIL"}, "position": {"Member of the Politburo"},
		// FtM has no place for "circa", a range, an unknown country or a
		// cut last segment.
		"notes": {"DOB circa 1940; DOB 1950 to 1952; citizen Atlantis; DOB 31 Feb 1950."}})
	checkRecord(t, m["ofac-7513-passport-3237409c26"], "Passport", map[string][]string{"holder": {"ofac-7513"},
		"number": {"AD 005831"}, "type": {"Passport"}, "country": {"zw"}, "startDate": {"2018-01-11"}, "endDate": {"2028-01-10"}})
	checkRecord(t, m["ofac-7513-id-1864b716a7"], "Identification", map[string][]string{"holder": {"ofac-7513"},
		"number": {"63-453849Z80"}, "type": {"National ID No."}})
	// Title and tonnage have no property on an Organization; remarks that
	// do not end with a full stop may be cut, so their last segment is not
	// read.
	checkRecord(t, m["ofac-306"], "Organization", map[string][]string{"name": {"BANCO NACIONAL DE CUBA"},
		"program": {"CUBA", "SDNTK"}, "topics": {"sanction", "crime.traffick.drug"}, "taxNumber": {"7707083893"},
		"website": {"www.bnc.cu"}, "email": {"info@bnc.cu"}, "swiftBic": {"BNCUCUHH"},
		"notes": {"Linked To: NOBODY KNOWN; Remarks cut short; DOB 1 Jan 1950; DOB 1962", "Title: Bank", "Tonnage: 12.5"}})
	checkRecord(t, m["ofac-306-id-4f6bda1fb5"], "Identification", map[string][]string{"holder": {"ofac-306"},
		"number": {"7707083893"}, "type": {"Tax ID No."}, "country": {"ru"}})
	checkRecord(t, m["ofac-306-wallet-5c66edb8e8"], "CryptoWallet", map[string][]string{"holder": {"ofac-306"},
		"publicKey": {"1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}, "currencySymbol": {"XBT"}, "topics": {"sanction"}})
}

const unEntry = `<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2018-10-29T19:09:49.856-04:00">
<INDIVIDUALS>
<INDIVIDUAL><DATAID>6908706</DATAID><VERSIONNUM>1</VERSIONNUM><FIRST_NAME>Mohammed</FIRST_NAME><SECOND_NAME>al-Hadi</SECOND_NAME><THIRD_NAME>al-Arabi</THIRD_NAME><FOURTH_NAME>Kashlaf</FOURTH_NAME>
<UN_LIST_TYPE>Libya</UN_LIST_TYPE><REFERENCE_NUMBER>LYi.025</REFERENCE_NUMBER><LISTED_ON>2018-06-07-04:00</LISTED_ON><GENDER>MALE</GENDER><SUBMITTED_BY>Germany</SUBMITTED_BY>
<NAME_ORIGINAL_SCRIPT>محمد</NAME_ORIGINAL_SCRIPT><COMMENTS1>Listed pursuant to
resolution 1970.

</COMMENTS1><NATIONALITY2>Libya</NATIONALITY2><TITLE><VALUE>Dr.</VALUE></TITLE><DESIGNATION><VALUE>Commander</VALUE><VALUE>Head of guard</VALUE></DESIGNATION>
<NATIONALITY><VALUE>Libya</VALUE><VALUE>United Kingdom of Great Britain and Northern
      Ireland</VALUE><VALUE>Atlantis</VALUE></NATIONALITY><LIST_TYPE><VALUE>UN List</VALUE></LIST_TYPE><LAST_DAY_UPDATED><VALUE>2018-09-17</VALUE><VALUE/></LAST_DAY_UPDATED>
<INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Kashlaf Mohammed</ALIAS_NAME></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Koshlaf</ALIAS_NAME><DATE_OF_BIRTH>1988</DATE_OF_BIRTH><NOTE>alias note</NOTE></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ALIAS><QUALITY>f.k.a.</QUALITY><ALIAS_NAME>Old Name</ALIAS_NAME></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ALIAS><QUALITY>Medium</QUALITY><ALIAS_NAME>Odd</ALIAS_NAME></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Two; Names</ALIAS_NAME></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
<INDIVIDUAL_ADDRESS><STREET>Street 1</STREET><CITY>Zawiya</CITY><ZIP_CODE>123</ZIP_CODE><COUNTRY>Libya</COUNTRY><NOTE>until 2015</NOTE></INDIVIDUAL_ADDRESS>
<INDIVIDUAL_ADDRESS><COUNTRY/></INDIVIDUAL_ADDRESS>
<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1988-11-15</DATE></INDIVIDUAL_DATE_OF_BIRTH>
<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>APPROXIMATELY</TYPE_OF_DATE><YEAR>1987</YEAR></INDIVIDUAL_DATE_OF_BIRTH>
<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1980</FROM_YEAR><TO_YEAR>1985</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>
<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1989-01-02-05:00</DATE></INDIVIDUAL_DATE_OF_BIRTH>
<INDIVIDUAL_PLACE_OF_BIRTH><CITY>Zawiya</CITY><COUNTRY>Libya</COUNTRY></INDIVIDUAL_PLACE_OF_BIRTH>
<INDIVIDUAL_PLACE_OF_BIRTH><NOTE>possibly Asmara, Eritrea</NOTE></INDIVIDUAL_PLACE_OF_BIRTH>
<INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>HR8CHGP8</NUMBER><DATE_OF_ISSUE>2015-04-27</DATE_OF_ISSUE><CITY_OF_ISSUE>Zawiyah</CITY_OF_ISSUE></INDIVIDUAL_DOCUMENT>
<INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>National Identification Number</TYPE_OF_DOCUMENT><NUMBER>119880210419</NUMBER></INDIVIDUAL_DOCUMENT>
<SORT_KEY/><SORT_KEY_LAST_MOD/><DELISTED_ON>2019-01-01</DELISTED_ON><FUTURE_FIELD kind="x">something new</FUTURE_FIELD></INDIVIDUAL>
</INDIVIDUALS>
<ENTITIES>
<ENTITY><DATAID>110326</DATAID><VERSIONNUM>2</VERSIONNUM><FIRST_NAME>AL-RASHID TRUST</FIRST_NAME><UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE><REFERENCE_NUMBER>QDe.005</REFERENCE_NUMBER><LISTED_ON>2001-10-06</LISTED_ON><COMMENTS1/><LIST_TYPE><VALUE>UN List</VALUE></LIST_TYPE>
<ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>Al-Rasheed Trust</ALIAS_NAME></ENTITY_ALIAS>
<ENTITY_ADDRESS><CITY>Karachi</CITY><COUNTRY>Pakistan</COUNTRY></ENTITY_ADDRESS><SORT_KEY/><SORT_KEY_LAST_MOD/></ENTITY>
</ENTITIES>
</CONSOLIDATED_LIST>
`

func TestUNSCEntry(t *testing.T) {
	res := read(t, "un.xml", unEntry, testOpts)
	want := []string{"un-sc-6908706", "un-sc-6908706-sanction", "un-sc-6908706-address-71632302de",
		"un-sc-6908706-passport-67983b3300", "un-sc-6908706-id-9c57b36a60", "un-sc-110326", "un-sc-110326-sanction",
		"un-sc-110326-address-1020b84bc2"}
	if len(res.Problems) != 0 || res.Source != UNSC || !reflect.DeepEqual(ids(res), want) {
		t.Fatalf("records %v\nwant %v\nproblems %v", ids(res), want, res.Problems)
	}
	m := byEntryID(res)
	checkRecord(t, m["un-sc-6908706"], "Person", map[string][]string{
		"name":           {"Mohammed al-Hadi al-Arabi Kashlaf"},
		"firstName":      {"Mohammed"},
		"secondName":     {"al-Hadi"},
		"middleName":     {"al-Arabi"},
		"lastName":       {"Kashlaf"},
		"program":        {"Libya"},
		"topics":         {"sanction"},
		"createdAt":      {"2018-06-07"},
		"gender":         {"male"},
		"title":          {"Dr."},
		"position":       {"Commander", "Head of guard"},
		"nationality":    {"ly", "gb"},
		"modifiedAt":     {"2018-09-17"},
		"alias":          {"محمد", "Kashlaf Mohammed", "Odd", "Two", "Names"},
		"weakAlias":      {"Koshlaf"},
		"previousName":   {"Old Name"},
		"address":        {"Street 1, Zawiya, 123, Libya"},
		"addressEntity":  {"un-sc-6908706-address-71632302de"},
		"country":        {"ly"},
		"birthDate":      {"1988-11-15", "1987", "1980", "1981", "1982", "1983", "1984", "1985", "1989-01-02"},
		"birthPlace":     {"Zawiya, Libya", "possibly Asmara, Eritrea"},
		"birthCountry":   {"ly"},
		"passportNumber": {"HR8CHGP8"},
		"idNumber":       {"119880210419"},
		"notes": {
			"Listed pursuant to\nresolution 1970.",
			"Listed on: 2018-06-07-04:00",
			"Nationality: Atlantis",
			"List type: UN List",
			"UN version: 1",
			"Alias Koshlaf: date of birth 1988; note alias note",
			"Alias quality: Medium: Odd",
			"Date of birth: approximately 1987",
			"Date of birth: between 1980 and 1985",
			"Date of birth: 1989-01-02-05:00",
			"Submitted by: Germany",
			"FUTURE_FIELD: something new",
			"FUTURE_FIELD/@kind: x",
		},
	})
	checkRecord(t, m["un-sc-6908706-sanction"], "Sanction", map[string][]string{"entity": {"un-sc-6908706"},
		"authority": {"United Nations Security Council"}, "program": {"Libya"}, "unscId": {"LYi.025"},
		"listingDate": {"2018-06-07"}, "endDate": {"2019-01-01"}})
	checkRecord(t, m["un-sc-6908706-address-71632302de"], "Address", map[string][]string{"full": {"Street 1, Zawiya, 123, Libya"},
		"street": {"Street 1"}, "city": {"Zawiya"}, "postalCode": {"123"}, "country": {"ly"}, "summary": {"until 2015"}})
	checkRecord(t, m["un-sc-6908706-passport-67983b3300"], "Passport", map[string][]string{"holder": {"un-sc-6908706"},
		"number": {"HR8CHGP8"}, "type": {"Passport"}, "startDate": {"2015-04-27"}, "summary": {"city of issue Zawiyah"}})
	checkRecord(t, m["un-sc-6908706-id-9c57b36a60"], "Identification", map[string][]string{"holder": {"un-sc-6908706"},
		"number": {"119880210419"}, "type": {"National Identification Number"}})
	checkRecord(t, m["un-sc-110326"], "LegalEntity", map[string][]string{"name": {"AL-RASHID TRUST"}, "program": {"Al-Qaida"},
		"topics": {"sanction", "crime.terror"}, "createdAt": {"2001-10-06"}, "alias": {"Al-Rasheed Trust"},
		"address": {"Karachi, Pakistan"}, "addressEntity": {"un-sc-110326-address-1020b84bc2"}, "country": {"pk"},
		"notes": {"List type: UN List", "UN version: 2"}})
	checkRecord(t, m["un-sc-110326-sanction"], "Sanction", map[string][]string{"entity": {"un-sc-110326"},
		"authority": {"United Nations Security Council"}, "program": {"Al-Qaida"}, "unscId": {"QDe.005"},
		"listingDate": {"2001-10-06"}})
}

// TestUNSCEveryChangeShows changes the text of each element of an entry in
// turn: each change must change the record's content hash.
func TestUNSCEveryChangeShows(t *testing.T) {
	entryHash := func(res *result) string {
		var b strings.Builder
		for _, r := range res.Records {
			if EntryOf(r.ID) == "un-sc-6908706" {
				h := r.ContentHash()
				b.Write(h[:])
			}
		}
		return b.String()
	}
	base := entryHash(read(t, "un.xml", unEntry, testOpts))
	start := strings.Index(unEntry, "<INDIVIDUAL>")
	end := strings.Index(unEntry, "</INDIVIDUAL>")
	n := 0
	for i := start; i < end; i++ {
		// At the end of each non-empty text: insert a character.
		if unEntry[i] != '<' || unEntry[i-1] == '>' || unEntry[i-1] == '\n' || unEntry[i+1] != '/' ||
			strings.HasPrefix(unEntry[i:], "</DATAID>") {
			continue
		}
		changed := unEntry[:i] + "Z" + unEntry[i:]
		res := read(t, "un.xml", changed, testOpts)
		if len(res.Problems) != 0 {
			t.Fatalf("change at %d: %v", i, res.Problems)
		}
		n++
		if entryHash(res) == base {
			t.Errorf("changing %q went unseen", unEntry[max(start, i-30):i])
		}
	}
	if n < 50 {
		t.Fatalf("only %d changes tried", n)
	}
}

func TestUNSCBroken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no CONSOLIDATED_LIST"},
		{"<rss/>", "root element is rss"},
		{"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>", "unexpected EOF"},
		{"<CONSOLIDATED_LIST><INDIVIDUALS></ENTITIES>", "line 1"},
		{"<CONSOLIDATED_LIST></CONSOLIDATED_LIST><CONSOLIDATED_LIST>", "content after the end"},
		{"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>\xff</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>", "invalid UTF-8"},
		{`<?xml version="1.0" encoding="ISO-8859-1"?><CONSOLIDATED_LIST/>`, "ISO-8859-1"},
		{"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>" + strings.Repeat("<A>", maxXMLDepth) + "x", "nested deeper"},
		{"<CONSOLIDATED_LIST><OTHER>" + strings.Repeat("<A>", maxXMLDepth) + "x", "nested deeper"},
		{"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><COMMENTS1>" + strings.Repeat("x", maxXMLToken+8192) + "</COMMENTS1>", "larger than"},
		{"<CONSOLIDATED_LIST><X a=\"" + strings.Repeat("x", maxXMLToken+8192) + "\"/>", "larger than"},
	} {
		_, err := readAll("un.xml", strings.NewReader(tc.in), Options{Format: UNSC, Origin: "KZ-NCB", Handling: schema.Handling{TLP: "clear"}})
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60q: error %v, want ErrFormat with %q", tc.in, err, tc.want)
		}
	}
	// An entry with too many elements is one problem; the next one is read.
	big := "<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID>" + strings.Repeat("<NOTE>x</NOTE>", maxEntryNodes) +
		"</INDIVIDUAL><INDIVIDUAL><DATAID>2</DATAID><FIRST_NAME>B</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"
	res := read(t, "un.xml", big, Options{Format: UNSC, Origin: "KZ-NCB", Handling: schema.Handling{TLP: "clear"}})
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Rule, "larger than") || !reflect.DeepEqual(ids(res), []string{"un-sc-2", "un-sc-2-sanction"}) {
		t.Errorf("records %v problems %v", ids(res), res.Problems)
	}
}

// failingReader returns data, then an I/O error.
type failingReader struct{ data []byte }

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errDisk
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIOErrors(t *testing.T) {
	for _, tc := range []struct{ format, data string }{
		{FtM, okPerson + "\n"},
		{JSONL, okPerson + "\n"},
		{CSV, "id,name\nP-1,A\n"},
		{OFACSDN, ""},
		{UNSC, "<CONSOLIDATED_LIST><INDIVIDUALS>"},
	} {
		_, err := readAll("f", &failingReader{[]byte(tc.data)}, Options{Format: tc.format, Type: "Person", Origin: "KZ-NCB",
			Handling: schema.Handling{TLP: "clear"}})
		if !errors.Is(err, errDisk) || errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want the I/O error", tc.format, err)
		}
	}
}

func sampleRecords() []*schema.Record {
	return []*schema.Record{
		{ID: "P-1", Schema: "Person", Origin: "KZ-NCB",
			Properties: map[string][]string{"name": {"Ivan \"Vanya\" Petrov", "Иван; Петров"}, "notes": {"two\nlines\r\n\tand a \\ backslash"},
				"nationality": {"kz"}, "birthDate": {"1975-03"}},
			Handling:   schema.Handling{TLP: "amber+strict", Code: "H2", ReleasableTo: []string{"CARICC", "KG-NCB"}, NotReleasableTo: []string{"XX-1"}, RetainUntil: "2030-01-01"},
			Evaluation: &schema.Evaluation{Reliability: "B", Credibility: "3"},
			Extra:      map[string][]byte{"datasets": []byte(`["a","b"]`), "score": []byte(`1e+21`)}},
		{ID: "P-2", Schema: "Person", Origin: "KG-NCB", Properties: map[string][]string{"name": {" leading space"}, "alias": {`back\slash;semi`, ";"}},
			Handling: schema.Handling{TLP: "clear"}},
	}
}

// TestJSONLWriterRoundTrip: written records read back give the same
// canonical bytes.
func TestJSONLWriterRoundTrip(t *testing.T) {
	in := sampleRecords()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, JSONL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range in {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	res := read(t, "export.jsonl", buf.String(), Options{})
	if res.Format != JSONL || len(res.Problems) != 0 || len(res.Records) != len(in) {
		t.Fatalf("format %s records %v problems %v", res.Format, ids(res), res.Problems)
	}
	for i, r := range res.Records {
		got := string(r.AppendCanonical(nil))
		if got != string(in[i].AppendCanonical(nil)) || got != lines[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, in[i].AppendCanonical(nil))
		}
		if _, err := schema.DecodeCanonical([]byte(lines[i])); err != nil {
			t.Errorf("line %d is not canonical: %v", i, err)
		}
	}
	if err := w.Write(in[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// TestCSVWriterRoundTrip: a CSV export read back gives the same records
// (extras aside: CSV has no place for them).
func TestCSVWriterRoundTrip(t *testing.T) {
	in := sampleRecords()
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, CSV)
	for _, r := range in {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(buf.String(), "\n")
	if !strings.HasPrefix(header, "id,schema,address,addressEntity,alephUrl,alias,") ||
		!strings.HasSuffix(header, ",origin,tlp,handling_code,conditions,releasable_to,not_releasable_to,retain_until,reliability,credibility") {
		t.Errorf("header %s", header)
	}
	res := read(t, "export.csv", buf.String(), Options{})
	if res.Format != CSV || len(res.Problems) != 0 || len(res.Records) != len(in) {
		t.Fatalf("records %v problems %v", ids(res), res.Problems)
	}
	for i, r := range res.Records {
		want := in[i].Clone()
		want.Extra = nil
		if got := r.AppendCanonical(nil); string(got) != string(want.AppendCanonical(nil)) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want.AppendCanonical(nil))
		}
	}
}

func TestCSVWriterOneSchema(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, CSV)
	if err := w.Write(sampleRecords()[0]); err != nil {
		t.Fatal(err)
	}
	c := &schema.Record{ID: "C-1", Schema: "Company", Origin: "KZ-NCB", Properties: map[string][]string{"name": {"Acme"}}}
	err := w.Write(c)
	if err == nil || !strings.Contains(err.Error(), "one record type") {
		t.Fatalf("writing a Company after a Person: %v", err)
	}
	if err2 := w.Write(sampleRecords()[1]); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
	if err2 := w.Close(); err2 != err {
		t.Errorf("Close: %v", err2)
	}
}

func TestFtMWriter(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, FtM)
	in := sampleRecords()
	tomb := &schema.Record{ID: "P-3", Schema: "Person", Origin: "KZ-NCB", Deleted: true}
	for _, r := range append(in, tomb) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	want := `{"id":"P-1","schema":"Person","properties":{"birthDate":["1975-03"],"name":["Ivan \"Vanya\" Petrov","Иван; Петров"],"nationality":["kz"],"notes":["two\nlines\r\n\tand a \\ backslash"]},"datasets":["a","b"],"score":1e+21}` + "\n" +
		`{"id":"P-2","schema":"Person","properties":{"alias":["back\\slash;semi",";"],"name":[" leading space"]}}` + "\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if _, err := NewWriter(io.Discard, "xml"); err == nil {
		t.Error("NewWriter accepted xml")
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestWriterStickyIOError(t *testing.T) {
	for _, f := range []string{JSONL, FtM, CSV} {
		w, _ := NewWriter(errWriter{}, f)
		var err error
		for i := 0; i < 10000 && err == nil; i++ {
			err = w.Write(sampleRecords()[1])
		}
		if err == nil {
			err = w.Close()
		}
		if !errors.Is(err, errDisk) {
			t.Errorf("%s: %v", f, err)
		}
		if err2 := w.Close(); !errors.Is(err2, errDisk) {
			t.Errorf("%s: Close after failure: %v", f, err2)
		}
	}
}

func TestCountryTable(t *testing.T) {
	for name, code := range countryNames {
		if !schema.ValidCountry(code) {
			t.Errorf("%q maps to %q, not a country code", name, code)
		}
		if name != strings.ToLower(strings.Join(strings.Fields(name), " ")) {
			t.Errorf("key %q is not normalised", name)
		}
	}
	for in, want := range map[string]string{"Democratic People's Republic of Korea": "kp", "  RUSSIAN\n Federation ": "ru",
		"Iran / unknown": "", "USSR (until 1991)": "", "": ""} {
		if got := countryCode(in); got != want {
			t.Errorf("countryCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineReaderBounds(t *testing.T) {
	in := strings.Repeat("x", 100) + "\n" + strings.Repeat("y", 10) + "\r\nlast"
	lr := newLineReader(bufioReader(in, 16), 50)
	var got []string
	for {
		l, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%v:%q", lr.line, tooLong, l))
	}
	want := []string{`1:true:""`, `2:false:"yyyyyyyyyy\r\n"`, `3:false:"last"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func bufioReader(s string, size int) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), size)
}

// TestFtMUnknownProperties: an FtM property the model's FtM release does
// not define is set aside, not refused nor dropped, and the ftm writer
// puts it back.
func TestFtMUnknownProperties(t *testing.T) {
	in := `{"id":"C-1","schema":"Company","properties":{"abbreviation":["ZALA"],"name":["Zala Aero"],"shoeSize":["44","45"]}}`
	res := read(t, "c.ftm.json", in+"\n", testOpts)
	if len(res.Problems) != 0 || len(res.Records) != 1 {
		t.Fatalf("problems %v, records %d", res.Problems, len(res.Records))
	}
	r := res.Records[0]
	if got := string(r.Extra[UnknownProperties]); got != `{"abbreviation":["ZALA"],"shoeSize":["44","45"]}` {
		t.Errorf("set aside %s", got)
	}
	if !reflect.DeepEqual(r.Properties, map[string][]string{"name": {"Zala Aero"}}) {
		t.Errorf("properties %v", r.Properties)
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, FtM)
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(buf.String(), "\n"); got != in {
		t.Errorf("written back as\n%s\nwant\n%s", got, in)
	}
}

// sampleValue is a valid value of a property of type t.
func sampleValue(t schema.PropType, prop string) string {
	switch t {
	case schema.TypeDate:
		return "2024-05-27"
	case schema.TypeCountry:
		return "kz"
	case schema.TypeGender:
		return "female"
	case schema.TypeTopic:
		return "crime.traffick.drug"
	case schema.TypeEntity:
		return "e-1"
	case schema.TypeIBAN:
		return "DE89370400440532013000"
	case schema.TypeIP:
		return "192.0.2.1"
	case schema.TypeLanguage:
		return "kaz"
	case schema.TypeEmail:
		return "desk@example.kz"
	case schema.TypeNumber:
		return "12.5"
	}
	return "value of " + prop + ", with ; and \\"
}

// TestEverySchemaRoundTrips writes a record of every concrete FtM schema,
// with a value in every property it may hold, in each format, and reads
// it back through Stream: the same record.
func TestEverySchemaRoundTrips(t *testing.T) {
	names := schema.Names()
	if len(names) != 65 {
		t.Fatalf("%d schemata", len(names))
	}
	for _, format := range []string{FtM, JSONL, CSV} {
		props := 0
		for _, name := range names {
			s, _ := schema.Get(name)
			r := &schema.Record{ID: "r-" + name, Schema: name, Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"},
				Properties: map[string][]string{}}
			for _, p := range s.Props() {
				if !p.Stub {
					r.Properties[p.Name] = []string{sampleValue(p.Type, p.Name), "2nd " + p.Name}
					if p.Type != schema.TypeString && p.Type != schema.TypeName && p.Type != schema.TypeText &&
						p.Type != schema.TypeIdentifier && p.Type != schema.TypeAddress {
						r.Properties[p.Name] = r.Properties[p.Name][:1]
					}
					props++
				}
			}
			if ps := r.Validate(); len(ps) > 0 {
				t.Fatalf("%s: sample record invalid: %v", name, ps[0])
			}
			var buf bytes.Buffer
			w, _ := NewWriter(&buf, format)
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			res := read(t, "r."+format, buf.String(), Options{Format: format, Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}})
			if len(res.Problems) != 0 || len(res.Records) != 1 {
				t.Fatalf("%s %s: problems %v", format, name, res.Problems)
			}
			if got, want := res.Records[0].AppendCanonical(nil), r.AppendCanonical(nil); !bytes.Equal(got, want) {
				t.Errorf("%s %s:\n got %s\nwant %s", format, name, got, want)
			}
		}
		if props < 1500 {
			t.Errorf("%s: only %d properties written", format, props)
		}
	}
}

// TestCSVNeutralises: cells a spreadsheet would run as formulas get a '
// in front (OWASP), unless raw; reading takes it away again.
func TestCSVNeutralises(t *testing.T) {
	values := []string{`=HYPERLINK("http://evil.example","click")`, "+7 701 000", "-1", "@SUM(A1)", "\tx", "\rx",
		"'quoted", "'=both", "plain"}
	r := &schema.Record{ID: "P-1", Schema: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"},
		Properties: map[string][]string{"name": {"Ümit"}, "alias": {"-1", "@x"}}}
	write := func(opts ...WriterOption) string {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, CSV, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			rr := r.Clone()
			rr.ID = fmt.Sprintf("P-%d", i)
			rr.Properties["notes"] = []string{v}
			if err := w.Write(rr); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	safe := write()
	rows, err := csv.NewReader(strings.NewReader(safe)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col, alias := slices.Index(rows[0], "notes"), slices.Index(rows[0], "alias")
	for i, v := range values {
		if a := rows[i+1][alias]; a != "'-1;@x" {
			t.Errorf("aliases written as %q", a)
		}
		cell := rows[i+1][col]
		if strings.ContainsAny(v[:1], "=+-@\t\r'") != strings.HasPrefix(cell, "'") || strings.TrimPrefix(cell, "'") != v && cell != v {
			t.Errorf("value %q written as %q", v, cell)
		}
	}
	res := read(t, "x.csv", safe, Options{})
	if len(res.Problems) != 0 || len(res.Records) != len(values) {
		t.Fatalf("problems %v", res.Problems)
	}
	for i, got := range res.Records {
		if !reflect.DeepEqual(got.Properties["notes"], []string{values[i]}) || !reflect.DeepEqual(got.Properties["alias"], []string{"-1", "@x"}) {
			t.Errorf("read back %q %q", got.Properties["notes"], got.Properties["alias"])
		}
	}
	raw := write(WithUnsafeRawCSV())
	if !strings.Contains(raw, `"=HYPERLINK(""http://evil.example"",""click"")"`) || strings.Contains(raw, "'=HYPERLINK") {
		t.Errorf("raw output neutralised: %s", raw)
	}
	bom := write(WithBOM())
	if !strings.HasPrefix(bom, "\ufeffid,schema,") || strings.TrimPrefix(bom, "\ufeff") != safe {
		t.Errorf("with a byte order mark: %.40q", bom)
	}
	if res := read(t, "x.csv", bom, Options{}); len(res.Records) != len(values) || res.Records[0].Properties["name"][0] != "Ümit" {
		t.Errorf("a file with a byte order mark read as %v %v", ids(res), res.Problems)
	}
	if _, err := NewWriter(io.Discard, FtM, WithBOM()); !errors.Is(err, ErrOptions) {
		t.Errorf("a byte order mark for ftm: %v", err)
	}
}

// TestUnknownPropertiesCanonical: the properties set aside are an extra
// in canonical form, whatever their names, so that the record survives
// DecodeCanonical (a bundle) unchanged.
func TestUnknownPropertiesCanonical(t *testing.T) {
	in := `{"id":"C-1","schema":"Company","properties":{"name":["A"],"\ud83d\ude00x":["1"],"\uffefy":["2"],"b":["3"]}}`
	res := read(t, "c.ftm.json", in+"\n", testOpts)
	if len(res.Records) != 1 {
		t.Fatalf("problems %v", res.Problems)
	}
	canon := res.Records[0].AppendCanonical(nil)
	back, err := schema.DecodeCanonical(canon)
	if err != nil {
		t.Fatalf("%s: %v", canon, err)
	}
	if !bytes.Equal(back.AppendCanonical(nil), canon) {
		t.Errorf("not stable: %s", canon)
	}
}

// TestListEntryRefusedWhole: when a list entry's party is refused, the
// records derived from it are left out too, without problems of their
// own.
func TestListEntryRefusedWhole(t *testing.T) {
	row := "1,\"ONE LTD\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Website one.example.\"\r\n"
	res := read(t, "sdn.csv", row+row, testOpts)
	if !reflect.DeepEqual(ids(res), []string{"ofac-1", "ofac-1-sanction"}) || len(res.Problems) != 1 ||
		res.Problems[0].Error() != "sdn.csv:2: record ofac-1: duplicate id: also on line 1" {
		t.Errorf("records %v problems %v", ids(res), res.Problems)
	}
}
