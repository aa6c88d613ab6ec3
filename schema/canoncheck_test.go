package schema

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"

	"valise/bench/recgen"
	"valise/internal/testenv"
)

// decodeCanonicalOld is DecodeCanonical as it was before it checked the
// spelling while parsing: decode, encode again, compare. The tests hold
// it as the reference, apart from decodeCanonicalSlow, so that a change
// to either is caught.
func decodeCanonicalOld(data []byte) (*Record, error) {
	r, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(r.AppendCanonical(nil), data) {
		return nil, ErrNotCanonical
	}
	return r, nil
}

// canonFast runs DecodeCanonical's check-as-it-parses alone: whether it
// accepts data without falling back to encoding the record again.
func canonFast(data []byte) (*Record, bool) {
	d := newDecoder(data)
	d.canon = true
	r, err := d.record()
	return r, err == nil && !d.off
}

// sameAsOld fails t unless DecodeCanonical answers for data exactly as
// decodeCanonicalOld does: both accept with the same record, or both
// refuse with the same error. It reports whether they accepted.
func sameAsOld(t *testing.T, data []byte) bool {
	t.Helper()
	want, wantErr := decodeCanonicalOld(data)
	if r, ok := canonFast(data); ok {
		if wantErr != nil {
			t.Fatalf("accepted while parsing, refused by encoding again (%v):\n%q", wantErr, data)
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("accepted while parsing as\n%#v\nnot\n%#v\n(input %q)", r, want, data)
		}
	}
	got, err := DecodeCanonical(data)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("DecodeCanonical: %v, by encoding again: %v\n(input %q)", err, wantErr, data)
	case err != nil && err.Error() != wantErr.Error():
		t.Fatalf("DecodeCanonical refuses with %q, encoding again with %q\n(input %q)", err, wantErr, data)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("DecodeCanonical gives\n%#v\nnot\n%#v\n(input %q)", got, want, data)
	}
	return err == nil
}

// fullCanonical holds every member of a record, escapes, an extra of
// every kind, and keys on both sides of the UTF-16 order.
const fullCanonical = `{"deleted":true,"evaluation":{"credibility":"2","reliability":"B"},` +
	`"handling":{"code":"H2","conditions":["c"],"not_releasable_to":["XX"],"releasable_to":["CARICC","KG-NCB"],"retain_until":"2030-01-01","tlp":"red"},` +
	`"id":"P-1","origin":"KZ-NCB","properties":{"a":["\"\\\b\t\n\f\r\u0001\u001f` + "\x7f\u2028é" + `"]},"recalled":{"at":"2026-01-01T00:00:00Z","by":"KZ-NCB"},"schema":"Person",` +
	`"version":{"alts":{"name":[{"dot":"CARICC:1","values":[]}]},"at":"2026-01-02T03:04:05Z","by":"KZ-NCB","props":{"alias":"CARICC:1","name":"KZ-NCB:2"},"vv":{"CARICC":1,"KZ-NCB":2}},"x":[1e+21,0.5,-3,{"a":null,"b":{}}],"😀":true,"｡":false}`

// canonicalRecords returns canonical records: the vectors' outputs, the
// benchmark's generated records with version information and handling
// added as a bundle carries them, and fullCanonical.
func canonicalRecords(t testing.TB) []string {
	var good []string
	for _, tc := range canonicalVectors {
		good = append(good, tc.want)
	}
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, 300, recgen.Options{}); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		r, err := Decode([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		r.Version = Version{Vector: map[string]uint64{"KZ-NCB": uint64(i + 1)}, Props: map[string]string{}, By: "KZ-NCB", At: "2026-11-28T09:00:00Z"}
		for p := range r.Properties {
			r.Version.Props[p] = fmt.Sprintf("KZ-NCB:%d", i+1)
		}
		if i%3 == 0 {
			r.Handling.ReleasableTo = []string{"KG-NCB", "CARICC"}
			r.Handling.Conditions = []string{"no onward", "ask first"}
		}
		good = append(good, string(r.AppendCanonical(nil)))
	}
	return append(good, fullCanonical)
}

