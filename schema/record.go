package schema

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sentinel errors callers branch on.
var (
	// ErrInvalid is wrapped by every validation failure of a record.
	ErrInvalid = errors.New("invalid record")
	// ErrSchemaVersion reports a schema major version this build cannot read.
	ErrSchemaVersion = errors.New("unsupported schema version")
)

// Record is one entity or link with its valise envelope.
type Record struct {
	ID         string
	Schema     string
	Properties map[string][]string
	Origin     string      // the agency that created the record; never changes
	Handling   Handling    // who may receive it and for how long
	Evaluation *Evaluation // optional source evaluation
	Version    Version     // maintained by valise
	Deleted    bool        // a tombstone
	// Recalled, when set, makes the record a recall stub: the originator
	// narrowed its handling so that this office may no longer hold it.
	// The stub keeps id, schema, origin, the narrowed handling and the
	// version, no content.
	Recalled *Recall
	// Extra holds unknown top-level keys of imported data, each value in
	// canonical JSON, so that they travel and export unchanged.
	Extra map[string][]byte
}

// reservedKeys are the top-level keys of a record that are not extras.
var reservedKeys = map[string]bool{"id": true, "schema": true, "properties": true, "origin": true,
	"handling": true, "evaluation": true, "version": true, "deleted": true, "recalled": true}

// TLP levels (TLP 2.0), from least to most restrictive.
var TLPLevels = []string{"clear", "green", "amber", "amber+strict", "red"}

// Handling is the dissemination envelope of a record (SPEC §5).
type Handling struct {
	TLP string // one of TLPLevels
	// Code holds the handling codes of the EU law-enforcement exchange
	// manual and Europol: "" or "H0" (to be used only for preventing and
	// combating crime, the default), or H1 (not to be disclosed in judicial
	// proceedings without the provider's permission), H2 (not to be
	// disseminated without the provider's permission) and H3 (other
	// restrictions, stated in Conditions), combined in ascending order
	// with "+": "H1+H3". See Codes.
	Code       string
	Conditions []string // the restrictions of H3, as text; sorted, shown wherever the record is

	ReleasableTo    []string // agencies; when set, only these may receive the record
	NotReleasableTo []string // agencies that may never receive the record
	RetainUntil     string   // date after which the record is not exported
}

// Recall says who recalled a record and when (a recall stub).
type Recall struct {
	By string // the agency whose narrowing the recall carries: the record's origin
	At string // UTC time of the recall, RFC 3339
}

// Stub returns the recall stub of r: what an office keeps, and a bundle
// carries, of a record its originator narrowed out of that office's
// reach. It keeps the key, the schema, the handling that excludes the
// office and the version vector; the content, its stamps and its open
// conflicts go.
func (r *Record) Stub(by, at string) *Record {
	s := &Record{ID: r.ID, Schema: r.Schema, Origin: r.Origin, Properties: map[string][]string{},
		Recalled: &Recall{By: by, At: at}}
	s.Handling = r.Clone().Handling
	s.Version.Vector = make(map[string]uint64, len(r.Version.Vector))
	for a, n := range r.Version.Vector {
		s.Version.Vector[a] = n
	}
	s.Version.By, s.Version.At = r.Version.By, r.Version.At
	if d, ok := r.Version.Props["@handling"]; ok {
		s.Version.Props = map[string]string{"@handling": d}
	}
	// Concurrent handlings stay as their changes wrote them (the stub
	// shows their combination, as the record did).
	if alts := r.Version.Alts["@handling"]; len(alts) > 0 {
		s.Version.Alts = map[string][]Alt{"@handling": r.Clone().Version.Alts["@handling"]}
	}
	return s
}

// Evaluation is the Admiralty grading of a record's source and content.
type Evaluation struct {
	Reliability string // A–F
	Credibility string // 1–6
}

// Version is the version information valise keeps with a record; see
// docs/MERGE.md. It is left out of the content hash.
type Version struct {
	Vector map[string]uint64 // agency → number of changes that agency made ("vv")
	Props  map[string]string // property → "AGENCY:N", the change that last set it ("props")
	By     string            // agency of the latest change
	At     string            // UTC time of the latest change, RFC 3339, informational only
	// Alts holds, per key, the candidate values of an open conflict other
	// than the one the record shows ("alts"); see package merge.
	Alts map[string][]Alt
}

// Alt is one candidate value of a key in conflict, with the stamp of the
// change that wrote it.
type Alt struct {
	Dot    string   // "AGENCY:N"
	Values []string // property values, or the one canonical string of an envelope part
}

