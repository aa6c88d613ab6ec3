package formats

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"valise/internal/testenv"
	"valise/schema"
)

// dataDir returns the directory of the real third-party files (see
// ../shared/data/README.txt); without it the test skips saying why, and
// fails in CI (testenv.SharedData).
func dataDir(t testing.TB) string {
	t.Helper()
	return testenv.SharedData(t)
}

var testOpts = Options{Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}

func readPath(t testing.TB, path string, opts Options) *Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Read(filepath.Base(path), f, opts)
	if err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	return res
}

func countBySchema(res *Result) map[string]int {
	out := map[string]int{}
	for _, r := range res.Records {
		out[r.Schema]++
	}
	return out
}

// checkClean fails on any problem, and checks what Read promises of every
// record: valid, with the default envelope, without version.
func checkClean(t *testing.T, name string, res *Result) {
	t.Helper()
	for i, p := range res.Problems {
		if i == 10 {
			t.Errorf("%s: … %d problems in all", name, len(res.Problems))
			break
		}
		t.Errorf("%s: %v", name, p)
	}
	for _, r := range res.Records {
		if ps := r.Validate(); len(ps) > 0 {
			t.Errorf("%s: returned record %s is invalid: %v", name, r.ID, ps[0])
		}
		if r.Origin != "KZ-NCB" || r.Handling.TLP != "amber" || !r.Version.IsZero() {
			t.Errorf("%s: record %s has origin %q, tlp %q, version %+v", name, r.ID, r.Origin, r.Handling.TLP, r.Version)
		}
	}
}

type fileWant struct {
	format  string
	source  string
	counts  map[string]int
	deletes []string
}

// Figures from shared/data/README.txt where it gives them; the others were
// counted in the files with tools independent of this package (grep, and
// Python's csv and ElementTree).
var dataWant = map[string]fileWant{
	"ftm/zala.entities.ftm.json": {format: FtM, counts: map[string]int{"Sanction": 41, "Ownership": 14, "Company": 11,
		"Address": 11, "Person": 6, "Family": 4, "Directorship": 3, "Passport": 1}},
	"ftm/t1.entities.ftm.json": {format: FtM, counts: map[string]int{"Person": 4, "Organization": 2, "Address": 1}},
	"ftm/parteispenden.entities.ftm.json": {format: FtM, counts: map[string]int{"Payment": 290, "Address": 89,
		"Company": 56, "Person": 22, "Organization": 18}},
	"ftm/t2-20240527194702-wnk.entities.delta.json": {format: FtM, counts: map[string]int{"Person": 1, "Organization": 1}},
	"ftm/t2-20240528014702-pfh.entities.delta.json": {format: FtM, counts: map[string]int{"Organization": 2}},
	"ftm/t2-20240528074703-npf.entities.delta.json": {format: FtM, counts: map[string]int{}, deletes: []string{"NK-500Poltergeist"}},
	"ftm/t2-20240528134729-3iv.entities.delta.json": {format: FtM, counts: map[string]int{"Person": 1}},
	"un-sc/consolidated-2018-08-24.xml":             {format: UNSC, source: UNSC, counts: map[string]int{"Person": 701, "Organization": 397}},
	"un-sc/consolidated-2018-10-29.xml":             {format: UNSC, source: UNSC, counts: map[string]int{"Person": 703, "Organization": 390}},
	"ofac-sdn/sdn-2024-02-28.csv": {format: OFACSDN, source: OFACSDN, counts: map[string]int{"Person": 6760,
		"Organization": 6554, "Vehicle": 1196}},
	"ofac-sdn/sdn-2024-03-04.csv": {format: OFACSDN, source: OFACSDN, counts: map[string]int{"Person": 6712,
		"Organization": 6518, "Vehicle": 1196}},
}