// nonCanonical holds spellings the canonical form does not write, each
// of fullCanonical or of a short record.
var nonCanonical = map[string]string{
	"whitespace between members": strings.Replace(fullCanonical, `,"id"`, `, "id"`, 1),
	"whitespace at the end":      fullCanonical + " ",
	"newline at the end":         fullCanonical + "\n",
	"whitespace at the start":    " " + fullCanonical,
	"members out of order":       `{"id":"x","handling":{"tlp":""},"origin":"","properties":{},"schema":""}`,
	"handling out of order":      `{"handling":{"tlp":"","code":"H1"},"id":"x","origin":"","properties":{},"schema":""}`,
	"properties out of order":    `{"handling":{"tlp":""},"id":"x","origin":"","properties":{"b":["1"],"a":["1"]},"schema":""}`,
	"repeated member":            `{"handling":{"tlp":""},"id":"x","id":"x","origin":"","properties":{},"schema":""}`,
	"repeated property":          `{"handling":{"tlp":""},"id":"x","origin":"","properties":{"a":["1"],"a":["1"]},"schema":""}`,
	"escaped slash":              `{"handling":{"tlp":""},"id":"x\/","origin":"","properties":{},"schema":""}`,
	"needless \\u escape":        `{"handling":{"tlp":""},"id":"\u0041","origin":"","properties":{},"schema":""}`,
	"escaped key":                `{"handling":{"tlp":""},"\u0069d":"x","origin":"","properties":{},"schema":""}`,
	"uppercase \\u escape":       `{"handling":{"tlp":""},"id":"\u001F","origin":"","properties":{},"schema":""}`,
	"long form of \\n":           `{"handling":{"tlp":""},"id":"\u000a","origin":"","properties":{},"schema":""}`,
	"long form of \\t":           `{"handling":{"tlp":""},"id":"\u0009","origin":"","properties":{},"schema":""}`,
	"long form of \\b":           `{"handling":{"tlp":""},"id":"\u0008","origin":"","properties":{},"schema":""}`,
	"long form of \\f":           `{"handling":{"tlp":""},"id":"\u000c","origin":"","properties":{},"schema":""}`,
	"long form of \\r":           `{"handling":{"tlp":""},"id":"\u000d","origin":"","properties":{},"schema":""}`,
	"long form of \\\"":          `{"handling":{"tlp":""},"id":"\u0022","origin":"","properties":{},"schema":""}`,
	"escaped DEL":                `{"handling":{"tlp":""},"id":"\u007f","origin":"","properties":{},"schema":""}`,
	"escaped non-ASCII":          `{"handling":{"tlp":""},"id":"\u00e9","origin":"","properties":{},"schema":""}`,
	"surrogate pair escape":      `{"handling":{"tlp":""},"id":"\ud83d\ude00","origin":"","properties":{},"schema":""}`,
	"deleted false":              `{"deleted":false,"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty property":             `{"handling":{"tlp":""},"id":"x","origin":"","properties":{"a":[]},"schema":""}`,
	"no tlp":                     `{"handling":{},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty code":                 `{"handling":{"code":"","tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty conditions":           `{"handling":{"conditions":[],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"unsorted releasable_to":     `{"handling":{"releasable_to":["B","A"],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"repeated releasable_to":     `{"handling":{"releasable_to":["A","A"],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty releasable_to":        `{"handling":{"releasable_to":[],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty not_releasable_to":    `{"handling":{"not_releasable_to":[],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"unsorted not_releasable_to": `{"handling":{"not_releasable_to":["B","A"],"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"empty retain_until":         `{"handling":{"retain_until":"","tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"no id":                      `{"handling":{"tlp":""},"origin":"","properties":{},"schema":""}`,
	"no schema":                  `{"handling":{"tlp":""},"id":"x","origin":"","properties":{}}`,
	"no properties":              `{"handling":{"tlp":""},"id":"x","origin":"","schema":""}`,
	"no origin":                  `{"handling":{"tlp":""},"id":"x","properties":{},"schema":""}`,
	"no handling":                `{"id":"x","origin":"","properties":{},"schema":""}`,
	"half an evaluation":         `{"evaluation":{"reliability":"B"},"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	"half a recall":              `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"recalled":{"by":"A"},"schema":""}`,
	"recall out of order":        `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"recalled":{"by":"A","at":"t"},"schema":""}`,
	"empty version":              `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{}}`,
	"empty vv":                   `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"by":"A","vv":{}}}`,
	"empty props":                `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"by":"A","props":{}}}`,
	"empty alts":                 `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"alts":{},"by":"A"}}`,
	"empty at":                   `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"at":"","by":"A"}}`,
	"empty by":                   `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"at":"x","by":""}}`,
	"alternative without values": `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"alts":{"a":[{"dot":"A:1"}]}}}`,
	"alternative out of order":   `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"alts":{"a":[{"values":[],"dot":"A:1"}]}}}`,
	"vv out of order":            `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"vv":{"B":1,"A":1}}}`,
	"number 1.0":                 `{"handling":{"tlp":""},"id":"x","n":1.0,"origin":"","properties":{},"schema":""}`,
	"number 1e0":                 `{"handling":{"tlp":""},"id":"x","n":1e0,"origin":"","properties":{},"schema":""}`,
	"number 1E+21":               `{"handling":{"tlp":""},"id":"x","n":1E+21,"origin":"","properties":{},"schema":""}`,
	"number -0":                  `{"handling":{"tlp":""},"id":"x","n":-0,"origin":"","properties":{},"schema":""}`,
	"number 1e-07":               `{"handling":{"tlp":""},"id":"x","n":1e-07,"origin":"","properties":{},"schema":""}`,
	"number 0.10":                `{"handling":{"tlp":""},"id":"x","n":0.10,"origin":"","properties":{},"schema":""}`,
	"extra object out of order":  `{"handling":{"tlp":""},"id":"x","n":{"b":1,"a":2},"origin":"","properties":{},"schema":""}`,
	"extra object repeated key":  `{"handling":{"tlp":""},"id":"x","n":{"a":1,"a":1},"origin":"","properties":{},"schema":""}`,
	"extra before by UTF-16":     `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","｡":1,"😀":2}`,
	"space in an extra":          `{"handling":{"tlp":""},"id":"x","n":[1, 2],"origin":"","properties":{},"schema":""}`,
	"space in vv":                `{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","version":{"vv":{"A": 1}}}`,
}

