package match

import (
	"regexp"
	"strings"
)

// idKind is what an identifier identifies, as far as the matcher needs to
// know: two identifiers are compared only when their kinds may be the same
// document or registration.
type idKind uint8

const (
	idOther        idKind = iota // a document of unknown kind
	idPassport                   // passport, diplomatic or service passport
	idNational                   // national id card or number, cedula, personal number
	idTax                        // tax number: INN, NIT, RFC, VAT …
	idRegistration               // company registration, LEI, D-U-N-S, OGRN …
	idIMO                        // IMO ship or company number
	idMMSI                       // maritime mobile service identity
	idSWIFT                      // bank identifier code
	idAircraft                   // tail number, manufacturer's serial number
	idIBAN                       // bank account
	idWallet                     // a crypto wallet's public key
	idAccount                    // a bank account number (without IBAN)
)

var idKindNames = [...]string{"document", "passport", "national id", "tax number", "registration number", "IMO number",
	"MMSI", "SWIFT/BIC", "aircraft id", "IBAN",
	"wallet", "account number"}

func (k idKind) String() string { return idKindNames[k] }

// personal reports the kinds a person's document may be written as: lists
// call a passport an identification number and the other way round.
func (k idKind) personal() bool { return k == idOther || k == idPassport || k == idNational }

// comparable reports whether an identifier of kind a may be the same as
// one of kind b.
func comparable(a, b idKind) bool {
	if a == b {
		return true
	}
	if a.personal() && b.personal() {
		return true
	}
	// Tax and registration numbers are often the same number (RUC, NIT,
	// INN of a company).
	return (a == idTax || a == idRegistration || a == idOther) && (b == idTax || b == idRegistration || b == idOther)
}

// ident is one identifier of an entity.
type ident struct {
	kind    idKind
	number  string // upper-case letters and digits only
	country string // issuing country, "" when not known
}

// normNumber keeps the letters and digits of an identifier, upper-cased.
// A value that is a sentence ("Pakistani passport number AA3829182",
// "Social Security Number 423-31-3021 (US)") gives the word that holds
// the number. It returns "" for values too short, or without enough
// digits, to tell records apart (a birth certificate "365").
func normNumber(s string) string {
	if strings.ContainsAny(s, " (") {
		s = reParens.ReplaceAllString(s, " ")
		words := strings.Fields(s)
		prose := false
		for _, w := range words {
			if len(w) > 3 && !strings.ContainsAny(w, "0123456789") {
				prose = true
			}
		}
		if prose {
			best := ""
			for _, w := range words {
				if d := countDigits(w); d >= 3 && d > countDigits(best) {
					best = w
				}
			}
			s = best
		}
	}
	b := make([]byte, 0, len(s))
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c)
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		}
	}
	if len(b) < 5 || digits < 3 {
		return ""
	}
	return string(b)
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// propKinds maps identifier properties of the model to kinds.
var propKinds = map[string]idKind{
	"passportNumber": idPassport, "idNumber": idNational, "socialSecurityNumber": idNational,
	"personalNumber": idNational, "taxNumber": idTax, "innCode": idTax, "vatCode": idTax, "kppCode": idTax,
	"registrationNumber": idRegistration, "ogrnCode": idRegistration, "leiCode": idRegistration,
	"uniqueEntityId": idRegistration, "permId": idRegistration, "imoNumber": idIMO, "mmsi": idMMSI,
	"swiftBic": idSWIFT, "iban": idIBAN, "publicKey": idWallet, "accountNumber": idAccount,
}

// kindOfDocument guesses the kind of a document from the words a list
// uses for its type ("Passport", "Cedula No.", "Tax ID No.", "NIT #").
// It returns ok false for what is not an identifier at all (a phone
// number, an executive order, a date).
func kindOfDocument(t string) (idKind, bool) {
	t = strings.ToLower(t)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(t, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("phone", "fax", "executive order", "date", "model", "year of build", "gazette", "linked to", "a.k.a",
		"section", "website", "email", "directive", "license", "licence", "birth certificate", "tonnage"):
		return 0, false
	case has("imo"):
		return idIMO, true
	case has("mmsi"):
		return idMMSI, true
	case has("swift", "bic"):
		return idSWIFT, true
	case has("aircraft", "msn", "tail"):
		return idAircraft, true
	case has("passport", "passeport", "pasaporte"):
		return idPassport, true
	case has("tax", "nit", "r.f.c", "rfc", "ruc", "v.a.t", "vat", "rif", "fiscal", "inn", "c.u.i.t", "cuit", "tin", "kpp"):
		return idTax, true
	case has("registr", "company", "business", "c.r.", "folio", "matricula", "uscc", "credit code", "chamber",
		"enterprise", "legal entity", "lei", "d-u-n-s", "duns", "economic", "commercial", "ogrn", "trade"):
		return idRegistration, true
	case has("national", "identi", "cedula", "d.n.i", "dni", "c.u.r.p", "curp", "personal", "electoral", "credencial",
		"residen", "c.i.", "social security", "ssn", "card", "nic", "id no", "id number"):
		return idNational, true
	}
	return 0, false
}

var (
	// The UN list's documents, as the reader keeps them in notes:
	// "Document: type Passport; number 9003213; country of issue Iran".
	reUNDoc      = regexp.MustCompile(`^Document: (.*)$`)
	reUNDocField = regexp.MustCompile(`(type 2|type|number|issuing country|country of issue) ([^;]+)`)
	// A number written into free text after a document word: "Passport
	// number: W342058", "passport No. 123456 (Tunisia)".
	reTextDoc = regexp.MustCompile(`(?i)\b(passport|national identification|national id|identity card|id card|id no)[a-z ]*?(?:number|no\.?|#|nr\.?)?[: ]+([A-Z]{0,3}[0-9][A-Z0-9-]{4,})`)
)

