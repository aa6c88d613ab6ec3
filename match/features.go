package match

import (
	"encoding/json"
	"regexp"
	"strings"

	"valise/schema"
)

// Class groups the schemas whose records may describe the same thing.
type Class uint8

// Classes of records the matcher compares.
const (
	ClassNone    Class = iota // not matched (links, addresses, notes …)
	ClassPerson               // Person
	ClassOrg                  // Organization, Company and their descendants, and LegalEntity
	ClassVehicle              // Vehicle, vessels and aircraft
	ClassAccount              // BankAccount and CryptoWallet: compared by their numbers only
)

// ClassOf returns the class of records of schema name.
func ClassOf(name string) Class {
	s, ok := schema.Get(name)
	if !ok {
		return ClassNone
	}
	switch {
	case s.IsA("Person"):
		return ClassPerson
	case s.IsA("Organization") || s.Name == "LegalEntity":
		// A LegalEntity may be a person, but the lists make it of
		// what they call an entity (the UN list's ENTITY, as
		// OpenSanctions maps it): an organisation's name.
		return ClassOrg
	case s.IsA("Vehicle") || s.Name == "Vessel" || s.Name == "Airplane":
		return ClassVehicle
	case s.IsA("BankAccount") || s.IsA("CryptoWallet"):
		return ClassAccount
	}
	return ClassNone
}

// compatible reports whether records of classes a and b may be the same.
func compatible(a, b Class) bool {
	return a != ClassNone && a == b
}

// Limits that keep one record's features small whatever it holds.
const (
	maxNames     = 64 // names and aliases of one record
	maxNameBytes = 200
	maxTokens    = 12 // words of one name
	maxDates     = 16
	maxIdents    = 32
	maxRefs      = 256
)

// features is what the matcher reads from a record, before encoding.
type features struct {
	id, schema string
	class      Class
	gender     byte // 'm', 'f' or 0
	names      []nameFeature
	dates      []span
	ids        []ident
	countries  []string
	refs       []string
}

type nameFeature struct {
	raw   string
	toks  []string
	flags byte
}

// Flags of a name.
const (
	flagWeak    = 1 << iota // a weak alias or a previous name
	flagPrimary             // from the name property
	flagAcronym             // an organisation's name of one short word
)

// Name properties read for every class, and the weak ones: a low-quality
// alias (the UN's) or a previous name counts a little less.
var (
	nameProps = []string{"name", "alias", "previousName", "abbreviation"}
	weakProps = []string{"weakAlias"}
	// Persons' name parts are joined into one more name when the record
	// has no full name that holds them (FtM data often has both).
	partProps = []string{"firstName", "secondName", "middleName", "fatherName", "lastName"}

	countryProps = map[Class][]string{
		ClassPerson:  {"nationality", "citizenship", "country", "birthCountry"},
		ClassOrg:     {"country", "jurisdiction", "mainCountry"},
		ClassVehicle: {"flag", "country", "pastFlags"},
	}
	// Free text that may hold identifiers and dates of birth the mapping
	// did not make properties of.
	textProps = []string{"notes", "summary", "description"}
)

// extract reads the features of an entity record. It returns false for a
// record that is not one the matcher compares.
func extract(r *schema.Record) (*features, bool) {
	class := ClassOf(r.Schema)
	if class == ClassNone || r.Deleted {
		return nil, false
	}
	p := r.Properties
	f := &features{id: r.ID, schema: r.Schema, class: class}
	seen := map[string]bool{}
	addName := func(v string, flags byte) {
		if len(f.names) >= maxNames {
			return
		}
		// The UN list writes several aliases into one value: "Sayed Akbar
		// Tahmaesebi; Syed Akber Tahmaesebi".
		for _, part := range nameVariants(v, class) {
			if len(f.names) >= maxNames {
				return
			}
			toks := nameTokens(fold(part), class)
			if len(toks) == 0 {
				continue
			}
			if len(toks) > maxTokens {
				toks = toks[:maxTokens]
			}
			key := strings.Join(toks, " ")
			if seen[key] {
				continue
			}
			seen[key] = true
			raw := part
			if len(raw) > maxNameBytes {
				raw = raw[:maxNameBytes]
			}
			fl := flags
			if class != ClassPerson && len(toks) == 1 && len(toks[0]) <= 5 {
				fl |= flagAcronym
			}
			f.names = append(f.names, nameFeature{raw: raw, toks: toks, flags: fl})
		}
	}
	for _, k := range nameProps {
		var fl byte
		switch k {
		case "name":
			fl = flagPrimary
		case "previousName":
			fl = flagWeak
		}
		for _, v := range p[k] {
			addName(v, fl)
		}
	}
	for _, k := range weakProps {
		for _, v := range p[k] {
			addName(v, flagWeak)
		}
	}
	if class == ClassPerson {
		var parts []string
		for _, k := range partProps {
			if len(p[k]) == 1 {
				parts = append(parts, p[k][0])
			}
		}
		if len(parts) >= 2 {
			addName(strings.Join(parts, " "), 0)
		}
		for _, g := range p["gender"] {
			switch g {
			case "male":
				f.gender = 'm'
			case "female":
				f.gender = 'f'
			}
		}
		for _, v := range p["birthDate"] {
			if s, ok := parseISO(v); ok && len(f.dates) < maxDates {
				f.dates = append(f.dates, s)
			}
		}
	}
	for prop, kind := range propKinds {
		for _, v := range p[prop] {
			if kind == idIMO {
				v = strings.TrimPrefix(strings.TrimSpace(strings.ToUpper(v)), "IMO")
			}
			if n := normNumber(v); n != "" && len(f.ids) < maxIdents {
				f.ids = append(f.ids, ident{kind: kind, number: n})
			}
		}
	}
	for _, k := range textProps {
		for _, v := range p[k] {
			if len(f.ids) < maxIdents {
				f.ids = idsInText(v, f.ids)
			}
			if class == ClassPerson && len(f.dates) < maxDates {
				f.dates = datesInText(v, f.dates)
			}
		}
	}
	f.ids = uniqueIdents(f.ids)
	cs := map[string]bool{}
	for _, k := range countryProps[class] {
		for _, v := range p[k] {
			if !cs[v] && len(v) == 2 {
				cs[v] = true
				f.countries = append(f.countries, v)
			}
		}
	}
	// An identifier without its issuing country does not take the
	// person's nationality: people travel on other countries' passports,
	// and a wrong country would count against a true match.
	if class == ClassOrg {
		// Where a company is registered is where it is.
		for _, x := range f.ids {
			if x.country != "" && (x.kind == idRegistration || x.kind == idTax) && !cs[x.country] {
				cs[x.country] = true
				f.countries = append(f.countries, x.country)
			}
		}
	}
	f.refs = referents(r)
	return f, true
}

