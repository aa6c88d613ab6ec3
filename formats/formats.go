package formats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"valise/schema"
)

// Format names.
const (
	JSONL   = "jsonl"    // valise's own form: one record per line, schema.Decode
	FtM     = "ftm"      // FollowTheMoney entity JSON lines, and FtM delta files ({"op":"ADD"|"MOD"|"DEL","entity":{...}})
	CSV     = "csv"      // header row naming properties; `id` column required; `;` separates multiple values; --type gives the schema
	UNSC    = "un-sc"    // UN Security Council consolidated list XML
	OFACSDN = "ofac-sdn" // US Treasury SDN CSV
)

// Formats lists every format name Stream accepts, in a stable order.
var Formats = []string{JSONL, FtM, CSV, UNSC, OFACSDN}

// Sentinel errors of Stream and Detect.
var (
	// ErrFormat is wrapped by the errors that concern a file as a whole:
	// format not recognised, unusable header, broken structure.
	ErrFormat = errors.New("unreadable record file")
	// ErrOptions is wrapped by the errors that concern the Options: an
	// unknown format or type, an invalid origin or handling, or one that
	// the file's format needs and that is missing.
	ErrOptions = errors.New("invalid read options")
)

// Options for Stream.
type Options struct {
	Format   string          // "" = detect from name and first bytes (Detect)
	Type     string          // schema for CSV rows (required for CSV unless the CSV has a `schema` column)
	Handling schema.Handling // handling given to records whose input carries none (TLP at least)
	Origin   string          // agency put in Origin of records whose input carries none
	// Unique, when not nil, is asked about each id in file order: every
	// record whose id is well-formed, valid or not, and every tombstone.
	// A rule it returns ("duplicate id: also on line 3") files the item as
	// that problem, instead of a record, a tombstone or its other
	// problems. Stream itself keeps no ids: finding duplicates takes
	// memory in proportion to the file, and the caller knows how.
	Unique func(line int, id string, tombstone bool) (rule string)
}

// Problem is one invalid input item: file, line, record id, property, rule.
type Problem struct {
	File     string
	Line     int    // 1-based line where the item starts; 0 when not known
	ID       string // record id, when known
	Property string // property, column or envelope field, when the problem is in one
	Rule     string // what is wrong
}

// Error reads like "people.csv:12: record P-7: property birthDate: value 1
// "1975-13-01": not an ISO 8601 date ...". Every part that comes from the
// input is escaped with schema.Printable.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(schema.Printable(p.File))
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.ID != "" {
		fmt.Fprintf(&b, "record %s: ", schema.Printable(p.ID))
	}
	if p.Property != "" {
		fmt.Fprintf(&b, "property %s: ", schema.Printable(p.Property))
	}
	b.WriteString(p.Rule)
	return b.String()
}

// Unwrap makes every Problem an schema.ErrInvalid.
func (p *Problem) Unwrap() error { return schema.ErrInvalid }

// Edition returns the name of the published list whose complete edition a
// file of format is ("un-sc", "ofac-sdn"), or "". The records held from
// that list and absent from an edition that Stream read without problems
// are to be tombstoned by the caller: an entry that failed is absent too,
// and must not be tombstoned for it.
func Edition(format string) string {
	if format == UNSC || format == OFACSDN {
		return format
	}
	return ""
}

// headSize is how much of a file Stream looks at to detect its format.
const headSize = 64 << 10

// Detect names the format of a file from its name and its first bytes
// (head; a few KiB are enough). It returns an error wrapping ErrFormat when
// neither tells.
func Detect(name string, head []byte) (string, error) {
	head = bytes.TrimPrefix(head, utf8BOM)
	lower := strings.ToLower(filepath.Base(name))
	ext := filepath.Ext(lower)
	first := firstByte(head)
	switch {
	case ext == ".xml" || (first == '<' && !isJSONName(ext) && ext != ".csv"):
		if bytes.Contains(head, []byte("<CONSOLIDATED_LIST")) {
			return UNSC, nil
		}
		return "", fmt.Errorf("%w: %s: XML that is not a UN Security Council consolidated list", ErrFormat, schema.Printable(name))
	case isJSONName(ext) && first == 0:
		// An empty file of records, as an export of nothing writes.
		if ext == ".jsonl" || ext == ".ndjson" {
			return JSONL, nil
		}
		return FtM, nil
	case isJSONName(ext) || first == '{':
		if first == '[' {
			return "", fmt.Errorf("%w: %s: a JSON array; valise reads one JSON object per line: write one per line (jq -c '.[]')", ErrFormat, schema.Printable(name))
		}
		if first != '{' {
			return "", fmt.Errorf("%w: %s: does not start with a JSON object", ErrFormat, schema.Printable(name))
		}
		if what := foreignJSON(head); what != "" {
			return "", fmt.Errorf("%w: %s: %s", ErrFormat, schema.Printable(name), what)
		}
		line, _, _ := bytes.Cut(head, []byte("\n"))
		for _, k := range topKeys(line) {
			switch k {
			case "origin", "handling", "version", "deleted", "evaluation":
				return JSONL, nil
			}
		}
		return FtM, nil
	case ext == ".csv" || ext == ".txt" || ext == "":
		if looksOFAC(head) {
			return OFACSDN, nil
		}
		if ext == ".csv" || looksCSVHeader(head) {
			return CSV, nil
		}
	}
	return "", fmt.Errorf("%w: %s: cannot tell the format; name it (jsonl, ftm, csv, un-sc, ofac-sdn)", ErrFormat, schema.Printable(name))
}