// remarkDocument splits an OFAC remark segment that names a document
// ("alt. Passport W342058 (Tunisia) issued 2005", "NIT # 800018928-0
// (Colombia)", "Vessel Registration Identification IMO 7406784") into the
// words that say what it is, the number (the first word holding a digit)
// and the issuing country, if it names a known one in brackets.
func remarkDocument(seg string) (typ, number, country string, ok bool) {
	seg = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(seg, "alt. "), "Alt. "), ".")
	for _, cut := range []string{" issued ", " expires "} {
		if i := strings.Index(seg, cut); i > 0 {
			seg = seg[:i]
		}
	}
	for {
		i := strings.LastIndex(seg, " (")
		if i < 0 || !strings.HasSuffix(seg, ")") {
			break
		}
		if c := countryOf(seg[i+2 : len(seg)-1]); c != "" && country == "" {
			country = c
		}
		seg = seg[:i]
	}
	words := strings.Fields(seg)
	for i, w := range words {
		if i > 0 && strings.ContainsAny(w, "0123456789") {
			return strings.Join(words[:i], " "), w, country, true
		}
	}
	return "", "", "", false
}

// idsInText finds identifiers written in a note or a remark: OFAC's
// segments, the UN list's documents, and document numbers written into
// free text after a word saying what they are.
func idsInText(text string, into []ident) []ident {
	if m := reUNDoc.FindStringSubmatch(text); m != nil {
		var typ, number, country string
		for _, f := range reUNDocField.FindAllStringSubmatch(m[1], -1) {
			v := strings.TrimSpace(f[2])
			switch f[1] {
			case "type":
				typ = v
			case "type 2":
				if typ == "" {
					typ = v
				}
			case "number":
				number = v
			case "issuing country", "country of issue":
				if country == "" {
					country = countryOf(v)
				}
			}
		}
		k, ok := kindOfDocument(typ)
		if !ok {
			k = idOther
		}
		if n := normNumber(number); n != "" {
			into = append(into, ident{k, n, country})
		}
		return into
	}
	for _, seg := range strings.Split(text, "; ") {
		seg = strings.TrimSpace(seg)
		if typ, num, country, ok := remarkDocument(seg); ok {
			if k, ok := kindOfDocument(typ); ok {
				if n := normNumber(num); n != "" {
					into = append(into, ident{k, n, country})
				}
				continue
			}
		}
		for _, m := range reTextDoc.FindAllStringSubmatch(seg, 4) {
			k, _ := kindOfDocument(m[1])
			if n := normNumber(m[2]); n != "" {
				into = append(into, ident{k, n, ""})
			}
		}
	}
	return into
}

// describeShared says what two identifiers with the same number are.
func describeShared(x, y ident) string {
	desc := x.kind.String() + " " + x.number
	if x.kind != y.kind && !(x.kind == idOther || y.kind == idOther) {
		desc = x.kind.String() + "/" + y.kind.String() + " " + x.number
	}
	switch {
	case x.country != "" && y.country != "" && x.country != y.country:
		desc += " (issued by " + x.country + " and " + y.country + ")"
	case x.country != "" || y.country != "":
		c := x.country
		if c == "" {
			c = y.country
		}
		desc += " (" + c + ")"
	}
	return desc
}

// idVerdict compares the identifiers of two entities. A shared number of
// comparable kinds counts for the match, more when the issuing countries
// agree and less when they are known to differ; identifiers of a kind an
// entity has only one of (IMO, national id, tax and registration numbers
// of one country) that differ count against it.
func idVerdict(a, b []ident, explain bool) (float64, []Evidence) {
	var ev []Evidence
	best := 0.0
	for _, x := range a {
		for _, y := range b {
			if x.number != y.number || !comparable(x.kind, y.kind) {
				continue
			}
			w := 0.45
			if x.kind == idIBAN || x.kind == idWallet {
				w = 0.95 // one account, whoever wrote it down
			}
			if x.country != "" && y.country != "" && x.country != y.country {
				w = 0.15
			}
			if len(x.number) < 7 {
				w -= 0.05 // short numbers collide more often
			}
			if w > best {
				best = w
				if explain {
					ev = append(ev[:0], Evidence{Kind: "identifier", Weight: w, Text: "same " + describeShared(x, y)})
				}
			}
		}
	}
	if best > 0 {
		return best, ev
	}
	// Nothing shared: is there a one-per-entity identifier that differs?
	for _, k := range []idKind{idIMO, idNational, idTax, idRegistration, idPassport} {
		for _, x := range a {
			if x.kind != k {
				continue
			}
			for _, y := range b {
				if y.kind != k || (k != idIMO && (x.country == "" || x.country != y.country)) {
					continue
				}
				w := -0.25
				switch k {
				case idIMO:
					w = -0.5
				case idPassport:
					w = -0.05 // people hold several passports over the years
				}
				where := ""
				if x.country != "" {
					where = " of " + x.country
				}
				if !explain {
					return w, nil
				}
				return w, []Evidence{{Kind: "identifier", Weight: w, Text: "different " + k.String() + "s" + where + ": " + x.number + " and " + y.number}}
			}
		}
	}
	return 0, nil
}
