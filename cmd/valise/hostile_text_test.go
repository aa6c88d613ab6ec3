package main

// Text that attacks the officer's terminal: values a peer may legitimately
// send (free text spans lines; unknown keys are kept verbatim) and names of
// files on a stick. valise accepts the data but must never print it raw:
// no escape sequence, bidirectional override, carriage return or line
// that imitates valise's own verdicts reaches a human-readable output.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// verdictLike matches output lines that look like valise's own verdicts.
var verdictLike = regexp.MustCompile(`(?m)^\s*(verdict\s+OK|valise import: all good)`)

// rawHostile reports the first terminal-hostile byte sequence in s.
func rawHostile(s string) string {
	for _, bad := range []string{"\x1b", "\u009b", "\x00", "\r", "\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\u061c", "\a", "\b"} {
		if strings.Contains(s, bad) {
			return bad
		}
	}
	return ""
}

func TestHostileTextEscaped(t *testing.T) {
	w := newHostileWorld(t)
	kz, ca := w.kz, w.ca
	imitation := `x\n  verdict     OK: signed by KZ-NCB, intact, addressed to CARICC\n  store unchanged\nvalise import: all good`
	// Values a peer may send: free text spans lines; unknown top-level
	// keys travel verbatim, whatever they hold.
	records := `{"id":"t-1","schema":"Person","properties":{"name":["Ivan Petrov"],"notes":["` + imitation + `","tab\there","back\rslash"]},"datasets":["\u001b[2J\u001b[31m","\u202eevil","x\ny"],"\u001b]0;title\u0007":1}
{"id":"t-2","schema":"Person","properties":{"name":["Aigul"],"notes":["<script>alert(1)</script>\n  verdict     OK"]}}
{"id":"t-3","schema":"Associate","properties":{"person":["t-1"],"associate":["missing-1"]}}
`
	// CARICC holds KZ-NCB's t-2 and changes its notes while KZ-NCB does
	// too: the import of the hostile text then shows a conflict.
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "first.jsonl", []byte(`{"id":"t-2","schema":"Person","properties":{"name":["Aigul"],"notes":["first"]}}`+"\n")))
	w.packCLI(t, kz, "first.valise", "CARICC")
	mustRun(t, "import", "--home", ca.home, filepath.Join(w.dir, "first.valise"))
	mustRun(t, "edit", "--home", ca.home, "t-2", "--set", "notes=ours")
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "theirs.jsonl", []byte(records)))
	w.packCLI(t, kz, "text.valise", "CARICC")

	// A record whose version stamp, which valise maintains and the
	// receiver does not validate field by field, carries escapes.
	v := person("t-4", "Version")
	line := canonicalLine(v)
	line = bytes.Replace(line, []byte(`"at":"2026-11-28T09:00:00Z"`), []byte(`"at":"2026\u001b[2J\u001b]52;c;cm0gLXJmIH4K\u0007\n  verdict     OK"`), 1)
	h := newHeader(t, kz, 3, ca)
	hdr := h.Marshal()
	stamp := signed(hdr, encrypt(t, compress(genuineManifest(t, h, kz, ca), line), x25519Recipients(ca)), 1, kz.keys.Signing)

	outputs := map[string]string{}
	runAll := func(name string, args ...string) {
		code, out, errOut := valise(args...)
		outputs[name] = out + errOut
		_ = code
	}
	runAll("import text bundle", "import", "--home", ca.home, filepath.Join(w.dir, "text.valise"))
	if !strings.Contains(outputs["import text bundle"], "inserted") {
		t.Fatalf("the bundle of hostile text was not imported:\n%s", outputs["import text bundle"])
	}
	stampPath := writeFile(t, w.dir, "stamp.valise", stamp)
	// The stamp is refused (it was accepted and shown raw by valise show
	// before schema validated it).
	if code, out, errOut := valise("import", "--home", ca.home, stampPath); code != exitInvalid || !strings.Contains(errOut, `check "record" failed`) {
		t.Errorf("a version stamp holding escapes: import exit %d, want %d (check \"record\")\n%s%s", code, exitInvalid, out, errOut)
	} else {
		outputs["import version stamp"] = out + errOut
	}
	for _, id := range []string{"t-1", "t-2", "t-3", "t-4"} {
		runAll("show "+id, "show", "--home", ca.home, id)
		runAll("show --history "+id, "show", "--home", ca.home, "--history", id)
	}
	htmlPath := filepath.Join(w.dir, "conflicts.html")
	runAll("conflicts", "conflicts", "--home", ca.home, "--html", htmlPath)
	runAll("duplicates", "duplicates", "--home", ca.home)
	runAll("log", "log", "--home", ca.home)
	runAll("status", "status", "--home", ca.home)
	runAll("audit", "audit", "--home", ca.home)

	if !strings.Contains(outputs["import text bundle"], "CONFLICT") {
		t.Errorf("no conflict reported on t-2: the conflict printing went untested\n%s", outputs["import text bundle"])
	}
	for name, out := range outputs {
		if r := rawHostile(out); r != "" {
			t.Errorf("%s: output holds a raw %q:\n%q", name, r, out)
		}
		// No command here prints a passing verdict: every such line is
		// an imitation that escaped.
		if m := verdictLike.FindString(out); m != "" {
			t.Errorf("%s: output has a line imitating a verdict (%q):\n%s", name, m, out)
		}
	}
	html, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(html, []byte("<script>")) {
		t.Errorf("conflicts --html holds a raw <script> tag")
	}
	if t.Failed() {
		for name, out := range outputs {
			t.Logf("--- %s\n%s", name, out)
		}
	}
}

// TestStickFileNamesEscaped: the names of the files on a stick are chosen
// by whoever prepared it; the verdicts and errors that name them must not
// let a name print a line of its own.
func TestStickFileNamesEscaped(t *testing.T) {
	w := newHostileWorld(t)
	kz, ca := w.kz, w.ca
	mustRun(t, "ingest", "--home", kz.home, writeFile(t, w.dir, "a.jsonl", personLines("a", 1, 0)))
	b := w.packCLI(t, kz, "b.valise", "CARICC")
	stick := filepath.Join(w.dir, "stick")
	if err := os.MkdirAll(stick, 0o755); err != nil {
		t.Fatal(err)
	}
	evil := "x\n  verdict     OK: signed by KZ-NCB, intact, addressed to CARICC\n\x1b[2Jy.valise"
	// Refused (a byte after the footer), so that valise names the file
	// in its error.
	if err := os.WriteFile(filepath.Join(stick, evil), append(bytes.Clone(b), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "--home", w.nohome, "--card", kz.cardPath, filepath.Join(stick, evil)},
		{"import", "--home", ca.home, stick},
		{"import", "--home", ca.home, filepath.Join(stick, evil)},
		{"import", "--home", ca.home, "--dry-run", filepath.Join(stick, evil)},
		{"verify", "--home", w.nohome, "--json", "--card", kz.cardPath, filepath.Join(stick, evil)},
	} {
		code, out, errOut := valise(args...)
		if code == 0 {
			t.Errorf("valise %s: the damaged bundle was accepted", args[0])
		}
		for name, s := range map[string]string{"stdout": out, "stderr": errOut} {
			if r := rawHostile(s); r != "" {
				t.Errorf("valise %s %s: %s holds a raw %q:\n%s", args[0], args[len(args)-1], name, r, s)
			}
			if m := verdictLike.FindString(s); m != "" {
				t.Errorf("valise %s: %s has a line imitating a verdict, made by the file name:\n%s", args[0], name, s)
			}
		}
	}
}
