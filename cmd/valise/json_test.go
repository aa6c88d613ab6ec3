package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"valise/office"
)

// shapeBlock finds the shapes of docs/JSON.md: fenced blocks whose info
// string is "json shape=NAME".
var shapeBlock = regexp.MustCompile("(?ms)^```json shape=([a-z_]+)\n(.*?)^```")

// docShapes reads the shapes docs/JSON.md documents, by name.
func docShapes(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../../docs/JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string]any{}
	for _, m := range shapeBlock.FindAllSubmatch(data, -1) {
		var v any
		if err := json.Unmarshal(m[2], &v); err != nil {
			t.Fatalf("docs/JSON.md: shape %s is not JSON: %v", m[1], err)
		}
		if _, dup := shapes[string(m[1])]; dup {
			t.Fatalf("docs/JSON.md: two shapes named %s", m[1])
		}
		shapes[string(m[1])] = v
	}
	if len(shapes) == 0 {
		t.Fatal("docs/JSON.md has no shapes")
	}
	return shapes
}

// matchShape checks value v against shape s and returns every mismatch,
// each with its path in the document.
func matchShape(path string, s, v any) []string {
	switch s := s.(type) {
	case string:
		for _, typ := range strings.Split(s, "|") {
			if hasType(typ, v) {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %s is not %s", path, brief(v), s)}
	case []any:
		l, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not a list", path, brief(v))}
		}
		if len(s) != 1 {
			return []string{fmt.Sprintf("%s: the shape of a list must hold one shape", path)}
		}
		var out []string
		for i, e := range l {
			out = append(out, matchShape(fmt.Sprintf("%s[%d]", path, i), s[0], e)...)
		}
		return out
	case map[string]any:
		o, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s is not an object", path, brief(v))}
		}
		var out []string
		if any, ok := s["*"]; ok && len(s) == 1 {
			for k, e := range o {
				out = append(out, matchShape(path+"."+k, any, e)...)
			}
			return out
		}
		for k, sub := range s {
			name, optional := strings.CutSuffix(k, "?")
			e, ok := o[name]
			if !ok {
				if !optional {
					out = append(out, fmt.Sprintf("%s: member %q is missing", path, name))
				}
				continue
			}
			out = append(out, matchShape(path+"."+name, sub, e)...)
		}
		for k := range o {
			_, plain := s[k]
			_, opt := s[k+"?"]
			if !plain && !opt {
				out = append(out, fmt.Sprintf("%s: member %q is not documented", path, k))
			}
		}
		sort.Strings(out)
		return out
	}
	return []string{fmt.Sprintf("%s: bad shape %v", path, s)}
}

func hasType(typ string, v any) bool {
	switch typ {
	case "any":
		return true
	case "null":
		return v == nil
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "int":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "record":
		o, ok := v.(map[string]any)
		if !ok {
			return false
		}
		_, id := o["id"].(string)
		_, sch := o["schema"].(string)
		_, origin := o["origin"].(string)
		_, version := o["version"].(map[string]any)
		return id && sch && origin && version
	}
	return false
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	return string(b)
}

