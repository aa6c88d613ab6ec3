package formats

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"valise/schema"
)

// ofacColumns are the twelve columns of sdn.csv, which has no header row.
var ofacColumns = []string{"ent_num", "SDN_Name", "SDN_Type", "Program", "Title", "Call_Sign",
	"Vess_type", "Tonnage", "GRT", "Vess_flag", "Vess_owner", "Remarks"}

const (
	ofacNum = iota
	ofacName
	ofacType
	ofacProgram
	ofacTitle
	ofacCallSign
	ofacVessType
	ofacTonnage
	ofacGRT
	ofacFlag
	ofacOwner
	ofacRemarks
)

// maxOFACBytes bounds the SDN list the reader holds: remarks name other
// entries ("Linked To: NAME"), forwards as well as backwards, so the whole
// list is read before its first record is handed out. The real list is
// about 4 MB.
const maxOFACBytes = 256 << 20

// ofacRow is one row of the list, read and checked.
type ofacRow struct {
	line   int
	id     string
	fields []string
}

// readOFAC reads the US Treasury SDN list in its CSV form. It reads every
// row first, to know the names that remarks and owners refer to, then maps
// each row to its records.
func readOFAC(c *collector, br *bufio.Reader) error {
	p := newCSVReader(br)
	p.sub = true
	var rows []ofacRow
	size := 0
	names := map[string]string{} // SDN_Name → id; "" when two entries share it
	for !c.stopped() {
		fields, n, rule, err := p.record()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rule != "" {
			c.problem(n, "", "", rule)
			continue
		}
		id := ""
		if len(fields) > 0 && digitsOnly(fields[0]) {
			id = "ofac-" + fields[0]
		}
		if len(fields) != len(ofacColumns) {
			c.problemf(n, id, "", "row has %d fields, an SDN row %d", len(fields), len(ofacColumns))
			continue
		}
		if id == "" {
			c.problemf(n, "", "ent_num", "%q is not an entity number", fields[0])
			continue
		}
		bad := false
		for i, f := range fields {
			if at := badUTF8(f); at >= 0 {
				c.problemf(n, id, ofacColumns[i], "malformed UTF-8 at byte %d of the cell", at+1)
				bad = true
				break
			}
			size += len(f)
		}
		if bad {
			continue
		}
		if size > maxOFACBytes {
			return fmt.Errorf("%w: an SDN list larger than %d bytes", ErrFormat, maxOFACBytes)
		}
		row := ofacRow{line: n, id: id, fields: make([]string, len(fields))}
		for i, f := range fields {
			if f == "-0-" || f == "-0- " {
				f = ""
			}
			row.fields[i] = f
		}
		if prev, ok := names[row.fields[ofacName]]; ok && prev != id {
			names[row.fields[ofacName]] = ""
		} else {
			names[row.fields[ofacName]] = id
		}
		rows = append(rows, row)
	}
	for _, row := range rows {
		if c.stopped() {
			break
		}
		recs := ofacEntry(row.id, row.fields, names)
		if recs == nil {
			c.problemf(row.line, row.id, "SDN_Type", "unknown SDN type %q (want individual, vessel, aircraft or none)", row.fields[ofacType])
			continue
		}
		// The records derived from a party that is refused are left
		// out with it: the entry is not read.
		if c.add(row.line, recs[0]) {
			for _, r := range recs[1:] {
				c.add(row.line, r)
			}
		}
	}
	return nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ofacAuthority is the authority of every SDN sanction.
const ofacAuthority = "Office of Foreign Assets Control"

// ofacTopics are the FtM topics a programme gives its entries beyond
// "sanction": the terrorism and the narcotics programmes.
var ofacTopics = map[string]string{
	"SDGT": "crime.terror", "SDT": "crime.terror", "FTO": "crime.terror",
	"SDNT": "crime.traffick.drug", "SDNTK": "crime.traffick.drug", "ILLICIT-DRUGS-EO14059": "crime.traffick.drug",
	"TCO": "crime",
}

// ofacEntry maps one SDN row (with "-0-" already emptied) to its records,
// or returns nil for an unknown SDN type. names gives the id of the entry
// with a name, for owners and "Linked To" remarks.
func ofacEntry(id string, f []string, names map[string]string) []*schema.Record {
	var typ string
	switch f[ofacType] {
	case "individual":
		typ = "Person"
	case "vessel":
		typ = "Vessel"
	case "aircraft":
		typ = "Airplane"
	case "":
		typ = "Organization"
	default:
		return nil
	}
	en := newEntry(id, typ)
	b := en.main
	b.add("name", f[ofacName], "Name")
	b.add("topics", "sanction", "Topic")
	sanction := en.sanction(ofacAuthority)
	sanction.add("country", "us", "Country")
	sanction.add("authorityId", f[ofacNum], "Entity number")
	if f[ofacProgram] != "" {
		for _, prog := range strings.Split(f[ofacProgram], "] [") {
			b.add("program", prog, "Program")
			sanction.add("program", prog, "Program")
			if t := ofacTopics[prog]; t != "" {
				b.r.Properties["topics"] = appendNew(b.r.Properties["topics"], t)
			}
		}
	}
	b.add("title", f[ofacTitle], "Title")
	b.add("callSign", f[ofacCallSign], "Call sign")
	b.add("type", f[ofacVessType], "Vessel type")
	b.addAmount("tonnage", f[ofacTonnage], "Tonnage")
	b.addAmount("grossRegisteredTonnage", f[ofacGRT], "Gross registered tonnage")
	b.addCountry("flag", f[ofacFlag], "Vessel flag")
	if owner := f[ofacOwner]; owner != "" {
		ownerID := names[owner]
		if ownerID == "" || ownerID == id {
			o, _ := en.derive("LegalEntity", "owner", owner)
			o.add("name", owner, "Owner")
			ownerID = o.r.ID
		}
		own, _ := en.derive("Ownership", "ownership", ownerID)
		own.add("owner", ownerID, "Owner")
		own.add("asset", id, "Asset")
		own.add("role", "Vessel owner", "Role")
	}
	if rem := f[ofacRemarks]; rem != "" {
		mapRemarks(en, sanction, rem, names)
	}
	return en.records()
}

// mapRemarks maps the "; "-separated segments of the remarks; see doc.go.
// The segments it has no place for stay in notes, in their order. OFAC
// cuts remarks at 1000 characters: a last segment without its final full
// stop may be cut short, and is only kept in notes.
func mapRemarks(en *entry, sanction *builder, rem string, names map[string]string) {
	segs := strings.Split(rem, "; ")
	last := len(segs) - 1
	whole := strings.HasSuffix(segs[last], ".")
	segs[last] = strings.TrimSuffix(segs[last], ".")
	var left []string
	for i, s := range segs {
		if (i == last && !whole) || !ofacSegment(en, sanction, s, names) {
			left = append(left, s)
		}
	}
	if len(left) > 0 {
		note := strings.Join(left, "; ")
		if whole {
			note += "."
		}
		en.main.notes = append(en.main.notes, note)
	}
}

// ofacIDTypes are the kinds of number the remarks give ("Tax ID No.
// 7707083893 (Russia)") and the property of the party that takes the
// number. Each gives an Identification of the party (a Passport for
// passportNumber) with the number, its type, country and dates.
var ofacIDTypes = map[string]string{
	"Passport": "passportNumber", "Diplomatic Passport": "passportNumber",
	"National ID No.": "idNumber", "Cedula No.": "idNumber", "C.U.R.P.": "idNumber",
	"Personal ID Card": "idNumber", "National Foreign ID Number": "idNumber", "Birth Certificate Number": "idNumber",
	"Electoral Registry No.": "idNumber", "Driver's License No.": "idNumber", "Residency Number": "idNumber",
	"Credencial electoral": "idNumber", "Cartilla de Servicio Militar Nacional": "idNumber", "I.F.E.": "idNumber",
	"Turkish Identification Number": "idNumber", "Numero de Identidad": "idNumber", "C.U.I.": "idNumber",
	"Identification Number": "idNumber", "Kenyan ID No.": "idNumber", "Travel Document Number": "idNumber",
	"Refugee ID Card": "idNumber", "Stateless Person ID Card": "idNumber", "Immigration No.": "idNumber",
	"Citizen's Card Number": "idNumber", "D.N.I.": "idNumber", "Serial No.": "idNumber",
	"SSN":        "socialSecurityNumber",
	"Tax ID No.": "taxNumber", "R.F.C.": "taxNumber", "NIT #": "taxNumber", "RUC #": "taxNumber",
	"V.A.T. Number": "vatCode", "RIF #": "taxNumber", "Italian Fiscal Code": "taxNumber", "C.U.I.T.": "taxNumber",
	"Registration Number": "registrationNumber", "Registration ID": "registrationNumber",
	"Business Registration Number": "registrationNumber", "Company Number": "registrationNumber",
	"Folio Mercantil No.": "registrationNumber", "Commercial Registry Number": "registrationNumber",
	"Trade License No.": "registrationNumber", "Unified Social Credit Code (USCC)": "registrationNumber",
	"C.R. No.": "registrationNumber", "Economic Register Number (CBLS)": "registrationNumber",
	"Matricula Mercantil No": "registrationNumber", "Istanbul Chamber of Comm. No.": "registrationNumber",
	"Central Registration System Number": "registrationNumber", "Chamber of Commerce Number": "registrationNumber",
	"Business Registration Document #": "registrationNumber", "Business Number": "registrationNumber",
	"Enterprise Number": "registrationNumber", "UK Company Number": "registrationNumber",
	"Public Registration Number": "registrationNumber", "Dubai Chamber of Commerce Membership No.": "registrationNumber",
	"Branch Unit Number": "registrationNumber", "Government Gazette Number": "registrationNumber",
	"Commercial Registration Number": "registrationNumber", "Certificate of Incorporation Number": "registrationNumber",
	"License": "licenseNumber", "US FEIN": "taxNumber", "Registered Charity No.": "registrationNumber",
}

// ofacIDPrefixes are the keys of ofacIDTypes, longest first: of two
// types one of which begins the other, the longer is tried first.
var ofacIDPrefixes = func() []string {
	var out []string
	for k := range ofacIDTypes {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) || len(out[i]) == len(out[j]) && out[i] < out[j] })
	return out
}()

