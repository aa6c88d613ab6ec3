package formats

import (
	"bufio"
	"io"
	"regexp"
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

// readOFAC reads the US Treasury SDN list in its CSV form.
func readOFAC(c *collector, br *bufio.Reader) error {
	p := newCSVReader(br)
	p.sub = true
	for !c.stopped() {
		fields, n, rule, err := p.record()
		if err == io.EOF {
			return nil
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
		}
		if bad {
			continue
		}
		for i, f := range fields {
			if f == "-0-" || f == "-0- " {
				fields[i] = ""
			}
		}
		if r := ofacRecord(id, fields); r != nil {
			c.add(n, r)
		} else {
			c.problemf(n, id, "SDN_Type", "unknown SDN type %q (want individual, vessel, aircraft or none)", fields[ofacType])
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

// ofacRecord maps one SDN row (with "-0-" already emptied) to a record, or
// returns nil for an unknown SDN type.
func ofacRecord(id string, f []string) *schema.Record {
	var b *builder
	switch f[ofacType] {
	case "individual":
		b = newBuilder(id, "Person")
	case "vessel", "aircraft":
		b = newBuilder(id, "Vehicle")
		b.add("type", f[ofacType], "SDN type")
	case "":
		b = newBuilder(id, "Organization")
	default:
		return nil
	}
	b.add("name", f[ofacName], "Name")
	if f[ofacProgram] != "" {
		for _, prog := range strings.Split(f[ofacProgram], "] [") {
			b.add("program", prog, "Program")
		}
	}
	b.add("title", f[ofacTitle], "Title")
	b.add("callSign", f[ofacCallSign], "Call sign")
	b.add("vesselType", f[ofacVessType], "Vessel type")
	b.addAmount("tonnage", f[ofacTonnage], "Tonnage")
	b.addAmount("grossRegisteredTonnage", f[ofacGRT], "Gross registered tonnage")
	b.addCountry("flag", f[ofacFlag], "Vessel flag")
	b.add("ownerName", f[ofacOwner], "Vessel owner")
	if rem := f[ofacRemarks]; rem != "" {
		b.notes = append(b.notes, rem)
		ofacRemarkFields(b, rem)
	}
	return b.record()
}

// Remark segments that are copied into properties when they are clean.
// The remarks stay whole in notes whatever is copied out of them.
var (
	rePOB     = regexp.MustCompile(`^(?:alt\. )?POB ([^;]+)$`)
	reNation  = regexp.MustCompile(`^(?:alt\. )?nationality ([^;]+)$`)
	reCitizen = regexp.MustCompile(`^(?:alt\. )?citizen ([^;]+)$`)
	rePass    = regexp.MustCompile(`^(?:alt\. )?Passport ([A-Z0-9][A-Z0-9-]*)(?: \([^()]+\))?(?: issued \d{2} [A-Z][a-z]{2} \d{4})?(?: expires \d{2} [A-Z][a-z]{2} \d{4})?$`)
	reAKA     = regexp.MustCompile(`^(?:alt\. )?([af])\.k\.a\. '([^']+)'$`)
	reIMO     = regexp.MustCompile(`^Vessel Registration Identification (IMO \d{7})$`)
	reMMSI    = regexp.MustCompile(`^MMSI (\d{9})$`)
)

var months = map[string]string{"Jan": "01", "Feb": "02", "Mar": "03", "Apr": "04", "May": "05", "Jun": "06",
	"Jul": "07", "Aug": "08", "Sep": "09", "Oct": "10", "Nov": "11", "Dec": "12"}

// ofacRemarkFields copies clean facts out of the remarks: dates of birth
// written "DOB 12 Jan 1962", "DOB Jan 1962" or "DOB 1962" (not "circa", not
// ranges), places of birth, nationalities and citizenships whose country is
// known, gender, passport numbers, quoted a.k.a./f.k.a. names, IMO and MMSI
// numbers. OFAC cuts the remarks at 1000 characters, so a last segment that
// does not end the sentence is not used.
func ofacRemarkFields(b *builder, rem string) {
	segs := strings.Split(rem, "; ")
	last := len(segs) - 1
	if strings.HasSuffix(segs[last], ".") {
		segs[last] = strings.TrimSuffix(segs[last], ".")
	} else {
		segs = segs[:last]
	}
	person := b.r.Schema == "Person"
	vehicle := b.r.Schema == "Vehicle"
	add := func(prop, v string) { b.r.Properties[prop] = appendNew(b.r.Properties[prop], v) }
	for _, s := range segs {
		// The prefix picks the one pattern that may match: most segments
		// match none, and regular expressions are slow to say so.
		var m []string
		switch rest := strings.TrimPrefix(s, "alt. "); {
		case !person && !vehicle && !strings.Contains(rest, ".k.a. '"):
		case strings.HasPrefix(rest, "DOB "):
			if d := ofacDate(rest[len("DOB "):]); d != "" && person {
				add("birthDate", d)
			}
		case strings.HasPrefix(rest, "POB "):
			if m = rePOB.FindStringSubmatch(s); m != nil && person {
				add("birthPlace", m[1])
			}
		case strings.HasPrefix(rest, "nationality "):
			if m = reNation.FindStringSubmatch(s); m != nil && person {
				if code := countryCode(m[1]); code != "" {
					add("nationality", code)
				}
			}
		case strings.HasPrefix(rest, "citizen "):
			if m = reCitizen.FindStringSubmatch(s); m != nil && person {
				if code := countryCode(m[1]); code != "" {
					add("citizenship", code)
				}
			}
		case s == "Gender Male" || s == "Gender Female":
			if person {
				add("gender", strings.ToLower(s[len("Gender "):]))
			}
		case strings.HasPrefix(rest, "Passport "):
			if m = rePass.FindStringSubmatch(s); m != nil && person {
				add("passportNumber", m[1])
			}
		case strings.HasPrefix(rest, "a.k.a. '") || strings.HasPrefix(rest, "f.k.a. '"):
			if m = reAKA.FindStringSubmatch(s); m != nil {
				if m[1] == "f" {
					add("previousName", m[2])
				} else {
					add("alias", m[2])
				}
			}
		case strings.HasPrefix(rest, "Vessel Registration Identification "):
			if m = reIMO.FindStringSubmatch(s); m != nil && vehicle {
				add("imoNumber", strings.ReplaceAll(m[1], " ", ""))
			}
		case strings.HasPrefix(rest, "MMSI "):
			if m = reMMSI.FindStringSubmatch(s); m != nil && vehicle {
				add("mmsi", m[1])
			}
		}
	}
}

// ofacDate turns "12 Jan 1962", "Jan 1962" or "1962" into an ISO 8601
// prefix, or "" for anything else ("circa 1962", "1962 to 1965", "31 Feb
// 1962").
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
	if !schema.ValidDate(d) {
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
