package match_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"valise/formats"
	"valise/match"
	"valise/schema"
)

// The real lists the evaluation runs on (see ../shared/data/README.txt).
var (
	dataDir  = filepath.Join("..", "..", "shared", "data")
	unFile   = filepath.Join(dataDir, "un-sc", "consolidated-2018-10-29.xml")
	ofacFile = filepath.Join(dataDir, "ofac-sdn", "sdn-2024-03-04.csv")
	zalaFile = filepath.Join(dataDir, "ftm", "zala.entities.ftm.json")
)

// readList reads a list file as an office ingests it.
func readList(t testing.TB, path string) []*schema.Record {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("real test data not here (%s): it lives in ../shared/data beside the repository, as on CI", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*schema.Record
	_, err = formats.Stream(path, f, formats.Options{Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}, func(it formats.Item) error {
		if it.Problem != nil {
			return it.Problem
		}
		if it.Record != nil {
			recs = append(recs, it.Record)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// refPair is a UN↔OFAC pair of the reference.
type refPair struct {
	un, ofac string
	class    string // person or organisation
	why      string
}

// The reference is built from strong evidence with its own, deliberately
// plain normalisation, independent of the matcher's: see
// testdata/README.md.
func refNorm(s string) string {
	s = norm.NFKD.String(strings.ToLower(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	w := strings.Fields(b.String())
	sort.Strings(w)
	return strings.Join(w, " ")
}

var (
	refYear = regexp.MustCompile(`\b(1[89]\d\d|20[0-2]\d)\b`)
	// A document number: six or more letters and digits, at least five of
	// them digits, not a year range.
	refDoc = regexp.MustCompile(`\b[A-Z]{0,3}[0-9][0-9A-Z]{5,}\b`)
)

type refEntity struct {
	id, class string
	names     []string // refNorm of names and aliases
	words     map[string]bool
	years     map[string]bool
	docs      map[string]bool
	caption   string
}

func refEntityOf(r *schema.Record) (*refEntity, bool) {
	class := ""
	switch r.Schema {
	case "Person":
		class = "person"
	case "Organization", "Company", "LegalEntity":
		class = "organisation"
	default:
		return nil, false
	}
	p := r.Properties
	e := &refEntity{id: r.ID, class: class, words: map[string]bool{}, years: map[string]bool{}, docs: map[string]bool{}}
	for _, k := range []string{"name", "alias"} {
		for _, v := range p[k] {
			for _, part := range strings.Split(v, ";") {
				n := refNorm(part)
				if n == "" {
					continue
				}
				if e.caption == "" {
					e.caption = part
				}
				e.names = append(e.names, n)
				for _, w := range strings.Fields(n) {
					if len(w) > 2 {
						e.words[w] = true
					}
				}
			}
		}
	}
	for _, v := range p["birthDate"] {
		e.years[v[:4]] = true
	}
	for _, k := range []string{"passportNumber", "idNumber", "notes"} {
		for _, v := range p[k] {
			if k == "notes" {
				for _, seg := range strings.Split(v, ";") {
					if strings.Contains(seg, "DOB") || strings.HasPrefix(seg, "Date of birth") {
						for _, y := range refYear.FindAllString(seg, -1) {
							e.years[y] = true
						}
					}
				}
			}
			for _, d := range refDoc.FindAllString(strings.ToUpper(v), -1) {
				digits := 0
				for _, c := range d {
					if c >= '0' && c <= '9' {
						digits++
					}
				}
				if digits >= 5 && !refYear.MatchString(d) {
					e.docs[d] = true
				}
			}
		}
	}
	return e, true
}

// buildReference pairs UN and OFAC entries of one class that (a) share a
// document number and a word of their names, or (b) share a whole
// normalised name or alias and, for persons, a birth year.
func buildReference(recs []*schema.Record) []refPair {
	var un, ofac []*refEntity
	for _, r := range recs {
		e, ok := refEntityOf(r)
		if !ok {
			continue
		}
		if strings.HasPrefix(r.ID, "un-sc-") {
			un = append(un, e)
		} else if strings.HasPrefix(r.ID, "ofac-") {
			ofac = append(ofac, e)
		}
	}
	byName := map[string][]*refEntity{}
	byDoc := map[string][]*refEntity{}
	for _, o := range ofac {
		for _, n := range o.names {
			byName[n] = append(byName[n], o)
		}
		for d := range o.docs {
			byDoc[d] = append(byDoc[d], o)
		}
	}
	seen := map[[2]string]bool{}
	var out []refPair
	add := func(u, o *refEntity, why string) {
		k := [2]string{u.id, o.id}
		if u.class != o.class || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, refPair{u.id, o.id, u.class, why})
	}
	for _, u := range un {
		for d := range u.docs {
			for _, o := range byDoc[d] {
				for w := range u.words {
					if o.words[w] {
						add(u, o, "document "+d+" and the word "+w)
						break
					}
				}
			}
		}
		for _, n := range u.names {
			for _, o := range byName[n] {
				if u.class == "organisation" {
					add(u, o, "name "+n)
					continue
				}
				for y := range u.years {
					if o.years[y] {
						add(u, o, "name "+n+" and year "+y)
						break
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].un+out[i].ofac < out[j].un+out[j].ofac })
	return out
}

// runMatcher indexes recs and returns every pair at or above min.
func runMatcher(t testing.TB, recs []*schema.Record, min float64) ([]*match.Pair, match.Stats) {
	t.Helper()
	ix, err := match.NewIndex()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := ix.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var pairs []*match.Pair
	st, err := ix.Pairs(match.PairOptions{MinScore: min}, func(p *match.Pair) error {
		pairs = append(pairs, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pairs, st
}

// judged reads testdata/judged.tsv: pairs judged by hand.
func readJudged(t testing.TB) map[[2]string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "judged.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[[2]string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) < 3 || (f[2] != "same" && f[2] != "different") {
			t.Fatalf("testdata/judged.tsv: malformed line %q", l)
		}
		a, b := f[0], f[1]
		if b < a {
			a, b = b, a
		}
		out[[2]string{a, b}] = f[2]
	}
	return out
}

func TestEvaluationUNOFAC(t *testing.T) {
	if testing.Short() {
		t.Skip("the evaluation reads the whole UN and OFAC lists; not in -short")
	}
	recs := append(readList(t, unFile), readList(t, ofacFile)...)
	ref := buildReference(recs)
	pairs, st := runMatcher(t, recs, match.DefaultMinScore)
	t.Logf("%d records, stats %+v", len(recs), st)
	found := map[[2]string]*match.Pair{}
	for _, p := range pairs {
		found[[2]string{p.A.ID, p.B.ID}] = p
		found[[2]string{p.B.ID, p.A.ID}] = p
	}
	if dump := os.Getenv("VALISE_MATCH_DUMP"); dump != "" {
		dumpEvaluation(t, dump, recs, ref, pairs, found)
	}
	for _, class := range []string{"person", "organisation"} {
		n, hit := 0, 0
		for _, r := range ref {
			if r.class != class {
				continue
			}
			n++
			if found[[2]string{r.un, r.ofac}] != nil {
				hit++
			}
		}
		recall := float64(hit) / float64(n)
		t.Logf("%s: reference %d pairs, found %d, recall %.1f%%", class, n, hit, 100*recall)
		if recall < 0.9 {
			t.Errorf("%s recall %.1f%% (%d of %d reference pairs), want at least 90%%", class, 100*recall, hit, n)
		}
	}

	// The shared-passport case: two UN entries carry the same two
	// passport numbers; OFAC has one of the two men.
	if found[[2]string{"ofac-13106", "un-sc-110406"}] == nil {
		t.Error("TABATABAEI (ofac-13106, un-sc-110406: same name, same passports) not paired")
	}
	for _, p := range [][2]string{{"ofac-13106", "un-sc-110444"}, {"un-sc-110406", "un-sc-110444"}} {
		if f := found[p]; f != nil {
			t.Errorf("%s and %s share passports but not a name, yet are paired: %.2f %v", p[0], p[1], f.Score, f.Evidence)
		}
	}

	// Precision: the pairs of testdata/judged.tsv were drawn at random
	// from this output and judged by hand (see testdata/README.md).
	judged := readJudged(t)
	same, wrong, present := 0, 0, 0
	for k, v := range judged {
		if found[k] == nil {
			continue
		}
		present++
		if v == "same" {
			same++
		} else {
			wrong++
			t.Logf("reported, judged different by hand: %s %s", k[0], k[1])
		}
	}
	if present < len(judged)*9/10 {
		t.Errorf("only %d of the %d pairs judged by hand are still reported: the matcher changed; draw a new sample (VALISE_MATCH_DUMP) and judge it", present, len(judged))
	}
	if precision := float64(same) / float64(max(1, present)); precision < 0.98 {
		t.Errorf("precision on the pairs judged by hand %.1f%% (%d of %d), want at least 98%%", 100*precision, same, present)
	} else {
		t.Logf("precision on the pairs judged by hand: %d of %d", same, present)
	}
}

// dumpEvaluation writes what an analyst needs to check the evaluation by
// hand: the reference with its reasons, the misses, and every pair found.
func dumpEvaluation(t testing.TB, dir string, recs []*schema.Record, ref []refPair, pairs []*match.Pair, found map[[2]string]*match.Pair) {
	byID := map[string]*schema.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	describe := func(id string) string {
		r := byID[id]
		p := r.Properties
		var parts []string
		for _, k := range []string{"name", "alias", "birthDate", "nationality", "passportNumber", "idNumber", "country"} {
			if len(p[k]) > 0 {
				parts = append(parts, k+"="+strings.Join(p[k], " | "))
			}
		}
		for _, n := range p["notes"] {
			if strings.Contains(n, "DOB") || strings.HasPrefix(n, "Date of birth") || strings.HasPrefix(n, "Document") {
				parts = append(parts, "note="+n)
			}
		}
		return id + " " + strings.Join(parts, "; ")
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o755))
	var b strings.Builder
	for _, r := range ref {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", r.class, r.un, r.ofac, r.why)
	}
	must(os.WriteFile(filepath.Join(dir, "reference.tsv"), []byte(b.String()), 0o644))
	b.Reset()
	for _, r := range ref {
		if found[[2]string{r.un, r.ofac}] == nil {
			fmt.Fprintf(&b, "MISS %s (%s)\n  %s\n  %s\n", r.class, r.why, describe(r.un), describe(r.ofac))
		}
	}
	must(os.WriteFile(filepath.Join(dir, "misses.txt"), []byte(b.String()), 0o644))
	b.Reset()
	for _, p := range pairs {
		fmt.Fprintf(&b, "%.2f %s %q ~ %s %q\n", p.Score, p.A.ID, p.A.Name, p.B.ID, p.B.Name)
		for _, e := range p.Evidence {
			fmt.Fprintf(&b, "    %+.2f %s\n", e.Weight, e.Text)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "pairs.txt"), []byte(b.String()), 0o644))
	seed := uint64(18)
	if s := os.Getenv("VALISE_MATCH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		must(err)
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	b.Reset()
	fmt.Fprintf(&b, "# seed %d\n", seed)
	idx := rng.Perm(len(pairs))
	for _, i := range idx[:min(50, len(idx))] {
		p := pairs[i]
		fmt.Fprintf(&b, "%.2f\n  %s\n  %s\n", p.Score, describe(p.A.ID), describe(p.B.ID))
		for _, e := range p.Evidence {
			fmt.Fprintf(&b, "    %+.2f %s\n", e.Weight, e.Text)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "sample.txt"), []byte(b.String()), 0o644))
	b.Reset()
	refIdx := rng.Perm(len(ref))
	for _, i := range refIdx[:min(60, len(refIdx))] {
		r := ref[i]
		fmt.Fprintf(&b, "%s (%s)\n  %s\n  %s\n", r.class, r.why, describe(r.un), describe(r.ofac))
	}
	must(os.WriteFile(filepath.Join(dir, "reference-sample.txt"), []byte(b.String()), 0o644))
	_ = slices.Contains[[]string]
}