// ofacProvisions begin the segments that say how the sanction applies;
// they go to the Sanction's provisions.
var ofacProvisions = []string{"Secondary sanctions risk:", "Additional Sanctions Information -",
	"Transactions Prohibited For Persons Owned or Controlled By U.S. Financial Institutions:",
	"Executive Order ", "Effective Date (", "Listing Date (", "CAATSA Section", "PEESA Information:",
	"IFCA Determination -", "Sanctions Information -"}

// ofacPositions begin the segments of a person's remarks that name an
// office or an employment ("Member of the State Duma of the Federal
// Assembly of the Russian Federation"): they go to position.
var ofacPositions = []string{"Member of the ", "Head of the ", "Commander of the ", "Director of the ",
	"President of ", "Chairman of the ", "Minister of ", "Deputy Minister of ", "Former Minister of ",
	"Managing Director of ", "Former Commander of ", "Scientific Studies and Research Center Employee"}

// ofacSegment maps one segment of the remarks (without a final full stop)
// and reports whether it found a place for it.
func ofacSegment(en *entry, sanction *builder, s string, names map[string]string) bool {
	b := en.main
	rest := strings.TrimPrefix(s, "alt. ")
	person := b.r.Schema == "Person"
	has := func(prop string) bool { _, ok := b.s.Prop(prop); return ok }
	set := func(prop, v string) bool {
		if v == "" || !has(prop) {
			return false
		}
		p, _ := b.s.Prop(prop)
		if !fits(p.Type, v) {
			return false
		}
		b.r.Properties[prop] = appendNew(b.r.Properties[prop], v)
		return true
	}
	cut := func(prefix string) (string, bool) {
		if strings.HasPrefix(rest, prefix) {
			return rest[len(prefix):], true
		}
		return "", false
	}
	if v, ok := cut("DOB "); ok {
		dates, exact := ofacDates(v)
		if !person || len(dates) == 0 {
			return false
		}
		for _, d := range dates {
			set("birthDate", d)
		}
		// A range or an approximate date: FtM has no place to say so.
		return exact
	}
	if v, ok := cut("POB "); ok {
		return person && set("birthPlace", v)
	}
	if v, ok := cut("nationality "); ok {
		return person && set("nationality", countryCode(v))
	}
	if v, ok := cut("citizen "); ok {
		return person && set("citizenship", countryCode(v))
	}
	if v, ok := cut("Gender "); ok && (v == "Male" || v == "Female") {
		return set("gender", strings.ToLower(v))
	}
	for _, k := range []struct{ prefix, prop string }{{"a.k.a. '", "alias"}, {"f.k.a. '", "previousName"}, {"n.k.a. '", "alias"}} {
		// The quoted name may hold apostrophes: it ends at the last one.
		if v, ok := cut(k.prefix); ok && len(v) > 1 && strings.HasSuffix(v, "'") {
			return set(k.prop, v[:len(v)-1])
		}
	}
	if v, ok := cut("Linked To: "); ok {
		target := names[v]
		if target == "" {
			// The full stop that ends the remarks may end a name too.
			target = names[v+"."]
		}
		if target == "" || target == b.r.ID {
			return false
		}
		l, created := en.derive("UnknownLink", "link", target)
		if !created {
			return true // linked twice
		}
		l.add("subject", b.r.ID, "Subject")
		l.add("object", target, "Object")
		l.add("role", "Linked To", "Role")
		return true
	}
	if v, ok := cut("Aircraft Operator "); ok {
		target := names[v]
		return target != "" && target != b.r.ID && set("operator", target)
	}
	if person {
		for _, prefix := range ofacPositions {
			if strings.HasPrefix(rest, prefix) {
				return set("position", rest)
			}
		}
	}
	if v, ok := cut("Digital Currency Address - "); ok {
		currency, addr, found := strings.Cut(v, " ")
		if !found || addr == "" || strings.Contains(addr, " ") {
			return false
		}
		w, created := en.derive("CryptoWallet", "wallet", currency+" "+addr)
		if !created {
			return true // the same address twice
		}
		w.add("publicKey", addr, "Address")
		w.add("currencySymbol", currency, "Currency")
		w.add("holder", b.r.ID, "Holder")
		w.add("topics", "sanction", "Topic")
		return true
	}
	simple := []struct{ prefix, prop string }{
		{"Website ", "website"}, {"Email Address ", "email"}, {"Phone Number ", "phone"}, {"Telephone ", "phone"},
		{"SWIFT/BIC ", "swiftBic"}, {"Legal Entity Number ", "leiCode"}, {"LE Number ", "leiCode"}, {"D-U-N-S Number ", "dunsCode"}, {"BIK (RU) ", "bikCode"},
		{"Organization Type: ", "sector"}, {"Target Type ", "classification"},
		{"Vessel Registration Identification IMO ", "imoNumber"}, {"Identification Number IMO ", "imoNumber"},
		{"MMSI ", "mmsi"}, {"Former Vessel Flag ", "pastFlags"}, {"Other Vessel Call Sign ", "callSign"},
		{"Aircraft Manufacturer's Serial Number (MSN) ", "serialNumber"}, {"Aircraft Model ", "model"},
		{"Aircraft Tail Number ", "registrationNumber"},
		{"Organization Established Date ", "incorporationDate"}, {"Vessel Year of Build ", "buildDate"},
		{"Aircraft Manufacture Date ", "buildDate"},
	}
	for _, k := range simple {
		v, ok := cut(k.prefix)
		if !ok || v == "" {
			continue
		}
		p, known := b.s.Prop(k.prop)
		switch {
		case !known:
			return false
		case strings.HasSuffix(k.prefix, "IMO "):
			return set(k.prop, "IMO"+v)
		case p.Type == schema.TypeDate:
			d, exact := ofacDates(v)
			return len(d) == 1 && exact && set(k.prop, d[0])
		case p.Type == schema.TypeCountry:
			return set(k.prop, countryCode(v))
		}
		return set(k.prop, v)
	}
	for _, prefix := range ofacProvisions {
		if strings.HasPrefix(s, prefix) {
			sanction.add("provisions", s, "Provisions")
			return true
		}
	}
	for _, typ := range ofacIDPrefixes {
		v, ok := cut(typ + " ")
		if !ok {
			continue
		}
		return ofacDocument(en, typ, v)
	}
	return false
}