var utf8BOM = []byte("\xef\xbb\xbf")

func isJSONName(ext string) bool {
	return ext == ".json" || ext == ".jsonl" || ext == ".ndjson" || ext == ".ftm"
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// topKeys returns the top-level keys of the JSON object that starts b, as
// far as b goes: b may be cut short.
func topKeys(b []byte) []string {
	keys, _ := topFields(b)
	return keys
}

// topFields returns the top-level keys of the JSON object that starts b,
// as far as b goes (b may be cut short), and the values of those that are
// strings.
func topFields(b []byte) (keys []string, strs map[string]string) {
	strs = map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, strs
	}
	for dec.More() {
		t, err := dec.Token()
		k, ok := t.(string)
		if err != nil || !ok {
			return keys, strs
		}
		keys = append(keys, k)
		depth := 0
		for {
			t, err := dec.Token()
			if err != nil {
				return keys, strs
			}
			switch t {
			case json.Delim('{'), json.Delim('['):
				depth++
			case json.Delim('}'), json.Delim(']'):
				depth--
			default:
				if v, ok := t.(string); ok && depth == 0 {
					strs[k] = v
				}
			}
			if depth == 0 {
				break
			}
		}
	}
	return keys, strs
}

// readsInstead is what an ingest of a file of another kind is told.
const readsInstead = "valise reads FollowTheMoney entities, valise JSON lines, CSV, and the UN and OFAC lists"

// foreignJSON names the JSON files valise does not read but a data
// officer may well hold, in one line that says what valise reads instead:
// STIX 2.1 bundles, MISP events and object templates, and JSON objects
// spread over several lines. It returns "" for anything else.
func foreignJSON(head []byte) string {
	keys, strs := topFields(head)
	has := func(k string) bool {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
		return false
	}
	switch {
	case strs["type"] == "bundle" && (has("objects") || strings.HasPrefix(strs["id"], "bundle--")):
		return "a STIX 2.1 bundle of threat-intelligence objects, not records of people and organisations; " + readsInstead
	case has("Event") || has("Attribute") || has("Object") || has("Orgc"):
		return "a MISP event of threat-intelligence attributes, not records of people and organisations; " + readsInstead
	case has("meta-category") || has("attributes") && bytes.Contains(head, []byte(`"misp-attribute"`)):
		return "a MISP object template, not records; " + readsInstead
	}
	// One object over several lines: its first line is no JSON on its own.
	line, _, multi := bytes.Cut(head, []byte("\n"))
	if !multi || json.Valid(bytes.TrimSpace(line)) {
		return ""
	}
	var v json.RawMessage
	err := json.NewDecoder(bytes.NewReader(head)).Decode(&v)
	if err == nil || err == io.ErrUnexpectedEOF {
		return "a JSON object spread over several lines; valise reads one JSON object per line (FtM or valise JSON lines): write one per line (jq -c .)"
	}
	return ""
}

// looksOFAC reports a headerless SDN row: ent_num, then a quoted name, 12
// fields, and the "-0-" empty marker.
func looksOFAC(head []byte) bool {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || !bytes.HasPrefix(line[i:], []byte(`,"`)) || !bytes.Contains(line, []byte("-0-")) {
		return false
	}
	f, rule := parseCSVLine(line)
	return rule == "" && len(f) == len(ofacColumns)
}

// looksCSVHeader reports a first line that names an id column.
func looksCSVHeader(head []byte) bool {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	f, rule := parseCSVLine(bytes.TrimSuffix(line, []byte("\r")))
	if rule != "" {
		return false
	}
	for _, c := range f {
		if c == "id" {
			return true
		}
	}
	return false
}

// Item is one thing Stream read: a valid record (with the defaults of
// Options applied), a tombstone, or a problem.
type Item struct {
	Line    int            // 1-based line where the item starts; 0 when not known
	Record  *schema.Record // a valid record, or nil
	Delete  string         // the id of a tombstone, or ""
	Problem *Problem       // an invalid item, or nil
}