// TestRealFiles reads every file of ftm/, un-sc/ and ofac-sdn/ with format
// detection: no problem, and the expected records.
func TestRealFiles(t *testing.T) {
	dir := dataDir(t)
	seen := 0
	for _, sub := range []string{"ftm", "un-sc", "ofac-sdn"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".xsd") {
				continue
			}
			rel := sub + "/" + e.Name()
			t.Run(rel, func(t *testing.T) {
				want, ok := dataWant[rel]
				if !ok {
					t.Fatalf("no expected figures for %s: add them to dataWant", rel)
				}
				seen++
				res := readPath(t, filepath.Join(dir, rel), testOpts)
				checkClean(t, rel, res)
				if res.Format != want.format || res.Source != want.source {
					t.Errorf("format %q source %q, want %q %q", res.Format, res.Source, want.format, want.source)
				}
				if got := countBySchema(res); !reflect.DeepEqual(got, want.counts) {
					t.Errorf("records by type %v, want %v", got, want.counts)
				}
				if !reflect.DeepEqual(res.Deletes, want.deletes) {
					t.Errorf("deletes %v, want %v", res.Deletes, want.deletes)
				}
			})
		}
	}
	if seen != len(dataWant) {
		t.Errorf("read %d files, expected figures for %d", seen, len(dataWant))
	}
}

// TestOFACPrograms checks the programme counts of shared/data/README.txt
// and the Zimbabwe programme that ended between the two editions.
func TestOFACPrograms(t *testing.T) {
	dir := dataDir(t)
	for _, tc := range []struct {
		file string
		want map[string]int
	}{
		{"sdn-2024-02-28.csv", map[string]int{"SDGT": 2275, "SDNTK": 1439, "ILLICIT-DRUGS-EO14059": 272, "SDNT": 216,
			"TCO": 149, "FTO": 70, "GLOMAG": 681, "ZIMBABWE": 98, "RUSSIA-EO14024": 4120, "CAATSA - RUSSIA": 0}},
		{"sdn-2024-03-04.csv", map[string]int{"SDGT": 2275, "SDNTK": 1439, "ILLICIT-DRUGS-EO14059": 272, "SDNT": 216,
			"TCO": 149, "FTO": 70, "GLOMAG": 695, "ZIMBABWE": 0}},
	} {
		res := readPath(t, filepath.Join(dir, "ofac-sdn", tc.file), testOpts)
		got := map[string]int{}
		for _, r := range res.Records {
			for _, p := range r.Properties["program"] {
				got[p]++
			}
		}
		for prog, n := range tc.want {
			if prog == "CAATSA - RUSSIA" {
				// A programme name with spaces splits as one value.
				if got[prog] == 0 {
					t.Errorf("%s: no record in programme %q", tc.file, prog)
				}
				continue
			}
			if got[prog] != n {
				t.Errorf("%s: %d records in programme %s, want %d", tc.file, got[prog], prog, n)
			}
		}
	}
}

func byID(res *Result) map[string]*schema.Record {
	m := make(map[string]*schema.Record, len(res.Records))
	for _, r := range res.Records {
		m[r.ID] = r
	}
	return m
}

