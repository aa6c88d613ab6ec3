package schema

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendCanonical appends the canonical encoding of r to dst (see the
// package documentation) and returns the extended buffer.
func (r *Record) AppendCanonical(dst []byte) []byte {
	keys := make([]string, 0, 8+len(r.Extra))
	keys = append(keys, "id", "schema", "properties", "origin", "handling")
	if r.Deleted {
		keys = append(keys, "deleted")
	}
	if r.Recalled != nil {
		keys = append(keys, "recalled")
	}
	if r.Evaluation != nil {
		keys = append(keys, "evaluation")
	}
	if !r.Version.IsZero() {
		keys = append(keys, "version")
	}
	for k := range r.Extra {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareKeys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		switch k {
		case "id":
			dst = appendString(dst, r.ID)
		case "schema":
			dst = appendString(dst, r.Schema)
		case "origin":
			dst = appendString(dst, r.Origin)
		case "deleted":
			dst = append(dst, "true"...)
		case "recalled":
			dst = append(dst, `{"at":`...)
			dst = appendString(dst, r.Recalled.At)
			dst = append(dst, `,"by":`...)
			dst = appendString(dst, r.Recalled.By)
			dst = append(dst, '}')
		case "properties":
			dst = appendProps(dst, r.Properties)
		case "handling":
			dst = r.Handling.appendCanonical(dst)
		case "evaluation":
			dst = append(dst, `{"credibility":`...)
			dst = appendString(dst, r.Evaluation.Credibility)
			dst = append(dst, `,"reliability":`...)
			dst = appendString(dst, r.Evaluation.Reliability)
			dst = append(dst, '}')
		case "version":
			dst = r.Version.appendCanonical(dst)
		default:
			dst = append(dst, r.Extra[k]...)
		}
	}
	return append(dst, '}')
}

func appendProps(dst []byte, props map[string][]string) []byte {
	names := make([]string, 0, len(props))
	for n, v := range props {
		if len(v) > 0 {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, CompareKeys)
	dst = append(dst, '{')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, n)
		dst = append(dst, ':')
		dst = appendStrings(dst, props[n])
	}
	return append(dst, '}')
}

func appendStrings(dst []byte, l []string) []byte {
	dst = append(dst, '[')
	for i, v := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, v)
	}
	return append(dst, ']')
}

func (h *Handling) appendCanonical(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	field := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
	}
	if h.Code != "" {
		field("code")
		dst = appendString(dst, h.Code)
	}
	if len(h.Conditions) > 0 {
		field("conditions")
		dst = appendStrings(dst, h.Conditions)
	}
	// The lists of agencies are sets: written sorted, so that one
	// handling has one spelling (handling values are hashed and compared
	// as text).
	if len(h.NotReleasableTo) > 0 {
		field("not_releasable_to")
		dst = appendStrings(dst, sortedSet(h.NotReleasableTo))
	}
	if len(h.ReleasableTo) > 0 {
		field("releasable_to")
		dst = appendStrings(dst, sortedSet(h.ReleasableTo))
	}
	if h.RetainUntil != "" {
		field("retain_until")
		dst = appendString(dst, h.RetainUntil)
	}
	field("tlp")
	dst = appendString(dst, h.TLP)
	return append(dst, '}')
}

