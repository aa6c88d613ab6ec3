package schema

import (
	"errors"
	"math/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"valise/internal/testenv"
)

// Canonical encoding vectors: any JSON spelling in, the one canonical form
// out.
var canonicalVectors = []struct{ name, in, want string }{
	{
		"key order, empty property omitted, value order kept",
		`{"schema":"Person","id":"P-1","properties":{"name":["B","A"],"alias":[]},"handling":{"tlp":"amber"},"origin":"KZ-NCB"}`,
		`{"handling":{"tlp":"amber"},"id":"P-1","origin":"KZ-NCB","properties":{"name":["B","A"]},"schema":"Person"}`,
	},
	{
		"whitespace",
		" {\n\t\"id\" : \"x\" ,\r\n \"properties\" : { \"a\" : [ \"1\" , \"2\" ] } } \n",
		`{"handling":{"tlp":""},"id":"x","origin":"","properties":{"a":["1","2"]},"schema":""}`,
	},
	{
		"string escapes",
		`{"id":"x","properties":{"a":["q\"b\\s\/ \u0041 \u00e9 é \b\f\n\r\t \u0001 \u001F \u007f ` + "\x7f" + ` \u2028 \ud83d\ude00 \uFFFD"]}}`,
		`{"handling":{"tlp":""},"id":"x","origin":"","properties":{"a":["q\"b\\s/ A é é \b\f\n\r\t \u0001 \u001f ` + "\x7f \x7f \u2028 \U0001F600 \uFFFD" + `"]},"schema":""}`,
	},
	{
		"numbers in extras",
		`{"id":"x","n":[1.0,1e21,1E+21,1e20,-0,-0.0,0e5,1e-7,0.000001,1.5E+2,12345678901234567890,0.1,-1.25e-10,5e-324,1.7976931348623157e308,1e-400]}`,
		`{"handling":{"tlp":""},"id":"x","n":[1,1e+21,1e+21,100000000000000000000,0,0,0,1e-7,0.000001,150,12345678901234567000,0.1,-1.25e-10,5e-324,1.7976931348623157e+308,0]` +
			`,"origin":"","properties":{},"schema":""}`,
	},
	{
		"nested extras sorted, arrays kept in order",
		`{"z":{"b":[true,false,null,"s"],"a":{"d":"x","c":{}}},"a":[],"id":"x"}`,
		`{"a":[],"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","z":{"a":{"c":{},"d":"x"},"b":[true,false,null,"s"]}}`,
	},
	{
		"keys sorted by UTF-8 bytes",
		`{"é":1,"z":2,"A":3,"id":"x","\u00e0":4}`,
		`{"A":3,"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":"","z":2,"à":4,"é":1}`,
	},
	{
		"full envelope (agencies of the handling sorted)",
		`{"version":{"vv":{"KZ-NCB":2,"CARICC":1},"props":{"name":"KZ-NCB:2","alias":"CARICC:1"},"by":"KZ-NCB","at":"2026-01-02T03:04:05Z"},` +
			`"deleted":true,"evaluation":{"reliability":"B","credibility":"2"},` +
			`"handling":{"tlp":"red","retain_until":"2030-01-01","releasable_to":["KG-NCB","CARICC"],"not_releasable_to":["XX"],"code":"H2"},` +
			`"origin":"KZ-NCB","schema":"Person","id":"P-1","properties":{}}`,
		`{"deleted":true,"evaluation":{"credibility":"2","reliability":"B"},` +
			`"handling":{"code":"H2","not_releasable_to":["XX"],"releasable_to":["CARICC","KG-NCB"],"retain_until":"2030-01-01","tlp":"red"},` +
			`"id":"P-1","origin":"KZ-NCB","properties":{},"schema":"Person",` +
			`"version":{"at":"2026-01-02T03:04:05Z","by":"KZ-NCB","props":{"alias":"CARICC:1","name":"KZ-NCB:2"},"vv":{"CARICC":1,"KZ-NCB":2}}}`,
	},
	{
		"deleted false and empty version omitted",
		`{"id":"x","deleted":false,"version":{},"handling":{"releasable_to":[]}}`,
		`{"handling":{"tlp":""},"id":"x","origin":"","properties":{},"schema":""}`,
	},
}