// ofacDocument maps "NUMBER [(COUNTRY)] [issued DATE] [expires DATE]",
// the rest of a remark segment that names a document of type typ.
func ofacDocument(en *entry, typ, v string) bool {
	prop := ofacIDTypes[typ]
	if _, ok := en.main.s.Prop(prop); !ok || !en.main.s.IsA("LegalEntity") {
		return false
	}
	var issued, expires string
	if i := strings.LastIndex(v, " expires "); i > 0 {
		if d, exact := ofacDates(v[i+len(" expires "):]); len(d) == 1 && exact {
			expires, v = d[0], v[:i]
		}
	}
	if i := strings.LastIndex(v, " issued "); i > 0 {
		if d, exact := ofacDates(v[i+len(" issued "):]); len(d) == 1 && exact {
			issued, v = d[0], v[:i]
		}
	}
	country, summary := "", ""
	if strings.HasSuffix(v, ")") {
		if i := strings.LastIndex(v, " ("); i > 0 {
			in := v[i+2 : len(v)-1]
			if countryCode(in) != "" {
				country = in
			} else {
				summary = in
			}
			v = v[:i]
		}
	}
	if v == "" || strings.ContainsAny(v, "()") {
		return false
	}
	en.document(prop == "passportNumber", prop, v, typ, country, issued, expires, summary)
	return true
}

