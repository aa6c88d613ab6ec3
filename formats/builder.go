package formats

import (
	"strings"

	"valise/schema"
)

// builder assembles a record from the fields of a published list. A field
// goes to its property when the record's type has it and the value fits the
// property's type; otherwise it is kept as a labelled note ("Vessel flag:
// Atlantis"), so that no field of the source is lost and every change of
// the source changes the record's content.
type builder struct {
	r       *schema.Record
	s       *schema.Schema
	notes   []string // the source's own free text
	residue []string // labelled fields without a property of their own
	// spill takes the labelled fields of a record whose type has no
	// notes (a Sanction, an Identification): the list entry's party.
	spill *builder
}

func newBuilder(id, typ string) *builder {
	s, _ := schema.Get(typ)
	return &builder{r: &schema.Record{ID: id, Schema: typ, Properties: map[string][]string{}}, s: s}
}

// add puts v in prop, or in a note labelled label when prop does not take
// it. An empty v is nothing.
func (b *builder) add(prop, v, label string) {
	if v == "" {
		return
	}
	if p, ok := b.s.Prop(prop); ok && fits(p.Type, v) {
		// FtM's values are sets: a value the list gives twice (two
		// places of birth in one country) is one.
		b.r.Properties[prop] = appendNew(b.r.Properties[prop], v)
		return
	}
	b.note(label, v)
}

// note keeps a labelled field.
func (b *builder) note(label, v string) {
	if v == "" {
		return
	}
	if _, ok := b.s.Prop("notes"); !ok && b.spill != nil {
		b.spill.note(label, v)
		return
	}
	b.residue = append(b.residue, label+": "+v)
}

// addDate puts a date in prop. A date with a time zone ("1964-07-17-05:00",
// as xs:date allows) gives its date to prop and is kept whole in a note.
func (b *builder) addDate(prop, v, label string) {
	if v == "" {
		return
	}
	if d, whole := isoDate(v); d != "" {
		b.add(prop, d, label)
		if !whole {
			b.note(label, v)
		}
		return
	}
	b.note(label, v)
}

// isoDate returns the ISO 8601 date in v and whether that is all of v.
func isoDate(v string) (date string, whole bool) {
	if schema.ValidDate(v) {
		return v, true
	}
	if len(v) > 10 && schema.ValidDate(v[:10]) && isZone(v[10:]) {
		return v[:10], false
	}
	return "", false
}

func isZone(z string) bool {
	if z == "Z" {
		return true
	}
	return len(z) == 6 && (z[0] == '+' || z[0] == '-') && digitsOnly(z[1:3]) && z[3] == ':' && digitsOnly(z[4:6])
}

// addAmount puts a number written with or without thousands separators
// ("318,000", "2489") in prop, and anything else in a note.
func (b *builder) addAmount(prop, v, label string) {
	if v == "" {
		return
	}
	if n, ok := plainNumber(v); ok {
		b.add(prop, n, label)
		return
	}
	b.note(label, v)
}

// plainNumber reads an unsigned integer with optional groups of three
// digits separated by commas.
func plainNumber(v string) (string, bool) {
	if digitsOnly(v) {
		return v, true
	}
	groups := strings.Split(v, ",")
	if len(groups[0]) < 1 || len(groups[0]) > 3 || !digitsOnly(groups[0]) {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 || !digitsOnly(g) {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

// addCountry puts the code of a country name in prop, or the name in a
// note when it is not a known country.
func (b *builder) addCountry(prop, name, label string) {
	if name == "" {
		return
	}
	if code := countryCode(name); code != "" {
		b.add(prop, code, label)
		return
	}
	b.note(label, name)
}

// record returns the record: the source's notes first, then the labelled
// fields, all in notes.
func (b *builder) record() *schema.Record {
	if n := len(b.notes) + len(b.residue); n > 0 {
		notes := make([]string, 0, n)
		notes = append(notes, b.notes...)
		b.r.Properties["notes"] = append(notes, b.residue...)
	}
	return b.r
}

// fits reports whether v is a well-formed value of type t, for the types
// whose form the lists do not guarantee. Validate checks everything again.
func fits(t schema.PropType, v string) bool {
	switch t {
	case schema.TypeDate:
		return schema.ValidDate(v)
	case schema.TypeCountry:
		return schema.ValidCountry(v)
	case schema.TypeNumber:
		_, ok := plainNumber(v)
		return ok
	case schema.TypeGender:
		return v == "male" || v == "female" || v == "other"
	}
	return true
}
