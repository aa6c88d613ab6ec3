package office

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"valise/schema"
	"valise/store"
)

// Duplicate is a group of different records that share a strong
// identifier: likely the same person, organisation or account.
type Duplicate struct {
	Reason string   // what they share, e.g. "passport N0981234 (kz)"
	IDs    []string // sorted
}

// Duplicates lists likely duplicates among the live records: different ids
// sharing a passport number and country, an IBAN, a registration number and
// country, or a normalised name and birth date.
func (o *Office) Duplicates() ([]Duplicate, error) {
	groups := map[string]map[string]bool{}
	add := func(key, id string) {
		if groups[key] == nil {
			groups[key] = map[string]bool{}
		}
		groups[key][id] = true
	}
	err := o.Store.Each(store.Filter{}, func(r *schema.Record) error {
		p := r.Properties
		countries := append(append(append([]string{}, p["nationality"]...), p["country"]...), p["citizenship"]...)
		for _, n := range append(append([]string{}, p["passportNumber"]...), p["number"]...) {
			n = normID(n)
			if n == "" {
				continue
			}
			for _, c := range countries {
				add("passport "+n+" ("+c+")", r.ID)
			}
		}
		for _, iban := range p["iban"] {
			add("IBAN "+normID(iban), r.ID)
		}
		for _, reg := range p["registrationNumber"] {
			juris := append(append([]string{}, p["jurisdiction"]...), p["country"]...)
			for _, c := range juris {
				add("registration number "+normID(reg)+" ("+c+")", r.ID)
			}
		}
		for _, name := range append(append([]string{}, p["name"]...), p["alias"]...) {
			for _, dob := range p["birthDate"] {
				if len(dob) >= 10 {
					add("name "+normName(name)+" born "+dob[:10], r.ID)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Duplicate
	for reason, ids := range groups {
		if len(ids) < 2 {
			continue
		}
		d := Duplicate{Reason: reason}
		for id := range ids {
			d.IDs = append(d.IDs, id)
		}
		sort.Strings(d.IDs)
		key := strings.Join(d.IDs, "\x00") + "\x01" + reason
		if !seen[key] {
			seen[key] = true
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IDs[0] != out[j].IDs[0] {
			return out[i].IDs[0] < out[j].IDs[0]
		}
		return out[i].Reason < out[j].Reason
	})
	return out, nil
}

// normID keeps the letters and digits of an identifier, uppercased.
func normID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// normName folds case, accents and punctuation, and sorts the name's
// parts, so "PETROV, Ivan" and "Ivan Petrov" compare equal.
func normName(s string) string {
	var parts []string
	for _, f := range strings.FieldsFunc(norm.NFKD.String(strings.ToLower(s)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	}) {
		var b strings.Builder
		for _, r := range f {
			if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			parts = append(parts, b.String())
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