var months = map[string]string{"Jan": "01", "Feb": "02", "Mar": "03", "Apr": "04", "May": "05", "Jun": "06",
	"Jul": "07", "Aug": "08", "Sep": "09", "Oct": "10", "Nov": "11", "Dec": "12"}

// ofacDates reads a date of the remarks: "12 Jan 1962", "Jan 1962" or
// "1962" (exact is true), "circa 1962" (the year: FtM says "about" with a
// date of year precision), or a range "1962 to 1965" or "01 Jan 1961 to
// 31 Dec 1962" (each year of it, at most maxYearRange). It returns nothing
// for anything else ("31 Feb 1962").
func ofacDates(s string) (dates []string, exact bool) {
	if d := ofacDate(s); d != "" {
		return []string{d}, true
	}
	if c, ok := strings.CutPrefix(s, "circa "); ok {
		if d := ofacDate(c); d != "" {
			return []string{d[:4]}, false
		}
		return nil, false
	}
	from, to, ok := strings.Cut(s, " to ")
	f, t := ofacDate(from), ofacDate(to)
	if !ok || f == "" || t == "" {
		return nil, false
	}
	fy, _ := strconv.Atoi(f[:4])
	ty, _ := strconv.Atoi(t[:4])
	if fy > ty || ty-fy > maxYearRange {
		return nil, false
	}
	for y := fy; y <= ty; y++ {
		dates = append(dates, strconv.Itoa(y))
	}
	return dates, false
}

// ofacDate turns "12 Jan 1962", "Jan 1962" or "1962" into an ISO 8601
// prefix, or "" for anything else.
func ofacDate(s string) string {
	parts := strings.Split(s, " ")
	var d string
	switch len(parts) {
	case 1:
		d = parts[0]
	case 2:
		if m, ok := months[parts[0]]; ok {
			d = parts[1] + "-" + m
		}
	case 3:
		if m, ok := months[parts[1]]; ok {
			d = parts[2] + "-" + m + "-" + parts[0]
		}
	}
	if !schema.ValidDate(d) || len(d) > 10 {
		return ""
	}
	return d
}

func appendNew(l []string, v string) []string {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}
