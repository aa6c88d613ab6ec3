package formats

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"valise/schema"
)

// Bounds of the UN list reader. A token (a tag, a run of text) larger than
// maxXMLToken or nesting deeper than maxXMLDepth makes the file unreadable;
// an entry with more than maxEntryNodes elements or maxEntryText bytes of
// text is reported and skipped.
const (
	maxXMLToken   = schema.MaxRecordBytes
	maxXMLDepth   = 16
	maxEntryNodes = 4096
	maxEntryText  = schema.MaxRecordBytes
)

var errTokenTooLarge = fmt.Errorf("XML token larger than %d bytes", maxXMLToken)

// tokenLimit lets the XML decoder read at most maxXMLToken bytes (and its
// small read-ahead) past the point where the current token started, so
// that no single token can make it buffer without bound.
type tokenLimit struct {
	r     io.Reader
	n     int64 // bytes read so far
	limit int64
	ioErr error // a failure of the underlying reader, not of the XML
}

func (t *tokenLimit) Read(p []byte) (int, error) {
	if t.n >= t.limit {
		return 0, errTokenTooLarge
	}
	if int64(len(p)) > t.limit-t.n {
		p = p[:t.limit-t.n]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF {
		t.ioErr = err
	}
	return n, err
}

// xnode is one element of a list entry.
type xnode struct {
	name string
	text []byte
	kids []*xnode
	used bool // mapped to a property or note
}

// readUNSC reads the UN Security Council consolidated list: INDIVIDUALS/
// INDIVIDUAL and ENTITIES/ENTITY entries inside CONSOLIDATED_LIST.
func readUNSC(c *collector, br *bufio.Reader) error {
	lim := &tokenLimit{r: br}
	d := xml.NewDecoder(lim)
	d.Strict = true
	next := func() (xml.Token, error) {
		lim.limit = lim.n + maxXMLToken + 4096
		t, err := d.Token()
		if err == io.EOF {
			return nil, err
		}
		if err != nil {
			if lim.ioErr != nil {
				return nil, lim.ioErr
			}
			line, _ := d.InputPos()
			return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, line, err)
		}
		return t, nil
	}
	// skip consumes the rest of an element whose start tag was just read.
	skip := func() error {
		for depth := 1; depth > 0; {
			t, err := next()
			if err != nil {
				return unexpectedEOF(err)
			}
			switch t.(type) {
			case xml.StartElement:
				depth++
				if depth > maxXMLDepth {
					return fmt.Errorf("%w: elements nested deeper than %d", ErrFormat, maxXMLDepth)
				}
			case xml.EndElement:
				depth--
			}
		}
		return nil
	}
	for {
		t, err := next()
		if err == io.EOF {
			return fmt.Errorf("%w: no CONSOLIDATED_LIST element", ErrFormat)
		}
		if err != nil {
			return err
		}
		if s, ok := t.(xml.StartElement); ok {
			if s.Name.Local != "CONSOLIDATED_LIST" {
				return fmt.Errorf("%w: root element is %s, not CONSOLIDATED_LIST", ErrFormat, schema.Printable(s.Name.Local))
			}
			break
		}
	}
	depth := 1 // 1: in the list; 2: in a section
	for depth > 0 && !c.stopped() {
		t, err := next()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch t := t.(type) {
		case xml.EndElement:
			depth--
		case xml.StartElement:
			line, _ := d.InputPos()
			name := t.Name.Local
			switch {
			case depth == 1 && (name == "INDIVIDUALS" || name == "ENTITIES"):
				depth++
			case depth == 2 && (name == "INDIVIDUAL" || name == "ENTITY"):
				e, err := readEntry(next, name, t.Attr)
				if err != nil {
					return err
				}
				if e == nil {
					c.problemf(line, "", "", "list entry larger than %d elements or %d bytes of text", maxEntryNodes, maxEntryText)
					continue
				}
				r, rule := unscRecord(e)
				if r == nil {
					c.problem(line, "", "DATAID", rule)
					continue
				}
				c.add(line, r)
			default:
				c.problemf(line, "", "", "unexpected element %s in the list; skipped", schema.Printable(name))
				if err := skip(); err != nil {
					return err
				}
			}
		}
	}
	for {
		t, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := t.(xml.StartElement); ok {
			return fmt.Errorf("%w: content after the end of CONSOLIDATED_LIST", ErrFormat)
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: the file ends inside the list", ErrFormat)
	}
	return err
}

// readEntry reads the element whose start tag was just read into a tree.
// It returns nil for an entry over the bounds, having consumed it.
func readEntry(next func() (xml.Token, error), name string, attrs []xml.Attr) (*xnode, error) {
	root := &xnode{name: name}
	addAttrs(root, attrs)
	stack := []*xnode{root}
	nodes, text := 1, 0
	tooBig := false
	for len(stack) > 0 {
		t, err := next()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		top := stack[len(stack)-1]
		switch t := t.(type) {
		case xml.StartElement:
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrFormat, maxXMLDepth)
			}
			n := &xnode{name: t.Name.Local}
			nodes++
			if !tooBig {
				addAttrs(n, t.Attr)
				top.kids = append(top.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			text += len(t)
			if !tooBig {
				top.text = append(top.text, t...)
			}
		}
		if nodes > maxEntryNodes || text > maxEntryText {
			tooBig = true
		}
	}
	if tooBig {
		return nil, nil
	}
	return root, nil
}

// addAttrs keeps attributes as children named "@name", so that they are
// kept like elements.
func addAttrs(n *xnode, attrs []xml.Attr) {
	for _, a := range attrs {
		n.kids = append(n.kids, &xnode{name: "@" + a.Name.Local, text: []byte(a.Value)})
	}
}

// take returns the children called name and marks them used.
func (n *xnode) take(name string) []*xnode {
	var out []*xnode
	for _, k := range n.kids {
		if k.name == name && !k.used {
			k.used = true
			out = append(out, k)
		}
	}
	return out
}

// first returns the cleaned text of the first unused child called name and
// marks it used; further children of that name stay for the residue.
func (n *xnode) first(name string) string {
	for _, k := range n.kids {
		if k.name == name && !k.used {
			k.used = true
			return clean(k.text)
		}
	}
	return ""
}

// values returns the texts of the VALUE children of every child called name.
func (n *xnode) values(name string) []string {
	var out []string
	for _, k := range n.take(name) {
		for _, v := range k.take("VALUE") {
			if s := clean(v.text); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// describe returns "label value; label value" for the children named in
// pairs (tag, label), marking them used.
func (n *xnode) describe(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		for {
			v := n.first(pairs[i])
			if v == "" {
				if !n.has(pairs[i]) {
					break
				}
				continue
			}
			parts = append(parts, pairs[i+1]+" "+v)
		}
	}
	return strings.Join(parts, "; ")
}

// has reports an unused child called name.
func (n *xnode) has(name string) bool {
	for _, k := range n.kids {
		if k.name == name && !k.used {
			return true
		}
	}
	return false
}

// residue keeps the text of every element the mapping did not use, labelled
// with its path in the entry.
func (n *xnode) residue(b *builder, prefix string) {
	for _, k := range n.kids {
		path := prefix + k.name
		// The mapping reads the text of leaves only: a used element that
		// has child elements still has its own text to keep.
		if !k.used || hasElements(k) {
			b.note(path, clean(k.text))
		}
		k.residue(b, path+"/")
	}
}

func hasElements(n *xnode) bool {
	for _, k := range n.kids {
		if !strings.HasPrefix(k.name, "@") {
			return true
		}
	}
	return false
}

// clean trims a value and turns each run of white space that holds a line
// break or tab into one space (the list wraps long values over lines);
// other runs of spaces are kept.
func clean(b []byte) string {
	s := strings.TrimSpace(string(b))
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			j, ctl := i, false
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				ctl = ctl || s[j] != ' '
				j++
			}
			if ctl {
				out.WriteByte(' ')
			} else {
				out.WriteString(s[i:j])
			}
			i = j
			continue
		}
		out.WriteByte(s[i])
		i++
	}
	return out.String()
}

