package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"valise/formats"
	"valise/schema"
)

// ftmValidator checks entities against FtM's schema definition as FtM
// states it, read here on its own (not through the generated model), so
// that it can catch what the generator and package schema get wrong.
type ftmValidator struct {
	schemata  map[string]map[string]any // name → its YAML mapping
	props     map[string]map[string]vprop
	countries map[string]bool
	topics    map[string]bool
}

type vprop struct {
	typ  string
	stub bool
}

var ftmID = regexp.MustCompile(`^[0-9a-zA-Z]([0-9a-zA-Z.\-]*[0-9a-zA-Z])?$`)

func newValidator(t *testing.T, dir string) *ftmValidator {
	v := &ftmValidator{schemata: map[string]map[string]any{}, props: map[string]map[string]vprop{},
		countries: lines(t, filepath.Join(dir, "countries.txt")), topics: lines(t, filepath.Join(dir, "topics.txt"))}
	files, _ := filepath.Glob(filepath.Join(dir, "schema", "*.y*ml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for k, s := range m {
			v.schemata[k] = s
		}
	}
	// Own properties, then the reverses on their ranges, then what each
	// schema inherits.
	own := map[string]map[string]vprop{}
	for name, s := range v.schemata {
		own[name] = map[string]vprop{}
		props, _ := s["properties"].(map[string]any)
		for pn, p := range props {
			pm, _ := p.(map[string]any)
			typ, _ := pm["type"].(string)
			if typ == "" {
				typ = "string"
			}
			own[name][pn] = vprop{typ: typ}
		}
	}
	for _, s := range v.schemata {
		props, _ := s["properties"].(map[string]any)
		for _, p := range props {
			pm, _ := p.(map[string]any)
			rev, _ := pm["reverse"].(map[string]any)
			rng, _ := pm["range"].(string)
			if rn, _ := rev["name"].(string); rn != "" {
				if _, ok := own[rng][rn]; !ok {
					own[rng][rn] = vprop{typ: "entity", stub: true}
				}
			}
		}
	}
	var all func(name string) map[string]vprop
	all = func(name string) map[string]vprop {
		if p, ok := v.props[name]; ok {
			return p
		}
		out := map[string]vprop{}
		ext, _ := v.schemata[name]["extends"].([]any)
		for _, e := range ext {
			for k, p := range all(e.(string)) {
				out[k] = p
			}
		}
		for k, p := range own[name] {
			out[k] = p
		}
		v.props[name] = out
		return out
	}
	for name := range v.schemata {
		all(name)
	}
	return v
}

func lines(t *testing.T, path string) map[string]bool {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range strings.Fields(string(data)) {
		out[l] = true
	}
	return out
}

// validDate accepts FtM's date prefixes: 2024, 2024-05, 2024-05-27, and a
// time to the hour, minute or second.
func validDate(s string) bool {
	for _, layout := range []string{"2006", "2006-01", "2006-01-02", "2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// violations returns what is wrong with one FtM entity line, each as
// "schema.property: rule".
func (v *ftmValidator) violations(line []byte) []string {
	var e struct {
		ID         string              `json:"id"`
		Schema     string              `json:"schema"`
		Properties map[string][]string `json:"properties"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return []string{"not an entity: " + err.Error()}
	}
	var out []string
	bad := func(prop, rule string) { out = append(out, e.Schema+"."+prop+": "+rule) }
	s, ok := v.schemata[e.Schema]
	if !ok {
		return []string{"unknown schema " + e.Schema}
	}
	if abs, _ := s["abstract"].(bool); abs {
		bad("", "abstract schema")
	}
	if !ftmID.MatchString(e.ID) {
		bad("id", "not an FtM entity id")
	}
	props := v.props[e.Schema]
	for name, values := range e.Properties {
		p, ok := props[name]
		switch {
		case !ok:
			bad(name, "no such property")
			continue
		case p.stub && len(values) > 0:
			bad(name, "reverse property with values")
			continue
		}
		for _, val := range values {
			good := true
			switch p.typ {
			case "date":
				good = validDate(val)
			case "country":
				good = v.countries[val]
			case "topic":
				good = v.topics[val]
			case "gender":
				good = val == "male" || val == "female" || val == "other"
			case "entity":
				good = ftmID.MatchString(val)
			}
			if !good {
				bad(name, fmt.Sprintf("%q is not a %s", val, p.typ))
			}
		}
	}
	req, _ := s["required"].([]any)
	for _, r := range req {
		if len(e.Properties[r.(string)]) == 0 {
			bad(r.(string), "required")
		}
	}
	return out
}

// TestExportIsValidFtM reads the FtM files, both UN editions and both
// OFAC editions through formats.Stream, writes every record with the ftm
// writer, as `valise export --format ftm` does, and checks each entity
// against the definition: the only violations allowed are those the
// input itself has (a Passport without a number, a property of a newer
// FtM release in OpenSanctions data).
func TestExportIsValidFtM(t *testing.T) {
	dir := ftmDir(t)
	v := newValidator(t, dir)
	data := filepath.Dir(dir)
	var files []string
	for _, pattern := range []string{"ftm/*.json", "un-sc/*.xml", "ofac-sdn/*.csv"} {
		m, _ := filepath.Glob(filepath.Join(data, pattern))
		files = append(files, m...)
	}
	if len(files) != 11 {
		t.Fatalf("%d data files, want 11", len(files))
	}
	inputViolations := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			for _, line := range fileLines(t, f) {
				if bytes.Contains(line, []byte(`"op"`)) {
					var d struct {
						Op     string          `json:"op"`
						Entity json.RawMessage `json:"entity"`
					}
					if json.Unmarshal(line, &d) == nil && d.Entity != nil {
						if d.Op == "DEL" {
							continue
						}
						line = d.Entity
					}
				}
				for _, p := range v.violations(line) {
					inputViolations[p]++
				}
			}
		}
	}
	entities, violations := 0, map[string]int{}
	for _, f := range files {
		var buf bytes.Buffer
		w, err := formats.NewWriter(&buf, formats.FtM)
		if err != nil {
			t.Fatal(err)
		}
		opts := formats.Options{Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = formats.Stream(filepath.Base(f), fh, opts, func(it formats.Item) error {
			if it.Problem != nil {
				t.Errorf("%v", it.Problem)
			}
			if it.Record != nil {
				return w.Write(it.Record)
			}
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			entities++
			for _, p := range v.violations(line) {
				violations[p]++
			}
		}
	}
	var caused []string
	for p, n := range violations {
		if n > inputViolations[p] {
			caused = append(caused, fmt.Sprintf("%s (%d)", p, n-inputViolations[p]))
		}
	}
	sort.Strings(caused)
	for i, c := range caused {
		if i == 20 {
			t.Errorf("… %d kinds of violation in all", len(caused))
			break
		}
		t.Errorf("export violates FtM: %s", c)
	}
	// The inputs' own: the Passport without a number (zala) and
	// Company.abbreviation, a property of a later FtM release.
	if len(inputViolations) != 2 || inputViolations["Passport.number: required"] != 1 ||
		inputViolations["Company.abbreviation: no such property"] != 1 {
		t.Errorf("violations in the input files: %v", inputViolations)
	}
	if entities < 70000 {
		t.Errorf("only %d entities exported", entities)
	}
}

func fileLines(t *testing.T, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