var (
	reParens      = regexp.MustCompile(`\s*\([^()]*\)`)
	reInitialisms = regexp.MustCompile(`\b(?:[A-Za-z]\.){2,}`)
)

// nameVariants splits a name value into the names it holds: the UN list
// writes several aliases into one value ("Sayed Akbar Tahmaesebi; Syed
// Akber Tahmaesebi"), and a name with a bracketed abbreviation or remark
// ("EASTERN TURKISTAN ISLAMIC MOVEMENT (ETIM)") is also the name without
// it. Organisations' initialisms lose their dots (S.A. is SA).
func nameVariants(v string, class Class) []string {
	var out []string
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if class != ClassPerson {
			part = reInitialisms.ReplaceAllStringFunc(part, func(s string) string { return strings.ReplaceAll(s, ".", "") })
		}
		out = append(out, part)
		if strings.Contains(part, "(") {
			// Not a country in brackets: AL-HARAMAIN FOUNDATION
			// (INDONESIA) and (PAKISTAN) are two branches.
			s := reParens.ReplaceAllStringFunc(part, func(p string) string {
				if countryOf(strings.Trim(strings.TrimSpace(p), "()")) != "" {
					return p
				}
				return ""
			})
			if s = strings.TrimSpace(s); s != "" && s != part {
				out = append(out, s)
			}
		}
	}
	return out
}

// uniqueIdents drops repeated identifiers, keeping the one that knows its
// issuing country, and the more precise kind.
func uniqueIdents(ids []ident) []ident {
	out := ids[:0]
	for _, x := range ids {
		dup := false
		for i, y := range out {
			if y.number == x.number && comparable(x.kind, y.kind) {
				if y.country == "" {
					out[i].country = x.country
				}
				if y.kind == idOther || y.kind == idNational && x.kind == idPassport {
					out[i].kind = x.kind
				}
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// referents returns the ids a FollowTheMoney record says it merges
// (OpenSanctions' "referents"), kept by the readers among its extra keys.
func referents(r *schema.Record) []string {
	raw, ok := r.Extra["referents"]
	if !ok {
		return nil
	}
	var refs []string
	if json.Unmarshal(raw, &refs) != nil {
		return nil
	}
	out := refs[:0]
	for _, ref := range refs {
		if ref != "" && ref != r.ID && schema.CheckID(ref) == nil && len(out) < maxRefs {
			out = append(out, ref)
		}
	}
	return out
}

// attachment is what a linked record adds to the entity it names: a
// Passport or Identification adds its number to its holder.
type attachment struct {
	holder string
	id     ident
}

// attachments reads the identifiers that a Passport or Identification
// record gives its holder.
func attachments(r *schema.Record) []attachment {
	if r.Deleted {
		return nil
	}
	s, ok := schema.Get(r.Schema)
	if !ok || !s.IsA("Identification") {
		return nil
	}
	p := r.Properties
	kind := idNational
	if s.IsA("Passport") {
		kind = idPassport
	}
	for _, t := range p["type"] {
		if k, ok := kindOfDocument(t); ok {
			kind = k
		}
	}
	country := ""
	for _, c := range p["country"] {
		country = c
	}
	var out []attachment
	for _, h := range p["holder"] {
		seen := map[string]bool{}
		for _, prop := range []string{"number", "passportNumber"} {
			for _, v := range p[prop] {
				if n := normNumber(v); n != "" && !seen[n] {
					seen[n] = true
					out = append(out, attachment{holder: h, id: ident{kind: kind, number: n, country: country}})
				}
			}
		}
	}
	return out
}