// TestJSONContract runs every command with --json, succeeding and failing,
// and checks that each prints one JSON document of the shape docs/JSON.md
// gives it; and that every command and every documented shape is covered.
func TestJSONContract(t *testing.T) {
	shapes := docShapes(t)
	dir := fastDir(t)
	kz, ca, kg := filepath.Join(dir, "kz"), filepath.Join(dir, "ca"), filepath.Join(dir, "kg")
	used := map[string]bool{}     // shapes checked
	commands := map[string]bool{} // commands run with --json
	// check runs valise with --json and checks its output against shape;
	// wantExit is the exit code it must end with.
	check := func(shape string, wantExit int, args ...string) map[string]any {
		t.Helper()
		args = append(args, "--json")
		code, out, errOut := valise(args...)
		return checkDoc(t, shapes, used, commands, shape, wantExit, args, code, out, errOut)
	}
	f := func(name, data string) string { return writeFile(t, dir, name, []byte(data)) }

	check("init", 0, "init", "--home", kz, "--agency", "KZ-NCB")
	check("init", 0, "--home", ca, "init", "--agency", "CARICC")
	check("init", 0, "init", "--home", kg, "--agency", "KG-NCB")
	cards := map[string]string{}
	for _, h := range []string{kz, ca, kg} {
		cards[h] = filepath.Join(dir, filepath.Base(h)+".card")
		check("card", 0, "card", "--home", h, "-o", cards[h])
	}
	check("card", 0, "card", "--home", kz)
	trust := func(home, peer string) {
		c, err := office.ReadCard(cards[peer])
		if err != nil {
			t.Fatal(err)
		}
		check("peer", 0, "peer", "add", "--home", home, cards[peer], "--fingerprint", c.Fingerprint())
	}
	trust(kz, ca)
	trust(kz, kg)
	trust(ca, kz)
	trust(ca, kg)
	trust(kg, kz)
	trust(kg, ca)
	check("peer_list", 0, "peer", "list", "--home", kz)

	recs := f("r.jsonl", `{"id":"p-1","schema":"Person","properties":{"name":["Ivan Petrov"],"birthDate":["1975-03-02"],"nationality":["KZ"]}}
{"id":"p-2","schema":"Person","properties":{"name":["Aigul Serikova"],"passportNumber":["N1234567"]},"handling":{"tlp":"red","releasable_to":["KZ-NCB","CARICC"]}}
{"id":"p-3","schema":"Person","properties":{"name":["Aigul Serikova"],"passportNumber":["N1234567"]}}
{"id":"m-1","schema":"Membership","properties":{"member":["p-1"],"organization":["o-1"]}}
`)
	check("ingest", 0, "ingest", "--home", kz, recs)
	check("ingest", exitInvalid, "ingest", "--home", kz, f("bad.jsonl", `{"id":"b-1","schema":"Person","properties":{}}`+"\n"))
	check("error", exitUsage, "ingest", "--home", kz, "--tlp", "purple", recs)
	check("edit", 0, "edit", "--home", kz, "p-1", "--add", "alias=Vanya")
	check("show", 0, "show", "--home", kz, "--history", "p-1")
	check("error", exitError, "show", "--home", kz, "nobody")

	b1 := filepath.Join(dir, "b1.valise")
	pack := check("pack", 0, "pack", "--home", kz, "--to", "CARICC,KG-NCB", "-o", b1)
	if n := len(pack["sent_records"].([]any)); n == 0 {
		t.Errorf("pack --json lists no record sent")
	}
	bundles := pack["bundles"].([]any)
	if len(bundles) != 2 {
		t.Fatalf("pack --json: %d bundles, want the joint one and one for CARICC", len(bundles))
	}
	b1ca := bundles[1].(map[string]any)["file"].(string)
	check("verify", 0, "verify", "--home", ca, b1, b1ca)
	check("import", 0, "import", "--home", ca, b1, b1ca)
	check("import", 0, "import", "--home", kg, "--dry-run", b1)
	check("import", exitReplay, "import", "--home", ca, b1)
	check("import", 0, "import", "--home", kg, b1)
	tampered := f("t.valise", "")
	data, _ := os.ReadFile(b1)
	data[len(data)/2] ^= 1
	os.WriteFile(tampered, data, 0o644)
	check("verify", exitAuth, "verify", "--card", cards[kz], tampered)

	// A conflict: both change p-1's birth date, then exchange.
	check("edit", 0, "edit", "--home", kz, "p-1", "--set", "birthDate=1975-03-12")
	check("edit", 0, "edit", "--home", ca, "p-1", "--set", "birthDate=1976-03-02")
	b2, b3 := filepath.Join(dir, "b2.valise"), filepath.Join(dir, "b3.valise")
	check("pack", 0, "pack", "--home", kz, "--to", "CARICC", "-o", b2, "--report", filepath.Join(dir, "b2.report"))
	check("pack", 0, "pack", "--home", ca, "--to", "KZ-NCB", "-o", b3)
	check("import", 0, "import", "--home", ca, b2, "--report", filepath.Join(dir, "b2.in.report"))
	check("import", 0, "import", "--home", kz, b3)
	check("conflicts", 0, "conflicts", "--home", kz)
	check("show", 0, "show", "--home", kz, "p-1")
	check("edit", 0, "resolve", "--home", kz, "p-1", "--theirs")
	check("edit", 0, "delete", "--home", kz, "m-1")
	check("duplicates", 0, "duplicates", "--home", kz)
	check("edit", 0, "judge", "--home", kz, "p-2", "p-3", "--not-same")

	check("export", 0, "export", "--home", kz)
	check("export", 0, "export", "--home", kz, "--format", "ftm", "--include-restricted")
	check("export_file", 0, "export", "--home", kz, "-o", filepath.Join(dir, "out.jsonl"))
	check("error", exitUsage, "export", "--home", kz, "--format", "csv")
	check("log", 0, "log", "--home", kz)
	check("status", 0, "status", "--home", kz)
	check("disclosures", 0, "disclosures", "--home", ca, "p-1")
	check("disclosures", 0, "disclosures", "--home", kz, "p-1@KZ-NCB")
	check("audit", 0, "audit", "--home", kz)
	export := filepath.Join(dir, "audit.txt")
	check("audit_export", 0, "audit", "--home", kz, "--export", export)
	check("audit_check", 0, "audit", "--check", export, "--card", cards[kz])
	check("key", 0, "key", "--home", kg, "rotate")
	check("key_statements", 0, "key", "--home", kg, "statements", "-o", filepath.Join(dir, "kg.statements"))
	check("peer", 0, "peer", "revoke", "--home", kg, "CARICC")
	check("version", 0, "version")
	check("version", 0, "--version")

	// Usage errors are errors too, whatever the command.
	check("error", exitUsage, "frobnicate")
	check("error", exitUsage, "pack", "--home", kz, "--frobnicate")
	check("error", exitUsage, "pack", "--home", kz)
	check("error", exitUsage, "show", "--home", kz)
	check("error", exitUsage)
	check("error", exitError, "status", "--home", filepath.Join(dir, "nowhere"))

	// demo runs this binary as a subprocess: it needs the valise on PATH.
	code, out, errOut := binRun(t, "demo", "--json")
	checkDoc(t, shapes, used, commands, "demo", 0, []string{"demo", "--json"}, code, out, errOut)

	for _, c := range commands0() {
		if !commands[c] {
			t.Errorf("valise %s was not run with --json", c)
		}
	}
	for name := range shapes {
		if !used[name] {
			t.Errorf("docs/JSON.md: shape %s was not checked against any output", name)
		}
	}
}

