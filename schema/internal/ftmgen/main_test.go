package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ftmDir finds ../shared/data/ftm-schema above the package directory, or
// $VALISE_TESTDATA/ftm-schema.
func ftmDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("VALISE_TESTDATA"); d != "" {
		return filepath.Join(d, "ftm-schema")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data", "ftm-schema")
		if _, err := os.Stat(filepath.Join(cand, "countries.txt")); err == nil {
			return cand
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	t.Skip("FtM schema definition not found: no shared/data/ftm-schema above " + wd +
		" (a clone without the test data; set VALISE_TESTDATA to its directory)")
	return ""
}

// TestGenerated fails when the committed model (schema/ftm_gen.go) is not
// what the definition gives: run go generate in package schema.
func TestGenerated(t *testing.T) {
	want, err := generate(ftmDir(t), "3.8.4")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "ftm_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("schema/ftm_gen.go differs from the definition at line %d:\n have %q\n want %q\n(run go generate ./schema)", i+1, g, w)
			}
		}
	}
}

// TestGenerateRefuses checks that a definition that does not hold
// together is refused, not written.
func TestGenerateRefuses(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown parent", "A:\n  extends: [B]\n", "extends unknown B"},
		{"unknown type", "A:\n  properties:\n    x:\n      type: colour\n", `unknown type "colour"`},
		{"unknown range", "A:\n  properties:\n    x:\n      type: entity\n      range: B\n", "unknown range B"},
		{"missing required", "A:\n  required: [x]\n", "requires x"},
		{"bad edge", "A:\n  edge:\n    source: x\n    target: y\n", "edge x → y"},
		{"reverse clash", "A:\n  properties:\n    x:\n      type: entity\n      range: A\n      reverse:\n        name: x\n", "already a property"},
	} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "schema"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"schema/A.yaml": tc.yaml, "countries.txt": "kz\n", "topics.txt": "sanction\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := generate(dir, "0"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