// TestCanonicalCheckedWhileParsing: the canonical records that a bundle
// and the store hold are accepted by the check made while parsing (no
// second encoding), and every spelling the canonical form does not write
// is refused by it — DecodeCanonical then decodes the record again, which
// refuses it as before.
func TestCanonicalCheckedWhileParsing(t *testing.T) {
	for _, g := range canonicalRecords(t) {
		r, ok := canonFast([]byte(g))
		if !ok {
			t.Errorf("canonical record not accepted while parsing:\n%s", g)
			continue
		}
		if enc := r.AppendCanonical(nil); string(enc) != g {
			t.Errorf("accepted while parsing but encodes as\n%s\nnot\n%s", enc, g)
		}
		sameAsOld(t, []byte(g))
	}
	for name, b := range nonCanonical {
		if _, ok := canonFast([]byte(b)); ok {
			t.Errorf("%s: accepted while parsing:\n%s", name, b)
		}
		if _, err := DecodeCanonical([]byte(b)); err == nil {
			t.Errorf("%s: DecodeCanonical accepts\n%s", name, b)
		}
		sameAsOld(t, []byte(b))
	}
}

// mutate returns s changed in one place, chosen by rng: one of the
// spellings the canonical form does not write (whitespace, two members
// swapped, an escape, another spelling of a number or a literal, an empty
// member, a list of agencies reversed) or a byte inserted, deleted or
// replaced.
func mutate(rng *rand.Rand, s string) string {
	at := func() int { return rng.Intn(len(s) + 1) }
	insert := func(i int, x string) string { return s[:i] + x + s[i:] }
	// replace changes one occurrence, chosen at random, of old.
	replace := func(old, new string) string {
		n := strings.Count(s, old)
		if n == 0 {
			return s
		}
		k := rng.Intn(n)
		i := 0
		for ; k >= 0; k-- {
			j := strings.Index(s[i:], old)
			i += j + len(old)
		}
		i -= len(old)
		return s[:i] + new + s[i+len(old):]
	}
	switch rng.Intn(16) {
	case 0:
		return insert(at(), []string{" ", "\n", "\t", "\r"}[rng.Intn(4)])
	case 1:
		// Two neighbouring members, or elements, swapped.
		cuts := []int{}
		for i, c := range s {
			if c == ',' {
				cuts = append(cuts, i)
			}
		}
		if len(cuts) < 2 {
			return s
		}
		k := rng.Intn(len(cuts) - 1)
		a, b := cuts[k], cuts[k+1]
		// "x,A,B" → "x,B,A" where A and B are the text between commas:
		// often a different order of two members, sometimes broken JSON.
		end := len(s)
		if k+2 < len(cuts) {
			end = cuts[k+2]
		}
		return s[:a+1] + s[b+1:end] + "," + s[a+1:b] + s[end:]
	case 2:
		// A letter written as an escape.
		for range 20 {
			i := rng.Intn(len(s))
			if c := s[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				return s[:i] + fmt.Sprintf([]string{`\u%04x`, `\u%04X`}[rng.Intn(2)], c) + s[i+1:]
			}
		}
		return s
	case 3:
		return replace("/", `\/`)
	case 4:
		return replace(`\n`, `\u000a`)
	case 5:
		return replace(`\u00`, `\u00`+[]string{"1F", "0A", "7f", "22"}[rng.Intn(4)]+`\u00`)
	case 6:
		return replace([]string{"1", "2", "0"}[rng.Intn(3)], []string{"1.0", "1e0", "1E0", "-0", "01", "10e-1"}[rng.Intn(6)])
	case 7:
		return replace(`"handling":{`, `"handling":{`+[]string{`"code":"",`, `"conditions":[],`, `"not_releasable_to":[],`, `"releasable_to":[],`, `"retain_until":"",`}[rng.Intn(5)])
	case 8:
		return replace(`"properties":{`, `"properties":{"a":[],`)
	case 9:
		return replace(`"version":{`, `"version":{`+[]string{`"alts":{},`, `"at":"",`, `"by":"",`}[rng.Intn(3)])
	case 10:
		return replace(`["CARICC","KG-NCB"]`, []string{`["KG-NCB","CARICC"]`, `["CARICC","CARICC","KG-NCB"]`, `["CARICC","KG-NCB","KG-NCB"]`}[rng.Intn(3)])
	case 11:
		return replace(`{"deleted":true,`, `{"deleted":false,`)
	case 12:
		return replace(`true`, []string{`false`, `True`, `null`}[rng.Intn(3)])
	case 13:
		i := rng.Intn(len(s))
		return s[:i] + s[i+1:]
	case 14:
		i := rng.Intn(len(s))
		return s[:i] + string(rune(rng.Intn(128))) + s[i+1:]
	default:
		return insert(at(), string([]byte{byte(rng.Intn(256))}))
	}
}