func TestCanonicalVectors(t *testing.T) {
	for _, tc := range canonicalVectors {
		r, err := Decode([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: Decode: %v", tc.name, err)
			continue
		}
		got := string(r.AppendCanonical(nil))
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
			continue
		}
		if _, err := DecodeCanonical([]byte(got)); err != nil {
			t.Errorf("%s: canonical form refused: %v", tc.name, err)
		}
		if tc.in != tc.want {
			if _, err := DecodeCanonical([]byte(tc.in)); !errors.Is(err, ErrNotCanonical) {
				t.Errorf("%s: DecodeCanonical of the input: %v, want ErrNotCanonical", tc.name, err)
			}
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	many := func(n int, f func(i int) string) string {
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, f(i))
		}
		return strings.Join(parts, ",")
	}
	keys20 := many(20, func(i int) string { return `"k` + string(rune('a'+i)) + `":1` })
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "unexpected end of input"},
		{"not an object", `["id"]`, `want '{'`},
		{"duplicate key", `{"id":"a","id":"b"}`, `duplicate key "id"`},
		{"duplicate property", `{"properties":{"a":[],"a":[]}}`, `duplicate key "a"`},
		{"duplicate extra key", `{"x":{"k":1,"k":2}}`, `duplicate key "k"`},
		{"duplicate after 16 keys", `{"x":{` + keys20 + `,"kc":3}}`, `duplicate key "kc"`},
		{"duplicate key spelled with an escape", `{"id":"a","\u0069d":"b"}`, `duplicate key "id"`},
		{"malformed UTF-8", "{\"id\":\"a\xffb\"}", "malformed UTF-8"},
		{"malformed UTF-8 after escape", "{\"id\":\"\\n\xc3\"}", "malformed UTF-8"},
		{"malformed UTF-8 in key", "{\"\xff\":1}", "malformed UTF-8"},
		{"lone high surrogate", `{"id":"\ud800"}`, "lone UTF-16 surrogate"},
		{"lone low surrogate", `{"id":"\udc00"}`, "lone UTF-16 surrogate"},
		{"bad surrogate pair", `{"id":"\ud800\u0041"}`, "invalid UTF-16 surrogate pair"},
		{"raw control character", "{\"id\":\"a\nb\"}", "control character 0x0a"},
		{"bad escape", `{"id":"\x41"}`, `invalid escape \x`},
		{"short unicode escape", `{"id":"\u12"}`, `invalid \u escape`},
		{"trailing data", `{"id":"a"} x`, "trailing data"},
		{"two records", `{}{}`, "trailing data"},
		{"trailing comma", `{"id":"a",}`, `want '"'`},
		{"properties as a list", `{"properties":[]}`, `want '{'`},
		{"number value", `{"properties":{"a":[1]}}`, "want a string"},
		{"id as number", `{"id":1}`, `want '"'`},
		{"deleted as string", `{"deleted":"yes"}`, "deleted must be true or false"},
		{"unknown handling field", `{"handling":{"tlp":"red","level":1}}`, `unknown handling field "level"`},
		{"unknown version field", `{"version":{"seq":1}}`, `unknown version field "seq"`},
		{"negative count", `{"version":{"vv":{"A":-1}}}`, "non-negative integer"},
		{"count with leading zero", `{"version":{"vv":{"A":01}}}`, "non-negative integer"},
		{"count out of range", `{"version":{"vv":{"A":18446744073709551616}}}`, "out of range"},
		{"leading zero", `{"x":01}`, "malformed number"},
		{"bare point", `{"x":1.}`, "malformed number"},
		{"no integer part", `{"x":.5}`, "unexpected character"},
		{"plus sign", `{"x":+1}`, "unexpected character"},
		{"empty exponent", `{"x":1e}`, "malformed number"},
		{"minus alone", `{"x":-}`, "malformed number"},
		{"NaN", `{"x":NaN}`, "unexpected character"},
		{"overflow", `{"x":1e400}`, "out of range"},
		{"bad literal", `{"x":tru}`, "invalid literal"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "nesting deeper than"},
		{"too many values", `{"properties":{"a":[` + many(MaxValues+1, func(int) string { return `"v"` }) + `]}}`, "more than 1024 values"},
		{"too many extras", `{` + many(65, func(i int) string { return `"x` + strings.Repeat("y", i) + `":1` }) + `}`, "unknown top-level keys"},
		{"too many keys", `{"x":{` + many(maxKeys+1, func(i int) string { return `"` + strings.Repeat("k", i+1) + `":1` }) + `}}`, "more than 4096 keys"},
	} {
		_, err := Decode([]byte(tc.in))
		var se *SyntaxError
		if err == nil || !errors.As(err, &se) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a SyntaxError with %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeKeepsExtras(t *testing.T) {
	in := `{"id":"NK-1","schema":"Person","properties":{"name":["A"]},"caption":"A","datasets":["x","y"],"target":true,"first_seen":"2023-01-01T00:00:00"}`
	r, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"caption": `"A"`, "datasets": `["x","y"]`, "target": "true", "first_seen": `"2023-01-01T00:00:00"`}
	if len(r.Extra) != len(want) {
		t.Fatalf("extras %q", r.Extra)
	}
	for k, v := range want {
		if string(r.Extra[k]) != v {
			t.Errorf("extra %s = %s, want %s", k, r.Extra[k], v)
		}
	}
}

