package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"valise/office"
)

// TestConflictSuggestionsWork makes every kind of conflict — two offices
// writing one property, three offices writing it three ways, a deletion
// against an edit — and runs every command valise conflicts suggests for
// each, on a copy of the office: each must succeed and close the
// conflict. A resolution then travels to the other office, which
// fast-forwards with no conflict left.
func TestConflictSuggestionsWork(t *testing.T) {
	dir := fastDir(t)
	homes := map[string]string{}
	cards := map[string]string{}
	for _, a := range []string{"KZ-NCB", "CARICC", "KG-NCB"} {
		homes[a] = filepath.Join(dir, strings.ToLower(a))
		cards[a] = homes[a] + ".card"
		mustValise(t, "init", "--home", homes[a], "--agency", a)
		mustValise(t, "card", "--home", homes[a], "-o", cards[a])
	}
	for a := range homes {
		for b := range homes {
			if a != b {
				c, err := office.ReadCard(cards[b])
				if err != nil {
					t.Fatal(err)
				}
				mustValise(t, "peer", "add", "--home", homes[a], cards[b], "--fingerprint", c.Fingerprint())
			}
		}
	}
	n := 0
	send := func(from, to string) {
		n++
		b := filepath.Join(dir, fmt.Sprintf("b%d.valise", n))
		mustValise(t, "pack", "--home", homes[from], "--to", to, "-o", b)
		mustValise(t, "import", "--home", homes[to], b)
	}
	recs := writeFile(t, dir, "r.jsonl", []byte(`{"id":"p-1","schema":"Person","properties":{"name":["Ivan Petrov"],"birthDate":["1975-03-02"]}}
{"id":"p-2","schema":"Person","properties":{"name":["Aigul Serikova"],"birthDate":["1980"]}}
{"id":"o-1","schema":"Organization","properties":{"name":["Steppe Transit LLP"]}}
{"id":"m-1","schema":"Membership","properties":{"member":["p-1"],"organization":["o-1"],"role":["director"]}}
`))
	mustValise(t, "ingest", "--home", homes["KZ-NCB"], recs)
	send("KZ-NCB", "CARICC")
	send("KZ-NCB", "KG-NCB")
	// p-1: KZ-NCB and CARICC write birthDate (a conflict of two).
	// p-2: all three write birthDate, three ways (a split).
	// m-1: KZ-NCB deletes it, CARICC changes its role (delete/modify).
	mustValise(t, "edit", "--home", homes["KZ-NCB"], "p-1", "--set", "birthDate=1975-03-12")
	mustValise(t, "edit", "--home", homes["CARICC"], "p-1", "--set", "birthDate=1976-03-02")
	mustValise(t, "edit", "--home", homes["KZ-NCB"], "p-2", "--set", "birthDate=1980-01-01")
	mustValise(t, "edit", "--home", homes["CARICC"], "p-2", "--set", "birthDate=1981")
	mustValise(t, "edit", "--home", homes["KG-NCB"], "p-2", "--set", "birthDate=1982")
	mustValise(t, "delete", "--home", homes["KZ-NCB"], "m-1")
	mustValise(t, "edit", "--home", homes["CARICC"], "m-1", "--set", "role=accountant")
	send("KZ-NCB", "CARICC")
	send("KG-NCB", "CARICC")

	ca := homes["CARICC"]
	type conflict struct {
		ID, Property, Kind string
		Resolve            []string
	}
	conflicts := func(home string) []conflict {
		var doc struct{ Conflicts []conflict }
		if err := json.Unmarshal([]byte(mustValise(t, "conflicts", "--home", home, "--json")), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Conflicts
	}
	open := conflicts(ca)
	kinds := map[string]string{}
	for _, c := range open {
		kinds[c.ID+" "+c.Property] = c.Kind
	}
	want := map[string]string{"p-1 birthDate": "conflict", "p-2 birthDate": "conflict", "m-1 @deleted": "delete/modify"}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("CARICC's conflicts: %s is %q, want %q (all: %v)", k, kinds[k], v, kinds)
		}
	}
	// The suggestions of each kind, as they should be.
	wantCmds := map[string][]string{
		"p-1": {"--ours", "--theirs", "--set birthDate=VALUE"},
		"p-2": {"--ours", "--take KG-NCB", "--take KZ-NCB", "--set birthDate=VALUE"},
		"m-1": {"--keep", "--delete"},
	}
	tried := 0
	for _, c := range open {
		for _, w := range wantCmds[c.ID] {
			found := false
			for _, s := range c.Resolve {
				found = found || strings.HasSuffix(s, " "+w)
			}
			if !found {
				t.Errorf("conflicts suggests for %s %s: %q, none ends in %q", c.ID, c.Property, c.Resolve, w)
			}
		}
		for i, s := range c.Resolve {
			args := strings.Fields(strings.ReplaceAll(s, "=VALUE", "=1979-04-12"))
			if args[0] != "valise" {
				t.Fatalf("suggestion %q is not a valise command", s)
			}
			copyHome := filepath.Join(dir, fmt.Sprintf("try-%s-%d", c.ID, i))
			copyTree(t, ca, copyHome)
			args = append(args[1:], "--home", copyHome)
			if code, out, errOut := valise(args...); code != 0 {
				t.Errorf("suggested %q fails: exit %d\n%s%s", s, code, out, errOut)
				continue
			}
			tried++
			for _, left := range conflicts(copyHome) {
				if left.ID == c.ID && left.Property == c.Property {
					t.Errorf("after %q the conflict on %s %s is still open", s, c.ID, c.Property)
				}
			}
			// What --keep and --delete leave.
			show := mustValise(t, "show", "--home", copyHome, c.ID)
			switch {
			case slices.Contains(args, "--keep") && (strings.Contains(show, "DELETED") || !strings.Contains(show, `"accountant"`)):
				t.Errorf("after --keep m-1 should be alive with CARICC's role:\n%s", show)
			case slices.Contains(args, "--delete") && !strings.Contains(show, "DELETED"):
				t.Errorf("after --delete m-1 should be deleted:\n%s", show)
			}
		}
	}
	if tried < 9 {
		t.Errorf("%d suggested commands ran, want at least 9", tried)
	}

	// Resolved for real at CARICC, each way, the resolutions fast-forward
	// at KZ-NCB and KG-NCB: no conflict anywhere.
	mustValise(t, "resolve", "--home", ca, "p-1", "--theirs")
	mustValise(t, "resolve", "--home", ca, "p-2", "--take", "kg-ncb")
	mustValise(t, "resolve", "--home", ca, "m-1", "--keep")
	if left := conflicts(ca); len(left) != 0 {
		t.Fatalf("CARICC still has conflicts: %+v", left)
	}
	send("CARICC", "KZ-NCB")
	send("CARICC", "KG-NCB")
	for _, a := range []string{"KZ-NCB", "KG-NCB"} {
		if left := conflicts(homes[a]); len(left) != 0 {
			t.Errorf("%s has conflicts after CARICC's resolutions: %+v", a, left)
		}
		show := mustValise(t, "show", "--home", homes[a], "p-2")
		if !strings.Contains(show, `"1982"`) {
			t.Errorf("%s: p-2 should have KG-NCB's birth date after --take KG-NCB:\n%s", a, show)
		}
	}
	os.RemoveAll(dir)
}
