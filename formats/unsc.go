package formats

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
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
				recs, rule := unscEntry(e)
				if recs == nil {
					c.problem(line, "", "DATAID", rule)
					continue
				}
				// The records derived from a party that is refused are
				// left out with it: the entry is not read.
				if c.add(line, recs[0]) {
					for _, r := range recs[1:] {
						c.add(line, r)
					}
				}
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

// unTopics are the FtM topics a UN list gives its entries beyond
// "sanction".
var unTopics = map[string][]string{"Al-Qaida": {"crime.terror"}}

// unAuthority is the authority of every UN sanction.
const unAuthority = "United Nations Security Council"

// unscEntry maps one INDIVIDUAL (Person) or ENTITY (LegalEntity) to its
// records; see doc.go for the table. It returns nil and a rule when the
// entry has no usable DATAID.
func unscEntry(e *xnode) ([]*schema.Record, string) {
	dataID := e.first("DATAID")
	if !digitsOnly(dataID) || len(dataID) > 32 {
		return nil, fmt.Sprintf("%q is not a list entry number", dataID)
	}
	person := e.name == "INDIVIDUAL"
	typ := "LegalEntity"
	if person {
		typ = "Person"
	}
	en := newEntry("un-sc-"+dataID, typ)
	b := en.main
	sanction := en.sanction(unAuthority)

	var parts []string
	for _, tag := range []string{"FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"} {
		if v := e.first(tag); v != "" {
			parts = append(parts, v)
		}
	}
	b.add("name", strings.Join(parts, " "), "Name")
	// The parts are given name first and family name last, whatever their
	// number: a name of three parts has a second name between them.
	if n := len(parts); person && n >= 2 {
		b.add("firstName", parts[0], "First name")
		b.add("lastName", parts[n-1], "Last name")
		if n >= 3 {
			b.add("secondName", parts[1], "Second name")
		}
		if n == 4 {
			b.add("middleName", parts[2], "Third name")
		}
	}
	b.add("alias", e.first("NAME_ORIGINAL_SCRIPT"), "Name in original script")
	b.add("topics", "sanction", "Topic")
	listType := e.first("UN_LIST_TYPE")
	b.add("program", listType, "UN list")
	sanction.add("program", listType, "UN list")
	for _, t := range unTopics[listType] {
		b.add("topics", t, "Topic")
	}
	sanction.add("unscId", e.first("REFERENCE_NUMBER"), "UN reference number")
	listed := e.first("LISTED_ON")
	b.addDate("createdAt", listed, "Listed on")
	if d, _ := isoDate(listed); d != "" {
		sanction.add("listingDate", d, "Listed on") // the party's notes keep a time zone
	}
	sanction.addDate("endDate", e.first("DELISTED_ON"), "Delisted on")
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
		// A few entries list several names in one alias, "; "-separated.
		for _, name := range strings.Split(n, ";") {
			b.add(prop, strings.TrimSpace(name), "Alias")
		}
		if d := a.describe("DATE_OF_BIRTH", "date of birth", "CITY_OF_BIRTH", "city of birth",
			"COUNTRY_OF_BIRTH", "country of birth", "NOTE", "note"); d != "" {
			b.note("Alias "+n, d)
		}
	}
	for _, a := range append(e.take("INDIVIDUAL_ADDRESS"), e.take("ENTITY_ADDRESS")...) {
		en.address(a.first("STREET"), a.first("CITY"), a.first("STATE_PROVINCE"), a.first("ZIP_CODE"),
			a.first("COUNTRY"), a.first("NOTE"))
	}
	for _, d := range e.take("INDIVIDUAL_DATE_OF_BIRTH") {
		unBirthDate(b, d)
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
		unDocument(en, doc)
	}
	b.note("Submitted by", e.first("SUBMITTED_BY"))
	b.note("Submitted on", e.first("SUBMITTED_ON"))
	b.note("Sort key", e.first("SORT_KEY"))
	b.note("Sort key last modified", e.first("SORT_KEY_LAST_MOD"))
	e.residue(b, "")
	return en.records(), ""
}

