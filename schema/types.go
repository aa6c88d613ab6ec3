package schema

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// PropType is the type of a property's values: FollowTheMoney's property
// types.
type PropType uint8

// The property types of FollowTheMoney (SPEC §5 names the first ones).
const (
	TypeString     PropType = iota // free, short text; may hold line breaks and tabs
	TypeName                       // a name of a person, organisation or thing
	TypeText                       // long free text (notes, remarks)
	TypeDate                       // ISO 8601 prefix: 1975, 1975-03, 1975-03-02, optionally with a time
	TypeCountry                    // a territory code FtM accepts, lowercase: ISO 3166-1 alpha-2 and a few more
	TypeIdentifier                 // a document, registration or tax number
	TypeIBAN                       // an international bank account number
	TypeNumber                     // a number or amount; FtM prescribes no format ("1,000.00", "50%")
	TypeEntity                     // a reference to another record's id
	TypeURL                        // a web address
	TypeEmail                      // an e-mail address
	TypePhone                      // a telephone number
	TypeGender                     // male, female, other
	TypeTopic                      // a FollowTheMoney topic tag (sanction, crime.terror …)
	TypeAddress                    // a postal address written out on one or more lines
	TypeChecksum                   // a hash of a file's content
	TypeHTML                       // HTML markup (a web page's body)
	TypeIP                         // an IPv4 or IPv6 address
	TypeJSON                       // a JSON document
	TypeLanguage                   // an ISO 639-3 language code, lowercase (eng, rus)
	TypeMimetype                   // a MIME type (application/pdf)
)

// typeNames are the FtM names of the types, in PropType order.
var typeNames = [...]string{"string", "name", "text", "date", "country", "identifier",
	"iban", "number", "entity", "url", "email", "phone", "gender", "topic", "address", "checksum",
	"html", "ip", "json", "language", "mimetype"}

func (t PropType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", t)
}

// Limits on values, so that a record is always small enough to hold.
const (
	MaxValueLen    = 64 << 10 // bytes in one text value
	MaxShortLen    = 1024     // bytes in a value of any other type
	MaxValues      = 1024     // values of one property
	MaxRecordBytes = 1 << 20  // canonical bytes of one record
	MaxIDLen       = 256      // bytes of a record id
)

// long reports the types whose values may be long and span lines.
func (t PropType) long() bool {
	switch t {
	case TypeText, TypeString, TypeName, TypeAddress, TypeHTML, TypeJSON:
		return true
	}
	return false
}

// checkValue reports why v is not a valid value of type t, or "" when it
// is. Beyond the bounds every value keeps (length, no control or
// bidirectional-override characters), the rules are FtM's: a value of a
// type FtM does not check (string, name, text, identifier, number, url,
// phone, address, checksum, html, json, mimetype) is any text.
func checkValue(t PropType, v string) string {
	if !utf8.ValidString(v) {
		return "malformed UTF-8"
	}
	limit := MaxShortLen
	if t.long() {
		limit = MaxValueLen
	}
	if len(v) > limit {
		return fmt.Sprintf("longer than %d bytes", limit)
	}
	for _, r := range v {
		if r == 0 {
			return "contains a NUL character"
		}
		if isBidiControl(r) {
			return "contains a bidirectional control character"
		}
		// Free text may span lines: real data has multi-line addresses and
		// places of birth in string properties, not only in text ones.
		if r < 0x20 && !(t.long() && t != TypeName && (r == '\n' || r == '\t' || r == '\r')) {
			return "contains a control character"
		}
		if r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "contains a control character"
		}
	}
	switch t {
	case TypeDate:
		if !ValidDate(v) {
			return "not an ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD, optionally THH:MM[:SS])"
		}
	case TypeCountry:
		if !ValidCountry(v) {
			return "not an ISO 3166-1 alpha-2 country code (lowercase)"
		}
	case TypeIBAN:
		// FtM compacts an IBAN before it checks it, as python-stdnum does.
		if !ValidIBAN(strings.ToUpper(strings.NewReplacer(" ", "", "-", "", ".", "").Replace(v))) {
			return "not a valid IBAN (country, check digits, mod-97)"
		}
	case TypeEntity:
		if err := CheckID(v); err != nil {
			return "not a record id: " + err.Error()
		}
	case TypeGender:
		if v != "male" && v != "female" && v != "other" {
			return "not a gender (male, female, other)"
		}
	case TypeTopic:
		if !ValidTopic(v) {
			return "not a FollowTheMoney topic (sanction, crime.terror, role.pep …)"
		}
	case TypeEmail:
		if strings.Count(v, "@") < 1 {
			return "not an e-mail address"
		}
	case TypeIP:
		if _, err := netip.ParseAddr(v); err != nil {
			return "not an IPv4 or IPv6 address"
		}
	case TypeLanguage:
		if len(v) != 3 || !lowerASCII(v) {
			return "not an ISO 639-3 language code (three lowercase letters)"
		}
	}
	return ""
}

func lowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// isBidiControl reports the characters that reorder displayed text and can
// make a value read as something else (CVE-2021-42574 "Trojan Source").
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// CheckID reports whether id is a valid record id: 1–256 bytes of ASCII
// letters, digits and the punctuation . _ - : (FollowTheMoney ids are of
// this form).
func CheckID(id string) error {
	if id == "" {
		return fmt.Errorf("empty id")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("id longer than %d bytes", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':') {
			return fmt.Errorf("id has character %q at byte %d (allowed: letters, digits, . _ - :)", c, i)
		}
	}
	return nil
}

func digits(s string) bool {
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

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// ValidDate accepts ISO 8601 prefixes: YYYY, YYYY-MM, YYYY-MM-DD,
// YYYY-MM-DDTHH, YYYY-MM-DDTHH:MM and YYYY-MM-DDTHH:MM:SS, with real
// months, days (leap years included), hours, minutes and seconds.
func ValidDate(s string) bool {
	n := len(s)
	if n != 4 && n != 7 && n != 10 && n != 13 && n != 16 && n != 19 {
		return false
	}
	if !digits(s[:4]) {
		return false
	}
	if n == 4 {
		return true
	}
	if s[4] != '-' || !digits(s[5:7]) {
		return false
	}
	month := atoi2(s[5:7])
	if month < 1 || month > 12 {
		return false
	}
	if n == 7 {
		return true
	}
	if s[7] != '-' || !digits(s[8:10]) {
		return false
	}
	day := atoi2(s[8:10])
	year := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	if day < 1 || day > daysIn(year, month) {
		return false
	}
	if n == 10 {
		return true
	}
	if s[10] != 'T' || !digits(s[11:13]) || atoi2(s[11:13]) > 23 {
		return false
	}
	if n == 13 {
		return true
	}
	if s[13] != ':' || !digits(s[14:16]) || atoi2(s[14:16]) > 59 {
		return false
	}
	if n == 16 {
		return true
	}
	return s[16] == ':' && digits(s[17:19]) && atoi2(s[17:19]) <= 60
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ValidIBAN checks the country code, length limits and the ISO 13616
// mod-97 check digits of an IBAN written without spaces, in uppercase.
func ValidIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i < 2 && !(c >= 'A' && c <= 'Z') || i >= 2 && i < 4 && !(c >= '0' && c <= '9') ||
			!(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	if !ValidCountry(strings.ToLower(s[:2])) {
		return false
	}
	rem := 0
	r := s[4:] + s[:4]
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c >= 'A' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem == 1
}