// TestDecodeCanonicalMutations: DecodeCanonical answers as decoding and
// encoding again did — the same record, or the same error — for the
// canonical records and for random changes of them, one to three at a
// time.
func TestDecodeCanonicalMutations(t *testing.T) {
	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	good := canonicalRecords(t)
	accepted, refused, notCanonical := 0, 0, 0
	for range 30000 {
		s := good[rng.Intn(len(good))]
		for n := 1 + rng.Intn(3); n > 0; n-- {
			s = mutate(rng, s)
		}
		if sameAsOld(t, []byte(s)) {
			accepted++
			continue
		}
		refused++
		if _, err := Decode([]byte(s)); err == nil {
			notCanonical++
		}
	}
	t.Logf("%d mutations accepted, %d refused, %d of them valid JSON", accepted, refused, notCanonical)
	// Most changes break canonical form; some keep it (a byte of a value
	// replaced), and many keep valid JSON that is not canonical, the case
	// the check while parsing must refuse.
	if accepted < 1000 || refused < 10000 || notCanonical < 5000 {
		t.Errorf("%d mutations accepted, %d refused, %d of them valid JSON: too few of a kind to prove anything", accepted, refused, notCanonical)
	}
}

// FuzzDecodeCanonical: DecodeCanonical, which checks the canonical
// spelling while parsing, accepts exactly what decoding and encoding again
// accepts, with the same record, and refuses with the same error.
func FuzzDecodeCanonical(f *testing.F) {
	for _, tc := range canonicalVectors {
		f.Add([]byte(tc.in))
	}
	good := canonicalRecords(f)
	for _, g := range good {
		f.Add([]byte(g))
	}
	names := make([]string, 0, len(nonCanonical))
	for name := range nonCanonical {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f.Add([]byte(nonCanonical[name]))
	}
	rng := rand.New(rand.NewSource(1))
	for range 200 {
		f.Add([]byte(mutate(rng, good[rng.Intn(len(good))])))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsOld(t, data)
	})
}