var nameParts = [...]struct{ tag, prop, label string }{
	{"FIRST_NAME", "firstName", "First name"},
	{"SECOND_NAME", "secondName", "Second name"},
	{"THIRD_NAME", "middleName", "Third name"},
	{"FOURTH_NAME", "lastName", "Fourth name"},
}

// unscRecord maps one INDIVIDUAL (Person) or ENTITY (Organization); see
// doc.go for the table. It returns nil and a rule when the entry has no
// usable DATAID.
func unscRecord(e *xnode) (*schema.Record, string) {
	dataID := e.first("DATAID")
	if !digitsOnly(dataID) || len(dataID) > 32 {
		return nil, fmt.Sprintf("%q is not a list entry number", dataID)
	}
	person := e.name == "INDIVIDUAL"
	typ := "Organization"
	if person {
		typ = "Person"
	}
	b := newBuilder("un-sc-"+dataID, typ)

	var parts []string
	for i, p := range nameParts {
		v := e.first(p.tag)
		if v == "" {
			continue
		}
		parts = append(parts, v)
		if person || i > 0 {
			b.add(p.prop, v, p.label)
		}
	}
	b.add("name", strings.Join(parts, " "), "Name")
	b.add("name", e.first("NAME_ORIGINAL_SCRIPT"), "Name in original script")
	b.add("unscId", e.first("REFERENCE_NUMBER"), "UN reference number")
	b.add("program", e.first("UN_LIST_TYPE"), "UN list")
	b.addDate("createdAt", e.first("LISTED_ON"), "Listed on")
	for _, k := range e.take("COMMENTS1") {
		if s := strings.TrimSpace(string(k.text)); s != "" {
			b.notes = append(b.notes, s)
		}
	}
	if g := e.first("GENDER"); g != "" {
		if lg := strings.ToLower(g); lg == "male" || lg == "female" {
			b.add("gender", lg, "Gender")
		} else {
			b.note("Gender", g)
		}
	}
	for _, v := range e.values("TITLE") {
		b.add("title", v, "Title")
	}
	for _, v := range e.values("DESIGNATION") {
		b.add("position", v, "Designation")
	}
	for _, v := range e.values("NATIONALITY") {
		b.addCountry("nationality", v, "Nationality")
	}
	for _, v := range e.take("NATIONALITY2") {
		b.addCountry("nationality", clean(v.text), "Nationality")
	}
	for _, v := range e.values("LAST_DAY_UPDATED") {
		b.addDate("modifiedAt", v, "Last updated")
	}
	for _, v := range e.values("LIST_TYPE") {
		b.note("List type", v)
	}
	b.note("UN version", e.first("VERSIONNUM"))

	for _, a := range append(e.take("INDIVIDUAL_ALIAS"), e.take("ENTITY_ALIAS")...) {
		q, n := a.first("QUALITY"), a.first("ALIAS_NAME")
		prop := "alias"
		switch strings.ToLower(q) {
		case "good", "a.k.a.", "":
		case "low":
			prop = "weakAlias"
		case "f.k.a.":
			prop = "previousName"
		default:
			b.note("Alias quality", q+": "+n)
		}
		if n == "" && q != "" {
			b.note("Alias quality", q)
		}
		b.add(prop, n, "Alias")
		if d := a.describe("DATE_OF_BIRTH", "date of birth", "CITY_OF_BIRTH", "city of birth",
			"COUNTRY_OF_BIRTH", "country of birth", "NOTE", "note"); d != "" {
			b.note("Alias "+n, d)
		}
	}
	for _, a := range append(e.take("INDIVIDUAL_ADDRESS"), e.take("ENTITY_ADDRESS")...) {
		country := a.first("COUNTRY")
		var ps []string
		for _, tag := range []string{"STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE"} {
			if v := a.first(tag); v != "" {
				ps = append(ps, v)
			}
		}
		if country != "" {
			ps = append(ps, country)
		}
		if v := a.first("NOTE"); v != "" {
			ps = append(ps, v)
		}
		b.add("address", strings.Join(ps, ", "), "Address")
		if code := countryCode(country); code != "" {
			b.add("country", code, "Country")
		}
	}
	for _, d := range e.take("INDIVIDUAL_DATE_OF_BIRTH") {
		typ, note := d.first("TYPE_OF_DATE"), d.first("NOTE")
		date, year, from, to := d.first("DATE"), d.first("YEAR"), d.first("FROM_YEAR"), d.first("TO_YEAR")
		for _, v := range []string{date, year, from, to} {
			if iso, _ := isoDate(v); iso != "" {
				b.add("birthDate", iso, "Date of birth")
			}
		}
		_, wholeDate := isoDate(date)
		_, wholeYear := isoDate(year)
		plain := typ == "EXACT" && note == "" && from == "" && to == "" &&
			(date != "" && year == "" && wholeDate || year != "" && date == "" && wholeYear)
		if !plain {
			var ds []string
			for _, f := range [][2]string{{"type", typ}, {"date", date}, {"year", year}, {"from year", from},
				{"to year", to}, {"note", note}} {
				if f[1] != "" {
					ds = append(ds, f[0]+" "+f[1])
				}
			}
			b.note("Date of birth", strings.Join(ds, "; "))
		}
	}
	for _, p := range e.take("INDIVIDUAL_PLACE_OF_BIRTH") {
		var ps []string
		country := ""
		for _, tag := range []string{"CITY", "STATE_PROVINCE", "COUNTRY", "NOTE"} {
			if v := p.first(tag); v != "" {
				ps = append(ps, v)
				if tag == "COUNTRY" {
					country = v
				}
			}
		}
		b.add("birthPlace", strings.Join(ps, ", "), "Place of birth")
		if code := countryCode(country); code != "" {
			b.add("birthCountry", code, "Country of birth")
		}
	}
	for _, doc := range e.take("INDIVIDUAL_DOCUMENT") {
		typ, typ2 := doc.first("TYPE_OF_DOCUMENT"), doc.first("TYPE_OF_DOCUMENT2")
		number := doc.first("NUMBER")
		if number != "" {
			prop := "idNumber"
			if isPassport(typ) || isPassport(typ2) {
				prop = "passportNumber"
			}
			b.add(prop, number, "Document number")
		}
		var ds []string
		for _, f := range [][2]string{{"type", typ}, {"type 2", typ2}, {"number", number}} {
			if f[1] != "" {
				ds = append(ds, f[0]+" "+f[1])
			}
		}
		if rest := doc.describe("ISSUING_COUNTRY", "issuing country", "DATE_OF_ISSUE", "date of issue",
			"CITY_OF_ISSUE", "city of issue", "COUNTRY_OF_ISSUE", "country of issue", "NOTE", "note"); rest != "" {
			ds = append(ds, rest)
		}
		b.note("Document", strings.Join(ds, "; "))
	}
	b.note("Submitted by", e.first("SUBMITTED_BY"))
	b.note("Submitted on", e.first("SUBMITTED_ON"))
	b.note("Sort key", e.first("SORT_KEY"))
	b.note("Sort key last modified", e.first("SORT_KEY_LAST_MOD"))
	b.note("Delisted on", e.first("DELISTED_ON"))
	e.residue(b, "")
	return b.record(), ""
}

func isPassport(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "passport") || strings.Contains(t, "passeport") || strings.Contains(t, "pasaporte")
}