// editionDiff compares two editions of a list by id and content hash.
func editionDiff(old, new *Result) (added, removed, changed []string) {
	o, n := byID(old), byID(new)
	for id, r := range n {
		if p, ok := o[id]; !ok {
			added = append(added, id)
		} else if p.ContentHash() != r.ContentHash() {
			changed = append(changed, id)
		}
	}
	for id := range o {
		if _, ok := n[id]; !ok {
			removed = append(removed, id)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	return
}

func TestUNSCEditionDiff(t *testing.T) {
	dir := dataDir(t)
	old := readPath(t, filepath.Join(dir, "un-sc", "consolidated-2018-08-24.xml"), testOpts)
	new := readPath(t, filepath.Join(dir, "un-sc", "consolidated-2018-10-29.xml"), testOpts)
	added, removed, changed := editionDiff(old, new)
	// The ids are those whose XML differs (README: 3 added, 8 removed, 9
	// changed without a VERSIONNUM change).
	wantAdded := []string{"un-sc-6908715", "un-sc-6908726", "un-sc-6908742"}
	wantRemoved := []string{"un-sc-6908191", "un-sc-6908243", "un-sc-6908254", "un-sc-6908260", "un-sc-6908277",
		"un-sc-6908303", "un-sc-6908322", "un-sc-6908328"}
	wantChanged := []string{"un-sc-6908499", "un-sc-6908702", "un-sc-6908703", "un-sc-6908704", "un-sc-6908705",
		"un-sc-6908706", "un-sc-6908719", "un-sc-6908720", "un-sc-6908721"}
	if !reflect.DeepEqual(added, wantAdded) || !reflect.DeepEqual(removed, wantRemoved) || !reflect.DeepEqual(changed, wantChanged) {
		t.Errorf("added %v\nremoved %v\nchanged %v\nwant %v\n%v\n%v", added, removed, changed, wantAdded, wantRemoved, wantChanged)
	}
	o, n := byID(old), byID(new)
	for _, id := range changed {
		if a, b := versionNote(o[id]), versionNote(n[id]); a != b || a == "" {
			t.Errorf("%s: version note %q then %q; the README says VERSIONNUM did not change", id, a, b)
		}
	}
	// One of the changes, in detail: a comment that gained a notice number.
	if got := n["un-sc-6908720"].Properties["notes"][0]; !strings.HasSuffix(got, "/notice/search/un/6244376") {
		t.Errorf("un-sc-6908720 notes[0] = %q", got)
	}
}

func versionNote(r *schema.Record) string {
	for _, n := range r.Properties["notes"] {
		if strings.HasPrefix(n, "UN version: ") {
			return n
		}
	}
	return ""
}

func TestOFACEditionDiff(t *testing.T) {
	dir := dataDir(t)
	old := readPath(t, filepath.Join(dir, "ofac-sdn", "sdn-2024-02-28.csv"), testOpts)
	new := readPath(t, filepath.Join(dir, "ofac-sdn", "sdn-2024-03-04.csv"), testOpts)
	added, removed, changed := editionDiff(old, new)
	if len(added) != 2 || len(removed) != 86 || len(changed) != 12 {
		t.Fatalf("%d added, %d removed, %d changed; want 2, 86, 12", len(added), len(removed), len(changed))
	}
	o, n := byID(old), byID(new)
	// README: the Zimbabwe programme ended; 86 rows went, 12 were
	// re-designated under GLOMAG.
	for _, id := range removed {
		if !reflect.DeepEqual(o[id].Properties["program"], []string{"ZIMBABWE"}) {
			t.Errorf("removed %s was in %v, not ZIMBABWE", id, o[id].Properties["program"])
		}
	}
	for _, id := range changed {
		if !reflect.DeepEqual(o[id].Properties["program"], []string{"ZIMBABWE"}) ||
			!reflect.DeepEqual(n[id].Properties["program"], []string{"GLOMAG"}) {
			t.Errorf("changed %s: programme %v then %v", id, o[id].Properties["program"], n[id].Properties["program"])
		}
	}
}

// anyXML is a generic XML element, parsed independently of the reader.
type anyXML struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []anyXML   `xml:",any"`
}

// norm compares texts ignoring case and how white space is laid out.
func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// kept reports whether text is found in the record: inside a value of any
// property, or as the code of a country-typed property.
func kept(r *schema.Record, text string) bool {
	s, _ := schema.Get(r.Schema)
	code := countryCode(text)
	want := norm(text)
	for name, values := range r.Properties {
		p, _ := s.Prop(name)
		for _, v := range values {
			if strings.Contains(norm(v), want) || (p.Type == schema.TypeCountry && v == code) {
				return true
			}
		}
	}
	return false
}

// TestUNSCKeepsEveryField checks, against an independent parse of the XML,
// that the text of every element of every entry is in its record.
func TestUNSCKeepsEveryField(t *testing.T) {
	dir := dataDir(t)
	for _, file := range []string{"consolidated-2018-08-24.xml", "consolidated-2018-10-29.xml"} {
		path := filepath.Join(dir, "un-sc", file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var root anyXML
		if err := xml.Unmarshal(data, &root); err != nil {
			t.Fatal(err)
		}
		recs := byID(readPath(t, path, testOpts))
		checked := 0
		for _, section := range root.Kids {
			for _, e := range section.Kids {
				var id string
				for _, k := range e.Kids {
					if k.XMLName.Local == "DATAID" {
						id = "un-sc-" + strings.TrimSpace(k.Text)
					}
				}
				r := recs[id]
				if r == nil {
					t.Errorf("%s: no record %s", file, id)
					continue
				}
				var walk func(path string, n anyXML)
				walk = func(path string, n anyXML) {
					quality := ""
					if q := aliasQuality(r, n); q != "" {
						quality = q
					}
					for _, k := range n.Kids {
						p := path + "/" + k.XMLName.Local
						if k.XMLName.Local == "QUALITY" && strings.TrimSpace(k.Text) == quality {
							// Kept as the property the alias is in.
							continue
						}
						if k.XMLName.Local == "TYPE_OF_DATE" && strings.TrimSpace(k.Text) == "EXACT" && exactDate(r, n) {
							// An exact date is kept as the birth date itself.
							continue
						}
						if txt := strings.TrimSpace(k.Text); txt != "" && k.XMLName.Local != "DATAID" {
							checked++
							if !kept(r, txt) {
								t.Errorf("%s: %s: %s %q is in no property", file, id, p, txt)
							}
						}
						walk(p, k)
					}
				}
				walk(e.XMLName.Local, e)
			}
		}
		if checked < 10000 {
			t.Errorf("%s: only %d element texts checked", file, checked)
		}
	}
}

// aliasQuality returns the QUALITY of an alias element when its name is in
// the property that quality maps to: Good and a.k.a. to alias, Low to
// weakAlias, f.k.a. to previousName.
func aliasQuality(r *schema.Record, n anyXML) string {
	var q, name string
	for _, k := range n.Kids {
		switch k.XMLName.Local {
		case "QUALITY":
			q = strings.TrimSpace(k.Text)
		case "ALIAS_NAME":
			name = strings.Join(strings.Fields(k.Text), " ")
		}
	}
	prop := map[string]string{"Good": "alias", "a.k.a.": "alias", "Low": "weakAlias", "f.k.a.": "previousName"}[q]
	if prop == "" || name == "" {
		return ""
	}
	for _, v := range r.Properties[prop] {
		if v == name {
			return q
		}
	}
	return ""
}

// exactDate reports whether the DATE or YEAR of a date-of-birth element is
// a birth date of the record.
func exactDate(r *schema.Record, n anyXML) bool {
	for _, k := range n.Kids {
		if l := k.XMLName.Local; l == "DATE" || l == "YEAR" {
			for _, v := range r.Properties["birthDate"] {
				if v == strings.TrimSpace(k.Text) {
					return true
				}
			}
		}
	}
	return false
}

// TestOFACKeepsEveryColumn checks, against encoding/csv, that every
// non-empty column of every row is in its record.
func TestOFACKeepsEveryColumn(t *testing.T) {
	dir := dataDir(t)
	path := filepath.Join(dir, "ofac-sdn", "sdn-2024-02-28.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimSuffix(data, []byte{0x1a}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs := byID(readPath(t, path, testOpts))
	if len(rows) != len(recs) {
		t.Fatalf("%d rows, %d records", len(rows), len(recs))
	}
	for _, row := range rows {
		r := recs["ofac-"+row[0]]
		if r == nil {
			t.Errorf("no record for row %s", row[0])
			continue
		}
		for i, f := range row[1:] {
			col := ofacColumns[i+1]
			if strings.TrimSpace(f) == "-0-" || (col == "SDN_Type" && f == "individual") {
				continue
			}
			if col == "Program" {
				for _, p := range strings.Split(f, "] [") {
					if !kept(r, p) {
						t.Errorf("%s: programme %q lost", r.ID, p)
					}
				}
				continue
			}
			if col == "Tonnage" || col == "GRT" {
				f = strings.ReplaceAll(f, ",", "")
			}
			if !kept(r, f) {
				t.Errorf("%s: %s %q is in no property", r.ID, col, f)
			}
		}
	}
}

// ftmEntities returns the entity objects of an FtM file, as generic JSON:
// the lines of an entity file, the ADD and MOD entities of a delta file.
func ftmEntities(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if op, ok := m["op"]; ok {
			if op == "DEL" {
				continue
			}
			m = m["entity"].(map[string]any)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFtMRoundTrip reads every FtM file and writes it back with the ftm
// writer: the same entities, property values in the same order, every
// other key kept.
func TestFtMRoundTrip(t *testing.T) {
	dir := dataDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "ftm", "*.json"))
	if len(paths) < 7 {
		t.Fatalf("found only %d FtM files", len(paths))
	}
	for _, path := range paths {
		res := readPath(t, path, testOpts)
		var buf bytes.Buffer
		w, err := NewWriter(&buf, FtM)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%s: writer output %q: %v", path, line, err)
			}
			got = append(got, m)
		}
		want := ftmEntities(t, path)
		if len(got) != len(want) {
			t.Errorf("%s: wrote %d entities, the file has %d", filepath.Base(path), len(got), len(want))
			continue
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s: entity %d differs\n got %v\nwant %v", filepath.Base(path), i, got[i], want[i])
			}
		}
	}
}