// IsZero reports whether v holds no version information.
func (v Version) IsZero() bool {
	return len(v.Vector) == 0 && len(v.Props) == 0 && len(v.Alts) == 0 && v.By == "" && v.At == ""
}

// CheckAgency reports whether id is a valid agency id: [A-Z0-9-]{2,32}.
func CheckAgency(id string) error {
	if len(id) < 2 || len(id) > 32 {
		return fmt.Errorf("agency id %q must be 2 to 32 characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("agency id %q may hold only A-Z, 0-9 and -", id)
		}
	}
	return nil
}

// Problem is one validation failure: which record, property and rule.
type Problem struct {
	ID       string // record id, when known
	Property string // property or envelope field, when the problem is in one
	Rule     string // what is wrong
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.ID != "" {
		fmt.Fprintf(&b, "record %s: ", Printable(p.ID))
	}
	if p.Property != "" {
		fmt.Fprintf(&b, "property %s: ", Printable(p.Property))
	}
	b.WriteString(p.Rule)
	return b.String()
}

func (p *Problem) Unwrap() error { return ErrInvalid }

// Validate checks r against the model and returns every problem found.
func (r *Record) Validate() []*Problem {
	var out []*Problem
	add := func(prop, format string, args ...any) {
		out = append(out, &Problem{ID: r.ID, Property: prop, Rule: fmt.Sprintf(format, args...)})
	}
	if err := CheckID(r.ID); err != nil {
		add("", "%v", err)
	}
	s, ok := schemas[r.Schema]
	switch {
	case r.Schema == "":
		add("", "missing schema")
	case !ok:
		add("", "unknown schema %q", r.Schema)
	case s.Abstract:
		add("", "schema %s is abstract and cannot be used by a record", r.Schema)
	}
	if err := CheckAgency(r.Origin); err != nil {
		add("origin", "%v", err)
	}
	r.Handling.validate(add)
	if e := r.Evaluation; e != nil {
		if len(e.Reliability) != 1 || e.Reliability[0] < 'A' || e.Reliability[0] > 'F' {
			add("evaluation.reliability", "must be one of A–F")
		}
		if len(e.Credibility) != 1 || e.Credibility[0] < '1' || e.Credibility[0] > '6' {
			add("evaluation.credibility", "must be one of 1–6")
		}
	}
	// An extra key that names a record field would be written twice by
	// AppendCanonical, and an empty value is not JSON: either makes an
	// encoding that no reader accepts.
	badExtra := func(k string) bool { return reservedKeys[k] || len(r.Extra[k]) == 0 }
	for k := range r.Extra {
		if !badExtra(k) {
			continue
		}
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch {
			case reservedKeys[k]:
				add("", "extra key %q is a record field", k)
			case len(r.Extra[k]) == 0:
				add("", "extra key %q has no value", k)
			}
		}
		break
	}
	for a, n := range r.Version.Vector {
		if CheckAgency(a) != nil || n == 0 {
			add("version.vv", "entry %q: %d is not an agency and a positive count", a, n)
		}
	}
	for p, dot := range r.Version.Props {
		if _, _, err := ParseDot(dot); err != nil {
			add("version.props", "property %s: %v", Printable(p), err)
		}
	}
	for k, alts := range r.Version.Alts {
		if len(alts) == 0 || len(alts) > MaxValues {
			add("version.alts", "key %q: want 1 to %d alternatives", k, MaxValues)
		}
		for _, a := range alts {
			if _, _, err := ParseDot(a.Dot); err != nil {
				add("version.alts", "key %q: %v", k, err)
			}
		}
	}
	if rc := r.Recalled; rc != nil {
		if CheckAgency(rc.By) != nil {
			add("recalled.by", "not an agency id")
		}
		if ts, err := time.Parse(time.RFC3339, rc.At); err != nil || ts.UTC().Format(time.RFC3339) != rc.At {
			add("recalled.at", "not a UTC time YYYY-MM-DDTHH:MM:SSZ")
		}
		_, handlingAlts := r.Version.Alts["@handling"]
		if len(r.Properties) > 0 || len(r.Extra) > 0 || r.Evaluation != nil || len(r.Version.Alts) > 1 || len(r.Version.Alts) == 1 && !handlingAlts {
			add("recalled", "a recall stub carries no content")
		}
	}
	if r.Version.By != "" && CheckAgency(r.Version.By) != nil {
		add("version.by", "not an agency id")
	}
	// The time of the last change is shown to officers and orders
	// concurrent changes: only valise's own spelling is accepted.
	if at := r.Version.At; at != "" {
		if ts, err := time.Parse(time.RFC3339, at); err != nil || ts.UTC().Format(time.RFC3339) != at {
			add("version.at", "not a UTC time YYYY-MM-DDTHH:MM:SSZ")
		}
	}
	if s == nil || s.Abstract {
		return out
	}
	names := make([]string, 0, len(r.Properties))
	for name := range r.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := r.Properties[name]
		p, ok := s.props[name]
		if !ok {
			add(name, "not a property of %s", r.Schema)
			continue
		}
		if len(values) > MaxValues {
			add(name, "more than %d values", MaxValues)
			continue
		}
		for i, v := range values {
			if why := checkValue(p.Type, v); why != "" {
				add(name, "value %d %q: %s", i+1, v, why)
			}
		}
	}
	if !r.Deleted && r.Recalled == nil {
		for _, req := range s.Required {
			if len(r.Properties[req]) == 0 {
				add(req, "required by %s but missing", r.Schema)
			}
		}
	}
	return out
}