// FuzzDecode: parse, encode, parse again gives the same canonical bytes,
// and the canonical bytes are accepted by DecodeCanonical.
func FuzzDecode(f *testing.F) {
	for _, tc := range canonicalVectors {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"id":"x","properties":{"a":["\ud83d\ude00"]},"x":[{"b":1e-7},{"a":-0}]}`))
	f.Add([]byte(`{"evaluation":{},"version":{"vv":{}},"handling":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		enc := r.AppendCanonical(nil)
		r2, err := Decode(enc)
		if err != nil {
			t.Fatalf("canonical form %q does not decode: %v", enc, err)
		}
		if enc2 := r2.AppendCanonical(nil); string(enc2) != string(enc) {
			t.Fatalf("not stable:\n%q\n%q", enc, enc2)
		}
		if _, err := DecodeCanonical(enc); err != nil {
			t.Fatalf("DecodeCanonical(%q): %v", enc, err)
		}
		if r.ContentHash() != r2.ContentHash() {
			t.Fatal("content hash differs")
		}
	})
}

// TestCanonicalVectors runs the published record vectors: each good line
// decodes and encodes back to itself, each bad one is refused as not
// canonical. The bad ones are the good ones with keys in UTF-8 byte order
// instead of RFC 8785's UTF-16 order.
func TestPublishedCanonicalVectors(t *testing.T) {
	data, err := os.ReadFile("../testdata/records/canonical.txt")
	if err != nil {
		t.Fatal(err)
	}
	var good, bad int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		kind, rec, _ := strings.Cut(line, " ")
		switch kind {
		case "#":
			continue
		case "good":
			r, err := DecodeCanonical([]byte(rec))
			if err != nil {
				t.Errorf("good vector refused: %v\n%s", err, rec)
				continue
			}
			if got := string(r.AppendCanonical(nil)); got != rec {
				t.Errorf("good vector encodes as\n%s\nwant\n%s", got, rec)
			}
			good++
		case "bad":
			if _, err := DecodeCanonical([]byte(rec)); err == nil {
				t.Errorf("bad vector accepted:\n%s", rec)
			}
			bad++
		default:
			t.Fatalf("vector line %q", line)
		}
	}
	if good < 2 || bad < 2 {
		t.Errorf("%d good and %d bad vectors read", good, bad)
	}
}

// TestCompareKeysUTF16 checks the key order against the UTF-16 encoding
// of random strings mixing ASCII, the upper basic plane and supplementary
// characters.
func TestCompareKeysUTF16(t *testing.T) {
	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	alphabet := []rune{'a', 'b', 0xe9, 0x7ff, 0xe000, 0xff61, 0xffff, 0x10000, 0x1d11e, 0x1f600, 0x10ffff}
	gen := func() string {
		r := make([]rune, rng.Intn(4))
		for i := range r {
			r[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(r)
	}
	differ := 0
	for range 20000 {
		a, b := gen(), gen()
		want := slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		if got := CompareKeys(a, b); got != want {
			t.Fatalf("CompareKeys(%q, %q) = %d, want %d", a, b, got, want)
		}
		if want != strings.Compare(a, b) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("no pair ordered differently by UTF-8 bytes: the test proves nothing")
	}
}