// Stream reads one record file and hands each item to fn as soon as it
// is read: a valid record, in file order, a tombstone, or a problem (an
// invalid item is left out and reading goes on). Its memory does not grow
// with the file, but for the OFAC list, which it holds to resolve the
// names its entries give each other. The error is for I/O failures, files
// unreadable as a whole (unknown format, CSV without usable header, broken
// XML: errors that wrap ErrFormat) and unusable Options (ErrOptions); an
// error from fn stops the reading and is returned as it is. Stream returns
// the format it read.
func Stream(name string, r io.Reader, opts Options, fn func(Item) error) (string, error) {
	br := bufio.NewReaderSize(r, headSize)
	format := opts.Format
	if format == "" {
		head, err := br.Peek(headSize)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return "", fmt.Errorf("reading %s: %w", schema.Printable(name), err)
		}
		if format, err = Detect(name, head); err != nil {
			return "", err
		}
	}
	if err := checkOptions(format, opts); err != nil {
		return "", fmt.Errorf("reading %s: %w", schema.Printable(name), err)
	}
	c := &collector{name: name, opts: opts, emit: fn, unique: opts.Unique}
	if err := c.read(br, format); err != nil {
		if c.err != nil {
			return format, err
		}
		return format, fmt.Errorf("reading %s: %w", schema.Printable(name), err)
	}
	return format, nil
}

func (c *collector) read(br *bufio.Reader, format string) error {
	var err error
	switch format {
	case JSONL, FtM:
		err = readJSONLines(c, br, format)
	case CSV:
		err = readCSV(c, br)
	case UNSC:
		err = readUNSC(c, br)
	case OFACSDN:
		err = readOFAC(c, br)
	}
	if c.err != nil {
		return c.err
	}
	return err
}

// checkOptions refuses invalid options, and missing ones for formats whose
// input never carries an origin or a handling.
func checkOptions(format string, opts Options) error {
	if opts.Origin != "" {
		if err := schema.CheckAgency(opts.Origin); err != nil {
			return fmt.Errorf("%w: origin: %v", ErrOptions, err)
		}
	}
	h := opts.Handling
	if h.TLP != "" || h.Code != "" || len(h.ReleasableTo) > 0 || len(h.NotReleasableTo) > 0 || h.RetainUntil != "" {
		probe := &schema.Record{ID: "options", Schema: "Note", Origin: "XX", Handling: h,
			Properties: map[string][]string{"name": {"options"}}}
		for _, p := range probe.Validate() {
			return fmt.Errorf("%w: %s: %s", ErrOptions, p.Property, p.Rule)
		}
	}
	switch format {
	case FtM, UNSC, OFACSDN:
		if opts.Origin == "" {
			return fmt.Errorf("%w: %s records carry no origin: give the agency that ingests them", ErrOptions, format)
		}
		if h.TLP == "" {
			return fmt.Errorf("%w: %s records carry no handling: give a TLP level", ErrOptions, format)
		}
	case JSONL, CSV:
	default:
		return fmt.Errorf("%w: unknown format %q (want one of %s)", ErrOptions, format, strings.Join(Formats, ", "))
	}
	if opts.Type != "" {
		if s, ok := schema.Get(opts.Type); !ok || s.Abstract {
			return fmt.Errorf("%w: type %q is not a record type (want one of %s)", ErrOptions,
				opts.Type, strings.Join(schema.Names(), ", "))
		}
	}
	return nil
}

// collector hands the items of one file to emit: it applies the defaults
// of Options, asks unique about ids, validates and files each item as a
// record or a problem.
type collector struct {
	name   string
	opts   Options
	unique func(line int, id string, tombstone bool) string // Options.Unique, or nil
	// emit receives each item; its first error is kept in err and stops
	// the reader.
	emit func(Item) error
	err  error
}

// stopped reports an error of emit: the readers stop at once.
func (c *collector) stopped() bool { return c.err != nil }

func (c *collector) send(it Item) {
	if c.err == nil {
		c.err = c.emit(it)
	}
}

func (c *collector) problem(line int, id, prop, rule string) {
	c.send(Item{Line: line, Problem: &Problem{File: c.name, Line: line, ID: id, Property: prop, Rule: rule}})
}

func (c *collector) problemf(line int, id, prop, format string, args ...any) {
	c.problem(line, id, prop, fmt.Sprintf(format, args...))
}

// first reports whether id may be read, and files the problem unique
// gives when it may not.
func (c *collector) first(line int, id string, tombstone bool) bool {
	if c.unique == nil {
		return true
	}
	if rule := c.unique(line, id, tombstone); rule != "" {
		c.problem(line, id, "", rule)
		return false
	}
	return true
}