// unDocument maps one INDIVIDUAL_DOCUMENT to a Passport or an
// Identification; one without a number stays in the party's notes.
func unDocument(en *entry, doc *xnode) {
	typ, typ2 := doc.first("TYPE_OF_DOCUMENT"), doc.first("TYPE_OF_DOCUMENT2")
	number := doc.first("NUMBER")
	if number == "" {
		var ds []string
		for _, f := range [][2]string{{"type", typ}, {"type 2", typ2}} {
			if f[1] != "" {
				ds = append(ds, f[0]+" "+f[1])
			}
		}
		if rest := doc.describe("ISSUING_COUNTRY", "issuing country", "DATE_OF_ISSUE", "date of issue",
			"CITY_OF_ISSUE", "city of issue", "COUNTRY_OF_ISSUE", "country of issue", "NOTE", "note"); rest != "" {
			ds = append(ds, rest)
		}
		en.main.note("Document", strings.Join(ds, "; "))
		return
	}
	var summary []string
	country := doc.first("ISSUING_COUNTRY")
	if c2 := doc.first("COUNTRY_OF_ISSUE"); c2 != "" {
		if country == "" {
			country = c2
		} else {
			summary = append(summary, "country of issue "+c2)
		}
	}
	if country != "" && countryCode(country) == "" {
		summary = append(summary, "issuing country "+country)
		country = ""
	}
	if v := doc.first("CITY_OF_ISSUE"); v != "" {
		summary = append(summary, "city of issue "+v)
	}
	issued := doc.first("DATE_OF_ISSUE")
	if d, whole := isoDate(issued); issued != "" && (d == "" || !whole) {
		summary = append(summary, "date of issue "+issued)
	}
	if v := doc.first("NOTE"); v != "" {
		summary = append(summary, v)
	}
	docType := strings.TrimSpace(typ + " " + typ2)
	passport, prop := isPassport(typ) || isPassport(typ2), "idNumber"
	if passport {
		prop = "passportNumber"
	}
	en.document(passport, prop, number, docType, country, issued, "", strings.Join(summary, "; "))
}

// maxYearRange bounds the birth years a range of years gives: "between
// 1940 and 1990" says too little to list every year.
const maxYearRange = 20

// unBirthDate maps one INDIVIDUAL_DATE_OF_BIRTH: an exact date or year is
// a birth date; an approximate year is a birth date of year precision,
// which is how FtM says "about"; a range gives each of its years (at most
// maxYearRange), so that a matcher compares it as FtM data lets it. What
// FtM cannot say (that a date is approximate or a range, a note) is kept
// in a note.
func unBirthDate(b *builder, d *xnode) {
	typ, note := d.first("TYPE_OF_DATE"), d.first("NOTE")
	date, year, from, to := d.first("DATE"), d.first("YEAR"), d.first("FROM_YEAR"), d.first("TO_YEAR")
	var said []string
	for _, v := range []string{date, year} {
		if v == "" {
			continue
		}
		iso, whole := isoDate(v)
		if iso != "" {
			b.add("birthDate", iso, "Date of birth")
		}
		if !whole || typ == "APPROXIMATELY" {
			said = append(said, v)
		}
	}
	if from != "" || to != "" {
		f, errF := strconv.Atoi(from)
		t, errT := strconv.Atoi(to)
		if errF == nil && errT == nil && len(from) == 4 && len(to) == 4 && f <= t && t-f <= maxYearRange {
			for y := f; y <= t; y++ {
				b.add("birthDate", strconv.Itoa(y), "Date of birth")
			}
		}
		said = append(said, "between "+from+" and "+to)
	}
	switch {
	case typ == "APPROXIMATELY":
		said = append([]string{"approximately"}, said...)
	case typ == "BETWEEN" && (from != "" || to != ""), typ == "":
	case typ != "EXACT", date == "" && year == "":
		said = append([]string{"type " + typ}, said...)
	}
	if note != "" {
		said = append(said, "note "+note)
	}
	if len(said) > 0 {
		b.note("Date of birth", strings.Join(said, " "))
	}
}

func isPassport(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "passport") || strings.Contains(t, "passeport") || strings.Contains(t, "pasaporte")
}
