package formats

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"valise/schema"
)

// entry assembles the records of one entry of a published list: the
// sanctioned party itself (its id is the list's: "ofac-36", "un-sc-6908706")
// and the records derived from it as FollowTheMoney models them — its
// Sanction, its Passports and Identifications, its Addresses, its crypto
// wallets, the links to other parties. A derived record's id is the party's
// id, a kind and, where the party may have several, a hash of what the
// record says ("ofac-36-sanction", "un-sc-6908706-passport-1f0e3c2a9b"):
// the same entry gives the same ids in every edition of the list, so that
// ingesting a new edition updates them, and one that is gone is
// tombstoned. [EntryOf] gives the party's id back from any of them.
type entry struct {
	main    *builder
	derived []*builder
	ids     map[string]*builder
}

func newEntry(id, typ string) *entry {
	return &entry{main: newBuilder(id, typ), ids: map[string]*builder{}}
}

// derive returns the builder of the derived record of kind whose content
// key is key ("" for a kind the party has once), creating it on first
// use; created reports a new one.
func (e *entry) derive(typ, kind, key string) (b *builder, created bool) {
	id := e.main.r.ID + "-" + kind
	if key != "" {
		id += "-" + shortHash(key)
	}
	if b, ok := e.ids[id]; ok {
		return b, false
	}
	b = newBuilder(id, typ)
	b.spill = e.main
	e.ids[id] = b
	e.derived = append(e.derived, b)
	return b, true
}

// shortHash is 10 hex digits of the SHA-256 of s: enough to tell the few
// documents or addresses of one party apart.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:5])
}

// records returns the party, then the derived records in the order they
// were made.
func (e *entry) records() []*schema.Record {
	out := []*schema.Record{e.main.record()}
	for _, b := range e.derived {
		out = append(out, b.record())
	}
	return out
}

// sanction returns the entry's Sanction, linked to the party.
func (e *entry) sanction(authority string) *builder {
	s, created := e.derive("Sanction", "sanction", "")
	if created {
		s.add("entity", e.main.r.ID, "Sanctioned entity")
		s.add("authority", authority, "Authority")
	}
	return s
}

// document adds a Passport or an Identification of the party: its number,
// type, issuing country (a name, turned into a code), dates and a summary
// of what else the list says of it; the party gets the number in prop
// (passportNumber, idNumber, taxNumber …). A document without a number is
// no FtM Identification (FtM requires one): the caller keeps it in notes.
func (e *entry) document(passport bool, prop, number, typ, country, issued, expires, summary string) {
	schemaName, kind := "Identification", "id"
	if passport {
		schemaName, kind = "Passport", "passport"
	}
	if !e.main.s.IsA("LegalEntity") {
		e.main.note(typ, strings.TrimSpace(number+" "+country))
		return
	}
	d, created := e.derive(schemaName, kind, typ+"\x00"+number+"\x00"+country)
	if !created {
		return // the same document twice
	}
	d.add("holder", e.main.r.ID, "Holder")
	d.add("number", number, "Number")
	d.add("type", typ, "Type")
	d.addCountry("country", country, "Country")
	d.addDate("startDate", issued, "Issued")
	d.addDate("endDate", expires, "Expires")
	d.add("summary", summary, "Summary")
	if _, ok := e.main.s.Prop(prop); ok {
		e.main.r.Properties[prop] = appendNew(e.main.r.Properties[prop], number)
	}
}

// address adds an Address of the party from its parts (any may be empty)
// and copies what FtM copies to the party: the full address and the
// country. An address that is only a country gives the party that country
// and no Address record.
func (e *entry) address(street, city, region, postalCode, country, remarks string) {
	code := countryCode(country)
	if code != "" {
		e.main.r.Properties["country"] = appendNew(e.main.r.Properties["country"], code)
	}
	if street == "" && city == "" && region == "" && postalCode == "" && remarks == "" {
		if code == "" {
			e.main.note("Address", country)
		}
		return
	}
	var parts []string
	for _, p := range []string{street, city, region, postalCode, country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	full := strings.Join(parts, ", ")
	a, created := e.derive("Address", "address", full+"\x00"+remarks)
	if !created {
		return // the same address twice
	}
	a.add("full", full, "Address")
	a.add("street", street, "Street")
	a.add("city", city, "City")
	a.add("region", region, "Region")
	a.add("postalCode", postalCode, "Postal code")
	a.addCountry("country", country, "Country")
	a.add("summary", remarks, "Note")
	e.main.r.Properties["address"] = appendNew(e.main.r.Properties["address"], full)
	e.main.r.Properties["addressEntity"] = appendNew(e.main.r.Properties["addressEntity"], a.r.ID)
}

// EntryOf returns the id of the list entry a record of a published list
// belongs to: the id itself for the sanctioned party, the party's id for a
// record derived from it ("ofac-36-sanction" belongs to "ofac-36"), and ""
// for an id of no list.
func EntryOf(id string) string {
	var rest string
	switch {
	case strings.HasPrefix(id, "ofac-"):
		rest = id[len("ofac-"):]
	case strings.HasPrefix(id, "un-sc-"):
		rest = id[len("un-sc-"):]
	default:
		return ""
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n < len(rest) && rest[n] != '-' {
		return ""
	}
	return id[:len(id)-len(rest)+n]
}