// add validates r and hands it out, or files its problems; it reports
// whether r was handed out.
func (c *collector) add(line int, r *schema.Record) bool {
	if r.ID != "" && schema.CheckID(r.ID) == nil && !c.first(line, r.ID, false) {
		return false
	}
	r.Version = schema.Version{}
	if r.Origin == "" {
		r.Origin = c.opts.Origin
	}
	h := &r.Handling
	if h.TLP == "" && h.Code == "" && len(h.ReleasableTo) == 0 && len(h.NotReleasableTo) == 0 && h.RetainUntil == "" {
		*h = c.opts.Handling
		h.ReleasableTo = cloneStrings(h.ReleasableTo)
		h.NotReleasableTo = cloneStrings(h.NotReleasableTo)
	} else if h.TLP == "" {
		h.TLP = c.opts.Handling.TLP
	}
	normalize(r)
	if ps := r.Validate(); len(ps) > 0 {
		for _, p := range ps {
			c.problem(line, p.ID, p.Property, p.Rule)
		}
		return false
	}
	if tooLarge(r) {
		c.problemf(line, r.ID, "", "record longer than %d bytes in canonical form", schema.MaxRecordBytes)
		return false
	}
	c.send(Item{Line: line, Record: r})
	return true
}

// normalize writes what every input format may spell either way in the
// one form valise keeps, so that the formats share one rule: country
// codes in lowercase ("KZ" is "kz", as in a CSV cell), the TLP level in
// lowercase.
func normalize(r *schema.Record) {
	r.Handling.TLP = strings.ToLower(r.Handling.TLP)
	s, ok := schema.Get(r.Schema)
	if !ok {
		return
	}
	for name, vals := range r.Properties {
		if p, ok := s.Prop(name); ok && p.Type == schema.TypeCountry {
			for i, v := range vals {
				if len(v) == 2 {
					vals[i] = strings.ToLower(v)
				}
			}
		}
	}
}

// tooLarge reports a record whose canonical encoding exceeds
// schema.MaxRecordBytes, which Validate does not check. It encodes only the
// records that a cheap upper bound cannot clear (a valid value at most
// doubles when escaped).
func tooLarge(r *schema.Record) bool {
	n := 512 + len(r.ID) + len(r.Schema) + len(r.Origin) + len(r.Handling.RetainUntil)
	for _, l := range [][]string{r.Handling.ReleasableTo, r.Handling.NotReleasableTo} {
		for _, a := range l {
			n += len(a) + 3
		}
	}
	for name, values := range r.Properties {
		n += 2*len(name) + 6
		for _, v := range values {
			n += 2*len(v) + 3
		}
	}
	for k, v := range r.Extra {
		n += 2*len(k) + 4 + len(v)
	}
	if n <= schema.MaxRecordBytes {
		return false
	}
	return len(r.AppendCanonical(nil)) > schema.MaxRecordBytes
}

// del files a tombstone for id.
func (c *collector) del(line int, id string) {
	if err := schema.CheckID(id); err != nil {
		c.problem(line, id, "", err.Error())
		return
	}
	if !c.first(line, id, true) {
		return
	}
	c.send(Item{Line: line, Delete: id})
}

func cloneStrings(l []string) []string {
	if l == nil {
		return nil
	}
	return append([]string(nil), l...)
}

// lineReader hands out the lines of a file one by one, never holding more
// than max bytes of one line: a longer line is skipped and reported.
type lineReader struct {
	br   *bufio.Reader
	max  int
	buf  []byte
	line int // number of the line last returned, 1-based
}

func newLineReader(br *bufio.Reader, max int) *lineReader {
	return &lineReader{br: br, max: max}
}

// next returns the next line with its terminator ("\n", "\r\n" or none at
// the end of the file). The slice is valid until the next call. tooLong
// reports a line longer than max bytes, whose content is not returned. At
// the end of the input next returns io.EOF.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			if !tooLong {
				if len(l.buf)+len(chunk) > l.max {
					tooLong = true
					l.buf = l.buf[:0]
				} else {
					l.buf = append(l.buf, chunk...)
				}
			}
			continue
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		if err == io.EOF && len(chunk) == 0 && len(l.buf) == 0 && !tooLong {
			return nil, false, io.EOF
		}
		l.line++
		if tooLong || len(l.buf)+len(chunk) > l.max {
			l.buf = l.buf[:0]
			return nil, true, nil
		}
		if len(l.buf) == 0 {
			return chunk, false, nil
		}
		l.buf = append(l.buf, chunk...)
		return l.buf, false, nil
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// badUTF8 returns the offset of the first malformed UTF-8 byte in s, or -1.
func badUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// sortedProps returns the names of r's properties, sorted.
func sortedProps(props map[string][]string) []string {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