func (v *Version) appendCanonical(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	field := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
	}
	if len(v.Alts) > 0 {
		field("alts")
		keys := make([]string, 0, len(v.Alts))
		for k := range v.Alts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, CompareKeys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':', '[')
			for j, a := range v.Alts[k] {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"dot":`...)
				dst = appendString(dst, a.Dot)
				dst = append(dst, `,"values":`...)
				dst = appendStrings(dst, a.Values)
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	if v.At != "" {
		field("at")
		dst = appendString(dst, v.At)
	}
	if v.By != "" {
		field("by")
		dst = appendString(dst, v.By)
	}
	if len(v.Props) > 0 {
		field("props")
		keys := sortedKeys(v.Props)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, v.Props[k])
		}
		dst = append(dst, '}')
	}
	if len(v.Vector) > 0 {
		field("vv")
		keys := make([]string, 0, len(v.Vector))
		for k := range v.Vector {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, CompareKeys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, v.Vector[k], 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// CompareKeys orders object keys as RFC 8785 (JSON Canonicalization
// Scheme, §3.2.3) does: by their UTF-16 code units, compared as unsigned
// numbers. It differs from the order of their UTF-8 bytes only when one
// key has a character above U+FFFF (a surrogate pair, D800–DFFF) where the
// other has one in E000–FFFF at the same place: "\U0001F600" sorts before
// "\uFF61" here, after it by bytes.
func CompareKeys(a, b string) int {
	for i := 0; i < len(a) && i < len(b); {
		ca, cb := a[i], b[i]
		if ca == cb && ca < utf8.RuneSelf {
			i++
			continue
		}
		if ca < utf8.RuneSelf || cb < utf8.RuneSelf {
			return cmp.Compare(ca, cb)
		}
		ra, n := utf8.DecodeRuneInString(a[i:])
		rb, _ := utf8.DecodeRuneInString(b[i:])
		if ra == rb {
			i += n
			continue
		}
		a1, a2 := utf16Units(ra)
		b1, b2 := utf16Units(rb)
		if a1 != b1 {
			return cmp.Compare(a1, b1)
		}
		return cmp.Compare(a2, b2)
	}
	// One is a prefix of the other: the shorter sorts first.
	return cmp.Compare(len(a), len(b))
}

// utf16Units returns the UTF-16 code units of r: r itself and 0 in the
// basic plane, its surrogate pair above it.
func utf16Units(r rune) (uint16, uint16) {
	if r < 0x10000 {
		return uint16(r), 0
	}
	hi, lo := utf16.EncodeRune(r)
	return uint16(hi), uint16(lo)
}

// sortedSet returns l sorted, without repeats (l itself when it already
// is).
func sortedSet(l []string) []string {
	if slices.IsSorted(l) && len(slices.Compact(slices.Clone(l))) == len(l) {
		return l
	}
	out := slices.Clone(l)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareKeys)
	return keys
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string in the canonical spelling (see
// appendString), for other writers of JSON that should match it.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// appendString appends s as a canonical JSON string: only '"', '\\' and
// control characters are escaped. s must be valid UTF-8 (Decode and Validate
// guarantee it); invalid bytes are written as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	if utf8.ValidString(s) {
		// Only '"', '\\' and control characters need a look.
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 0x20 && c != '"' && c != '\\' {
				continue
			}
			dst = appendEscape(append(dst, s[start:i]...), c)
			start = i + 1
		}
		dst = append(dst, s[start:]...)
		return append(dst, '"')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = appendEscape(append(dst, s[start:i]...), c)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEscape appends the escape of an ASCII byte that needs one.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\t':
		return append(dst, '\\', 't')
	case '\n':
		return append(dst, '\\', 'n')
	case '\f':
		return append(dst, '\\', 'f')
	case '\r':
		return append(dst, '\\', 'r')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// SyntaxError is a malformed JSON input, with the byte offset of the problem.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg) }
func (e *SyntaxError) Unwrap() error { return ErrInvalid }

// Limits of the decoder.
const (
	maxDepth  = 32   // nesting of extra values
	maxExtras = 64   // unknown top-level keys of one record
	maxKeys   = 4096 // keys of one object
)

type decoder struct {
	data []byte
	pos  int
	// src is data as one string: strings without escapes are cut from it
	// instead of each being copied. valid reports data as valid UTF-8 as a
	// whole, so that each string need not be checked again.
	src   string
	valid bool
	// canon makes the decoder check, as it parses, that the input is the
	// canonical encoding of what it holds (DecodeCanonical); off records
	// the first spelling that is not, after which the result is not used.
	canon bool
	off   bool
}

func newDecoder(data []byte) *decoder {
	return &decoder{data: data, src: string(data), valid: utf8.Valid(data)}
}

func (d *decoder) fail(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
			d.off = d.off || d.canon // the canonical form has no whitespace
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *decoder) expect(c byte) error {
	if d.peek() != c {
		if d.pos >= len(d.data) {
			return d.fail("unexpected end of input, want %q", c)
		}
		return d.fail("want %q, found %q", c, d.data[d.pos])
	}
	d.pos++
	return nil
}

// str parses a JSON string, refusing malformed UTF-8 and lone surrogates.
func (d *decoder) str() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	start := d.pos
	// Fast path: no escapes, all ASCII or valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			if !d.valid && !utf8.Valid(d.data[start:d.pos]) {
				return "", d.fail("malformed UTF-8 in string")
			}
			d.pos++
			if d.src != "" {
				return d.src[start : d.pos-1], nil
			}
			return string(d.data[start : d.pos-1]), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.fail("control character 0x%02x in string", c)
		}
		d.pos++
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for {
		if d.pos >= len(d.data) {
			return "", d.fail("unterminated string")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(buf) {
				return "", d.fail("malformed UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", d.fail("control character 0x%02x in string", c)
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			return "", d.fail("unterminated escape")
		}
		e := d.data[d.pos]
		d.pos++
		if d.canon && !canonicalEscape(d.data[d.pos-1:]) {
			d.off = true
		}
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || d.pos+6 > len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
					return "", d.fail("lone UTF-16 surrogate in string")
				}
				d.pos += 2
				r2, err := d.hex4()
				if err != nil {
					return "", err
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", d.fail("invalid UTF-16 surrogate pair in string")
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			// Quoted: the byte may be a control character or part of a
			// multi-byte one, and the message is shown to people.
			return "", d.fail("invalid escape \\%s", strings.Trim(strconv.QuoteRune(rune(e)), "'"))
		}
	}
}

// canonicalEscape reports whether the escape that starts at e (just after
// its backslash) is the one appendString writes: \" and \\, the short
// forms of \b \t \n \f \r, and \u00xx in lowercase for the other
// control characters.
func canonicalEscape(e []byte) bool {
	switch e[0] {
	case '"', '\\', 'b', 't', 'n', 'f', 'r':
		return true
	case 'u':
		if len(e) < 5 || e[1] != '0' || e[2] != '0' || (e[3] != '0' && e[3] != '1') {
			return false
		}
		c := e[4]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return false
		}
		v += (e[3] - '0') << 4
		return v != '\b' && v != '\t' && v != '\n' && v != '\f' && v != '\r'
	}
	return false
}

func (d *decoder) hex4() (rune, error) {
	if d.pos+4 > len(d.data) {
		return 0, d.fail("short \\u escape")
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, d.fail("invalid \\u escape")
		}
	}
	d.pos += 4
	return r, nil
}

// object calls fn for each key of a JSON object, refusing duplicate keys.
func (d *decoder) object(fn func(key string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	// A short list finds duplicates fastest in the common case; past a few
	// keys a map keeps a hostile object of maxKeys keys linear.
	var seen []string
	var seenMap map[string]bool
	var prev string
	n := 0
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		at := d.pos
		k, err := d.str()
		if err != nil {
			return err
		}
		dup := false
		if d.canon {
			// Keys in strictly increasing order, as the canonical form
			// writes them, cannot repeat: no need to remember them. A
			// key out of order makes the input not canonical, and
			// DecodeCanonical then decodes it again without this.
			if n > 0 && CompareKeys(prev, k) >= 0 {
				d.off = true
			}
			prev = k
		} else if seenMap != nil {
			dup = seenMap[k]
		} else {
			for _, s := range seen {
				if s == k {
					dup = true
					break
				}
			}
		}
		if dup {
			d.pos = at
			return d.fail("duplicate key %q", k)
		}
		if n >= maxKeys {
			return d.fail("more than %d keys in an object", maxKeys)
		}
		n++
		switch {
		case d.canon:
		case seenMap != nil:
			seenMap[k] = true
		case len(seen) < 16:
			seen = append(seen, k)
		default:
			seenMap = make(map[string]bool, 64)
			for _, s := range seen {
				seenMap[s] = true
			}
			seenMap[k] = true
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.fail("want ',' or '}' in object")
		}
	}
}

func (d *decoder) strList() ([]string, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	var out []string
	if d.peek() == ']' {
		d.pos++
		return []string{}, nil
	}
	for {
		if d.peek() != '"' {
			return nil, d.fail("want a string in the list")
		}
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if len(out) >= MaxValues {
			return nil, d.fail("more than %d values in a list", MaxValues)
		}
		out = append(out, s)
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return out, nil
		default:
			return nil, d.fail("want ',' or ']' in list")
		}
	}
}

func (d *decoder) uint() (uint64, error) {
	d.ws()
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	s := string(d.data[start:d.pos])
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, d.fail("want a non-negative integer without leading zeros")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, d.fail("integer out of range")
	}
	return n, nil
}

// value parses any JSON value and appends its canonical form to dst.
func (d *decoder) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, d.fail("nesting deeper than %d", maxDepth)
	}
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return appendString(dst, s), nil
	case c == '{':
		type kv struct {
			k string
			v []byte
		}
		var kvs []kv
		err := d.object(func(k string) error {
			v, err := d.value(nil, depth+1)
			kvs = append(kvs, kv{k, v})
			return err
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(kvs, func(a, b kv) int { return CompareKeys(a.k, b.k) })
		dst = append(dst, '{')
		for i, e := range kvs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e.k)
			dst = append(dst, ':')
			dst = append(dst, e.v...)
		}
		return append(dst, '}'), nil
	case c == '[':
		d.pos++
		dst = append(dst, '[')
		if d.peek() == ']' {
			d.pos++
			return append(dst, ']'), nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = d.value(dst, depth+1); err != nil {
				return nil, err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case ']':
				d.pos++
				return append(dst, ']'), nil
			default:
				return nil, d.fail("want ',' or ']' in array")
			}
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
				d.pos += len(lit)
				return append(dst, lit...), nil
			}
		}
		return nil, d.fail("invalid literal")
	case c == '-' || c >= '0' && c <= '9':
		return d.number(dst)
	case c == 0:
		return nil, d.fail("unexpected end of input")
	default:
		return nil, d.fail("unexpected character %q", c)
	}
}

// number parses a JSON number and appends its RFC 8785 form.
func (d *decoder) number(dst []byte) ([]byte, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digitsFrom := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	if d.pos == digitsFrom || (d.data[digitsFrom] == '0' && d.pos-digitsFrom > 1) {
		return nil, d.fail("malformed number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		f := d.pos
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
		}
		if d.pos == f {
			return nil, d.fail("malformed number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		f := d.pos
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
		}
		if d.pos == f {
			return nil, d.fail("malformed number")
		}
	}
	f, err := strconv.ParseFloat(string(d.data[start:d.pos]), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, d.fail("number out of range")
	}
	n := len(dst)
	dst = appendNumber(dst, f)
	if d.canon && string(dst[n:]) != string(d.data[start:d.pos]) {
		d.off = true
	}
	return dst, nil
}

func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	// ECMAScript (and so RFC 8785) writes the exponent without leading
	// zeros: 1e-7, not Go's 1e-07.
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	for i := start; i < len(dst); i++ {
		if dst[i] == 'e' && i+3 < len(dst) && dst[i+2] == '0' {
			dst = append(dst[:i+2], dst[i+3:]...)
			break
		}
	}
	return dst
}

// Decode parses one record from JSON. It accepts any valid JSON spelling
// but refuses duplicate keys, malformed UTF-8, wrong value kinds and
// trailing data; it does not validate the record against the model (see
// [Record.Validate]).
func Decode(data []byte) (*Record, error) {
	return newDecoder(data).record()
}

// record parses the one record that data holds. In canonical mode it also
// checks what the object syntax cannot: the members the canonical form
// always writes are there, the ones it leaves out when empty are not
// empty, and the lists of agencies are sorted sets.
func (d *decoder) record() (*Record, error) {
	r := &Record{}
	// The members AppendCanonical always writes, as they are found.
	const (
		hasID = 1 << iota
		hasSchema
		hasProperties
		hasOrigin
		hasHandling
		hasAll = hasID | hasSchema | hasProperties | hasOrigin | hasHandling
	)
	var has int
	// fills(ok) makes the input not canonical unless ok: a member the
	// canonical form leaves out when empty is not, or one it always writes
	// is there.
	fills := func(ok bool) {
		if !ok {
			d.off = true
		}
	}
	err := d.object(func(k string) error {
		var err error
		switch k {
		case "id":
			has |= hasID
			r.ID, err = d.str()
		case "schema":
			has |= hasSchema
			r.Schema, err = d.str()
		case "origin":
			has |= hasOrigin
			r.Origin, err = d.str()
		case "recalled":
			r.Recalled = &Recall{}
			n := 0
			err = d.object(func(f string) error {
				var err error
				n++
				switch f {
				case "at":
					r.Recalled.At, err = d.str()
				case "by":
					r.Recalled.By, err = d.str()
				default:
					err = d.fail("unknown recalled field %q", f)
				}
				return err
			})
			fills(n == 2)
		case "deleted":
			switch {
			case d.peek() == 't' && len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "true":
				d.pos += 4
				r.Deleted = true
			case d.peek() == 'f' && len(d.data)-d.pos >= 5 && string(d.data[d.pos:d.pos+5]) == "false":
				d.pos += 5
				fills(false) // deleted is written only when true
			default:
				err = d.fail("deleted must be true or false")
			}
		case "properties":
			has |= hasProperties
			r.Properties = map[string][]string{}
			err = d.object(func(p string) error {
				l, err := d.strList()
				r.Properties[p] = l
				fills(len(l) > 0)
				return err
			})
		case "handling":
			has |= hasHandling
			tlp := false
			err = d.object(func(f string) error {
				var err error
				h := &r.Handling
				switch f {
				case "tlp":
					h.TLP, err = d.str()
					tlp = true
				case "code":
					h.Code, err = d.str()
					fills(h.Code != "")
				case "conditions":
					h.Conditions, err = d.strList()
					fills(len(h.Conditions) > 0)
				case "releasable_to":
					h.ReleasableTo, err = d.strList()
					fills(len(h.ReleasableTo) > 0 && isSortedSet(h.ReleasableTo))
				case "not_releasable_to":
					h.NotReleasableTo, err = d.strList()
					fills(len(h.NotReleasableTo) > 0 && isSortedSet(h.NotReleasableTo))
				case "retain_until":
					h.RetainUntil, err = d.str()
					fills(h.RetainUntil != "")
				default:
					err = d.fail("unknown handling field %q", f)
				}
				return err
			})
			fills(tlp)
		case "evaluation":
			r.Evaluation = &Evaluation{}
			n := 0
			err = d.object(func(f string) error {
				var err error
				n++
				switch f {
				case "reliability":
					r.Evaluation.Reliability, err = d.str()
				case "credibility":
					r.Evaluation.Credibility, err = d.str()
				default:
					err = d.fail("unknown evaluation field %q", f)
				}
				return err
			})
			fills(n == 2)
		case "version":
			err = d.object(func(f string) error {
				var err error
				switch f {
				case "vv":
					r.Version.Vector = map[string]uint64{}
					err = d.object(func(a string) error {
						n, err := d.uint()
						r.Version.Vector[a] = n
						return err
					})
					fills(len(r.Version.Vector) > 0)
				case "props":
					r.Version.Props = map[string]string{}
					err = d.object(func(p string) error {
						s, err := d.str()
						r.Version.Props[p] = s
						return err
					})
					fills(len(r.Version.Props) > 0)
				case "alts":
					r.Version.Alts = map[string][]Alt{}
					err = d.object(func(k string) error {
						if err := d.expect('['); err != nil {
							return err
						}
						var alts []Alt
						for {
							var a Alt
							n := 0
							if err := d.object(func(f string) error {
								var err error
								n++
								switch f {
								case "dot":
									a.Dot, err = d.str()
								case "values":
									a.Values, err = d.strList()
								default:
									err = d.fail("unknown alternative field %q", f)
								}
								return err
							}); err != nil {
								return err
							}
							fills(n == 2)
							if len(alts) >= MaxValues {
								return d.fail("more than %d alternatives", MaxValues)
							}
							alts = append(alts, a)
							switch d.peek() {
							case ',':
								d.pos++
								continue
							case ']':
								d.pos++
							default:
								return d.fail("want ',' or ']' in alternatives")
							}
							break
						}
						r.Version.Alts[k] = alts
						return nil
					})
					fills(len(r.Version.Alts) > 0)
				case "by":
					r.Version.By, err = d.str()
					fills(r.Version.By != "")
				case "at":
					r.Version.At, err = d.str()
					fills(r.Version.At != "")
				default:
					err = d.fail("unknown version field %q", f)
				}
				return err
			})
			fills(!r.Version.IsZero())
		default:
			if len(r.Extra) >= maxExtras {
				return d.fail("more than %d unknown top-level keys", maxExtras)
			}
			v, err := d.value(nil, 1)
			if err != nil {
				return err
			}
			if r.Extra == nil {
				r.Extra = map[string][]byte{}
			}
			r.Extra[k] = v
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.fail("trailing data after the record")
	}
	fills(has == hasAll)
	return r, nil
}

// isSortedSet reports whether l is sorted bytewise without repeats, as
// the canonical form writes the lists of agencies (sortedSet).
func isSortedSet(l []string) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1] >= l[i] {
			return false
		}
	}
	return true
}

// DecodeCanonical parses data and refuses it unless it is exactly the
// canonical encoding of the record it holds.
//
// It checks the canonical spelling as it parses (key order, escapes,
// numbers, no whitespace, the members left out or always written) instead
// of encoding the record again to compare. Whatever that check does not
// accept at once — a record that is not canonical, or not valid at all —
// is decoded again and compared with its encoding, so that a refusal is
// reported exactly as Decode and the comparison report it.
func DecodeCanonical(data []byte) (*Record, error) {
	d := newDecoder(data)
	d.canon = true
	if r, err := d.record(); err == nil && !d.off {
		return r, nil
	}
	return decodeCanonicalSlow(data)
}

// decodeCanonicalSlow is DecodeCanonical by decoding and encoding again.
func decodeCanonicalSlow(data []byte) (*Record, error) {
	r, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if string(r.AppendCanonical(make([]byte, 0, len(data)))) != string(data) {
		return nil, ErrNotCanonical
	}
	return r, nil
}

// ErrNotCanonical reports a record that is valid JSON but not in the one
// canonical encoding.
var ErrNotCanonical = errors.New("record is not in canonical encoding")

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
