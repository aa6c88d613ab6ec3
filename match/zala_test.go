package match_test

import (
	"fmt"
	"strings"
	"testing"

	"valise/match"
	"valise/schema"
)

// The zala file holds OpenSanctions' consolidated entities around Zala
// Aero; their referents name the OFAC rows they merge by the ids valise
// gives those rows. Every zala person and company whose referents name a
// row of the 2024-03-04 list must be paired with it. (Limited Liability
// Company Unmanned Systems names ofac-49352, designated after that day.)
func TestZalaReferents(t *testing.T) {
	ofac := readList(t, ofacFile)
	zala := readList(t, zalaFile)
	held := map[string]bool{}
	for _, r := range ofac {
		held[r.ID] = true
	}
	want := map[[2]string]string{} // pair → schema of the zala record
	for _, r := range zala {
		if r.Schema != "Person" && r.Schema != "Company" {
			continue
		}
		var refs []string
		if raw, ok := r.Extra["referents"]; ok {
			for _, ref := range strings.Split(strings.Trim(string(raw), "[]"), ",") {
				ref = strings.Trim(strings.TrimSpace(ref), `"`)
				if strings.HasPrefix(ref, "ofac-") && held[ref] {
					refs = append(refs, ref)
				}
			}
		}
		for _, ref := range refs {
			want[sortedPair(r.ID, ref)] = r.Schema
		}
	}
	persons, companies := 0, map[string]bool{}
	for p, s := range want {
		if s == "Person" {
			persons++
		} else {
			companies[p[0]+p[1]] = true
		}
	}
	if persons != 5 || len(want)-persons != 4 {
		t.Fatalf("zala names %d persons and %d company pairs with OFAC rows held, want 5 and 4 (the file changed?)", persons, len(want)-persons)
	}
	for _, withRefs := range []bool{true, false} {
		recs := append(append([]*schema.Record{}, ofac...), zala...)
		if !withRefs {
			recs = recs[:len(ofac)]
			for _, r := range zala {
				c := r.Clone()
				delete(c.Extra, "referents")
				recs = append(recs, c)
			}
		}
		pairs, _ := runMatcher(t, recs, match.DefaultMinScore)
		got := map[[2]string]*match.Pair{}
		for _, p := range pairs {
			got[sortedPair(p.A.ID, p.B.ID)] = p
		}
		found := 0
		for p, s := range want {
			g := got[p]
			switch {
			case g == nil && withRefs:
				t.Errorf("%s %s and %s not paired although its referents name the row", s, p[0], p[1])
			case g == nil:
				t.Logf("without referents: %s %s and %s not paired", s, p[0], p[1])
			case withRefs && (g.Score != 1 || g.Evidence[0].Kind != "referents"):
				t.Errorf("%s and %s: score %.2f, evidence %v; want 1 from referents", p[0], p[1], g.Score, g.Evidence)
			default:
				found++
				if !withRefs {
					t.Logf("without referents: %.2f %s ~ %s: %s", g.Score, g.A.Name, g.B.Name, evidenceLine(g))
				}
			}
		}
		// Without referents the names, dates and identifiers must still
		// find most of them: the referents are not doing all the work.
		if !withRefs && found < 7 {
			t.Errorf("without referents %d of %d zala pairs found, want at least 7", found, len(want))
		}
	}
}

func sortedPair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

func evidenceLine(p *match.Pair) string {
	var parts []string
	for _, e := range p.Evidence {
		parts = append(parts, fmt.Sprintf("%+.2f %s", e.Weight, e.Text))
	}
	return strings.Join(parts, "; ")
}