func (h *Handling) validate(add func(prop, format string, args ...any)) {
	ok := false
	for _, l := range TLPLevels {
		ok = ok || h.TLP == l
	}
	if !ok {
		add("handling.tlp", "must be one of %s", strings.Join(TLPLevels, ", "))
	}
	if _, err := ParseCodes(h.Code); err != nil {
		add("handling.code", "%v", err)
	}
	if !slices.IsSorted(h.Conditions) || len(slices.Compact(slices.Clone(h.Conditions))) != len(h.Conditions) {
		add("handling.conditions", "must be sorted, without duplicates")
	}
	for _, c := range h.Conditions {
		if strings.TrimSpace(c) == "" {
			add("handling.conditions", "a condition is empty")
		}
	}
	if len(h.Conditions) > 0 && !h.Has("H3") {
		add("handling.conditions", "conditions are the restrictions of H3: the code must include H3")
	}
	for _, l := range [][]string{h.ReleasableTo, h.NotReleasableTo} {
		for _, a := range l {
			if err := CheckAgency(a); err != nil {
				add("handling", "%v", err)
			}
		}
	}
	if h.RetainUntil != "" && (len(h.RetainUntil) != 10 || !ValidDate(h.RetainUntil)) {
		add("handling.retain_until", "must be a date YYYY-MM-DD")
	}
}

// Handling codes (Handling.Code).
var handlingCodes = []string{"H1", "H2", "H3"}

// ParseCodes reads a handling code: "" or "H0" (none of H1–H3), or H1, H2,
// H3 combined in ascending order with "+". It returns the codes among H1,
// H2, H3 that it holds.
func ParseCodes(code string) ([]string, error) {
	if code == "" || code == "H0" {
		return nil, nil
	}
	parts := strings.Split(code, "+")
	for i, p := range parts {
		if !slices.Contains(handlingCodes, p) || (i > 0 && p <= parts[i-1]) {
			return nil, fmt.Errorf("%q is not a handling code: H0, or H1, H2, H3 combined in ascending order with + (H1+H3)", code)
		}
	}
	return parts, nil
}

// JoinCodes writes codes (among H1, H2, H3, in any order, repeats
// allowed) as a handling code: "" when there are none.
func JoinCodes(codes []string) string {
	var out []string
	for _, c := range handlingCodes {
		if slices.Contains(codes, c) {
			out = append(out, c)
		}
	}
	return strings.Join(out, "+")
}

// Has reports whether h's code includes c (H1, H2 or H3).
func (h *Handling) Has(c string) bool {
	codes, _ := ParseCodes(h.Code)
	return slices.Contains(codes, c)
}

// ParseDot splits a property version stamp "AGENCY:N".
func ParseDot(s string) (agency string, n uint64, err error) {
	a, num, ok := strings.Cut(s, ":")
	if !ok || CheckAgency(a) != nil || !digits(num) || len(num) > 19 || num[0] == '0' {
		return "", 0, fmt.Errorf("%q is not a version stamp AGENCY:N", s)
	}
	for i := 0; i < len(num); i++ {
		n = n*10 + uint64(num[i]-'0')
	}
	return a, n, nil
}

// ContentHash is the SHA-256 of the record's canonical encoding without its
// version information: equal content gives an equal hash on every machine.
func (r *Record) ContentHash() [32]byte {
	sum, _ := ContentHashOf(r.AppendCanonical(nil)) // canonical by construction
	return sum
}