// commands0 lists the registered commands.
func commands0() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.name)
	}
	return out
}

// checkDoc checks one command's output: its exit code, one JSON document
// of the shape named, and nothing after it.
func checkDoc(t *testing.T, shapes map[string]any, used, commands map[string]bool, shape string, wantExit int, args []string, code int, out, errOut string) map[string]any {
	t.Helper()
	cmd := strings.Join(args, " ")
	if code != wantExit {
		t.Fatalf("valise %s: exit %d, want %d\n%s%s", cmd, code, wantExit, out, errOut)
	}
	for _, a := range args {
		if find(a) != nil {
			commands[a] = true
			break
		}
	}
	s, ok := shapes[shape]
	if !ok {
		t.Fatalf("docs/JSON.md has no shape %s", shape)
	}
	used[shape] = true
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("valise %s: output is not JSON: %v\n%s", cmd, err, out)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		t.Fatalf("valise %s: more than one JSON document, or trailing bytes:\n%s", cmd, out)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("valise %s: the document is not an object:\n%s", cmd, out)
	}
	if fv, _ := doc["format_version"].(json.Number); fv.String() != fmt.Sprint(jsonFormatVersion) {
		t.Errorf("valise %s: format_version %v, want %d", cmd, doc["format_version"], jsonFormatVersion)
	}
	if wantExit != 0 {
		e, _ := doc["exit"].(json.Number)
		if e.String() != fmt.Sprint(wantExit) {
			t.Errorf("valise %s: the document says exit %v, the command exited %d", cmd, doc["exit"], wantExit)
		}
		if eo, ok := doc["error"].(map[string]any); !ok || eo["class"] != exitClasses[wantExit] {
			t.Errorf("valise %s: the document's error is %v, want class %s", cmd, doc["error"], exitClasses[wantExit])
		}
	}
	for _, m := range matchShape(shape, s, v) {
		t.Errorf("valise %s: %s", cmd, m)
	}
	return doc
}