// Clone returns a deep copy of r.
func (r *Record) Clone() *Record {
	c := *r
	c.Properties = make(map[string][]string, len(r.Properties))
	for k, v := range r.Properties {
		c.Properties[k] = append([]string(nil), v...)
	}
	c.Handling.ReleasableTo = append([]string(nil), r.Handling.ReleasableTo...)
	c.Handling.NotReleasableTo = append([]string(nil), r.Handling.NotReleasableTo...)
	c.Handling.Conditions = append([]string(nil), r.Handling.Conditions...)
	if r.Evaluation != nil {
		e := *r.Evaluation
		c.Evaluation = &e
	}
	c.Version.Vector = make(map[string]uint64, len(r.Version.Vector))
	for k, v := range r.Version.Vector {
		c.Version.Vector[k] = v
	}
	c.Version.Props = make(map[string]string, len(r.Version.Props))
	for k, v := range r.Version.Props {
		c.Version.Props[k] = v
	}
	if r.Recalled != nil {
		rc := *r.Recalled
		c.Recalled = &rc
	}
	c.Version.Alts = nil
	if r.Version.Alts != nil {
		c.Version.Alts = make(map[string][]Alt, len(r.Version.Alts))
		for k, alts := range r.Version.Alts {
			cp := make([]Alt, len(alts))
			for i, a := range alts {
				cp[i] = Alt{Dot: a.Dot, Values: append([]string(nil), a.Values...)}
			}
			c.Version.Alts[k] = cp
		}
	}
	if r.Extra != nil {
		c.Extra = make(map[string][]byte, len(r.Extra))
		for k, v := range r.Extra {
			c.Extra[k] = append([]byte(nil), v...)
		}
	}
	return &c
}

// Printable returns s with every control, bidirectional-override and
// invalid byte escaped, safe to show on a terminal.
func Printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := decodeRune(s[i:])
		switch {
		case r == 0xfffd && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidiControl(r) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// HandlingString returns the canonical JSON encoding of h.
func HandlingString(h Handling) string { return string(h.appendCanonical(nil)) }

// ParseHandlingString parses what HandlingString returns.
func ParseHandlingString(s string) (Handling, error) {
	r, err := Decode([]byte(`{"handling":` + s + `}`))
	if err != nil {
		return Handling{}, err
	}
	return r.Handling, nil
}

// Sanitize makes one line of text that may embed escaped values (an error
// message) safe for a terminal: control characters (line breaks
// included, so that a file name cannot start a line of its own),
// bidirectional overrides and invalid bytes are escaped, but backslashes
// are left alone so that escapes already in the text are not doubled.
func Sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := decodeRune(s[i:])
		switch {
		case r == 0xfffd && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidiControl(r) || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Key identifies a record: its id and its origin. Two offices that create
// records under the same id hold two records, never one (SPEC §5).
type Key struct {
	ID, Origin string
}

// Key returns r's key.
func (r *Record) Key() Key { return Key{r.ID, r.Origin} }

// String writes the key as ID@ORIGIN, the reference valise's commands
// accept where a bare id is ambiguous ('@' is in neither ids nor agency
// ids).
func (k Key) String() string { return k.ID + "@" + k.Origin }

// Compare orders keys by id, then origin: the order of records in a
// bundle and in the store.
func (k Key) Compare(o Key) int {
	if c := strings.Compare(k.ID, o.ID); c != 0 {
		return c
	}
	return strings.Compare(k.Origin, o.Origin)
}

// ParseRef reads a record reference: ID, or ID@ORIGIN. origin is "" for a
// bare id.
func ParseRef(s string) (Key, error) {
	id, origin, found := strings.Cut(s, "@")
	if err := CheckID(id); err != nil {
		return Key{}, fmt.Errorf("record %s: %w", Printable(s), err)
	}
	if found {
		if err := CheckAgency(origin); err != nil {
			return Key{}, fmt.Errorf("record %s: origin: %w", Printable(s), err)
		}
	}
	return Key{id, origin}, nil
}

// Refs returns the ids r names in its properties of entity type (the ends
// of a link, a passport's holder), sorted, without repeats.
func (r *Record) Refs() []string {
	s, ok := schemas[r.Schema]
	if !ok {
		return nil
	}
	var out []string
	for name, vals := range r.Properties {
		if p, ok := s.Prop(name); ok && p.Type == TypeEntity {
			out = append(out, vals...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
