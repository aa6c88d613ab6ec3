// Package recgen generates realistic valise records for benchmarks: people
// with names in Latin and Cyrillic script, aliases, birth dates,
// nationalities and passports; organisations and companies; memberships and
// ownerships; bank accounts with valid IBANs and payments between them.
//
// The output is a pure function of the seed and the record's position: the
// first k records of a run of n are the first k records of any longer run
// with the same seed, so a 100k file is a prefix of the 1M file. Links
// only point at records generated before them, and ids sort in generation
// order within each type ("p-0000001", "m-0000002" …, one counter for all
// types). Records are valise JSON lines (schema.Decode, `valise ingest`,
// `valise pack --input`) of about 400 bytes on average, every one valid
// against the model.
//
// recgen imports nothing of valise, so that the tests of every package,
// schema included, can use it.
package recgen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Generator produces records one at a time. It is not safe for concurrent
// use.
type Generator struct {
	seed   uint64
	origin string
	update bool
	width  int
	rng    *rand.Rand
	n      int     // records generated so far
	kinds  []Kind  // kind of every record generated
	nats   []uint8 // nationality of every person, by position in people

	people, orgs, companies, accounts []int32 // indices of records of each kind
	line                              []byte
	props                             []prop
}

// Options configure a Generator.
type Options struct {
	// Origin is the agency written as every record's origin: "" for
	// DefaultOrigin, "-" to leave the key out (the packing or ingesting
	// office is then the origin).
	Origin string
	// Update makes every record a changed version of the record at the same
	// position of the plain run: same id and schema, a few properties
	// changed or added. The plain run's records are unaffected.
	Update bool
	// Count, when known, sets the width of ids (at least 7 digits) so that
	// ids sort in generation order within a type. 0 means 7 digits.
	Count int
}

// DefaultOrigin is the origin written when Options.Origin is empty.
const DefaultOrigin = "KZ-NCB"

// New returns a generator for seed.
func New(seed uint64, o Options) *Generator {
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	w := 7
	if o.Count > 0 {
		if d := len(strconv.Itoa(o.Count)); d > w {
			w = d
		}
	}
	return &Generator{seed: seed, origin: o.Origin, update: o.Update, width: w,
		rng: rand.New(rand.NewPCG(seed, 0x76616c697365))}
}

// Kind is the type of record a position holds.
type Kind uint8

// Record kinds with their id prefixes and shares of the output.
const (
	KindPerson       Kind = iota // p-, 30%
	KindPassport                 // d-, 5%
	KindOrganization             // o-, 5%
	KindCompany                  // c-, 7%
	KindMembership               // m-, 8%
	KindOwnership                // w-, 5%
	KindAccount                  // a-, 15%
	KindPayment                  // t-, 25%
)

var kindPrefix = [...]string{"p", "d", "o", "c", "m", "w", "a", "t"}
var kindSchema = [...]string{"Person", "Passport", "Organization", "Company", "Membership", "Ownership", "BankAccount", "Payment"}

// Schema returns the valise schema name of k.
func (k Kind) Schema() string { return kindSchema[k] }

type prop struct {
	name   string
	values []string
}

// Count returns the number of records generated so far.
func (g *Generator) Count() int { return g.n }

// Next returns the next record as one JSON line without its newline. The
// slice is reused by the next call.
func (g *Generator) Next() []byte {
	i := g.n
	g.n++
	k := g.pickKind()
	g.kinds = append(g.kinds, k)
	g.props = g.props[:0]
	switch k {
	case KindPerson:
		g.person()
		g.people = append(g.people, int32(i))
	case KindPassport:
		g.passport()
	case KindOrganization:
		g.organization(false)
		g.orgs = append(g.orgs, int32(i))
	case KindCompany:
		g.organization(true)
		g.orgs = append(g.orgs, int32(i))
		g.companies = append(g.companies, int32(i))
	case KindMembership:
		g.membership()
	case KindOwnership:
		g.ownership()
	case KindAccount:
		g.account()
		g.accounts = append(g.accounts, int32(i))
	case KindPayment:
		g.payment()
	}
	if g.update {
		// A separate stream per record, so that the plain run's stream is
		// not disturbed.
		u := rand.New(rand.NewPCG(g.seed^0x5570646174650000, uint64(i)))
		g.change(k, u)
	}
	return g.encode(g.ID(i), k)
}

// pickKind draws the kind of the next record, falling back to a person or
// an organisation while the records a link needs do not exist yet.
func (g *Generator) pickKind() Kind {
	x := g.rng.IntN(100)
	var k Kind
	switch {
	case x < 30:
		k = KindPerson
	case x < 35:
		k = KindPassport
	case x < 40:
		k = KindOrganization
	case x < 47:
		k = KindCompany
	case x < 55:
		k = KindMembership
	case x < 60:
		k = KindOwnership
	case x < 75:
		k = KindAccount
	default:
		k = KindPayment
	}
	switch {
	case (k == KindPassport || k == KindMembership || k == KindOwnership || k == KindAccount) && len(g.people) == 0:
		return KindPerson
	case (k == KindMembership || k == KindOwnership) && len(g.companies) == 0:
		return KindCompany
	case k == KindPayment && len(g.accounts) < 2:
		if len(g.people) == 0 {
			return KindPerson
		}
		return KindAccount
	}
	return k
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// ref returns the id of a record from list (records of one kind generated
// so far), favouring recent ones as real case files do.
func (g *Generator) ref(list []int32) string {
	return g.ID(int(list[g.refIndex(len(list))]))
}

// refIndex picks a position in a list of n records: three times in four
// among the 5,000 latest, else anywhere.
func (g *Generator) refIndex(n int) int {
	j := n - 1 - g.rng.IntN(min(n, 5000))
	if g.rng.IntN(4) == 0 {
		j = g.rng.IntN(n)
	}
	return j
}

// refOther is ref avoiding the id not (when list holds another record).
func (g *Generator) refOther(list []int32, not string) string {
	id := g.ref(list)
	for try := 0; id == not && len(list) > 1 && try < 8; try++ {
		id = g.ref(list)
	}
	return id
}

func (g *Generator) add(name string, values ...string) {
	g.props = append(g.props, prop{name, values})
}

func (g *Generator) pick(l []string) string { return l[g.rng.IntN(len(l))] }

func (g *Generator) chance(pct int) bool { return g.rng.IntN(100) < pct }

// date returns a YYYY-MM-DD date between the years from and to.
func (g *Generator) date(from, to int) string {
	y := from + g.rng.IntN(to-from+1)
	m := 1 + g.rng.IntN(12)
	d := 1 + g.rng.IntN(28)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}

func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

func (g *Generator) letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + g.rng.IntN(26))
	}
	return string(b)
}

func (g *Generator) person() {
	female := g.chance(40)
	names := firstNames[b2i(female)]
	fn := names[g.rng.IntN(len(names))]
	ln := lastNames[g.rng.IntN(len(lastNames))]
	pat := patronymics[g.rng.IntN(len(patronymics))]
	latin := fn.latin + " " + ln.form(female, false)
	cyr := fn.cyr + " " + ln.form(female, true)
	first, last, name, other := fn.latin, ln.form(female, false), latin, cyr
	if g.chance(30) { // the source wrote the name in Cyrillic
		first, last, name, other = fn.cyr, ln.form(female, true), cyr, latin
	}
	aliases := []string{other}
	if g.chance(35) {
		aliases = append(aliases, g.pick(nicknames))
	}
	if g.chance(20) {
		aliases = append(aliases, fn.latin+" "+pat.form(female, false)+" "+ln.form(female, false))
	}
	g.add("name", name)
	g.add("alias", aliases...)
	g.add("firstName", first)
	g.add("lastName", last)
	if g.chance(50) {
		g.add("fatherName", pat.form(female, name == cyr))
	}
	if g.chance(8) {
		g.add("birthDate", strconv.Itoa(1950+g.rng.IntN(55)))
	} else {
		g.add("birthDate", g.date(1950, 2004))
	}
	g.add("birthPlace", g.pick(cities))
	ni := g.rng.IntN(len(nationalities))
	nat := nationalities[ni]
	g.nats = append(g.nats, uint8(ni))
	g.add("nationality", nat)
	g.add("passportNumber", passportPrefix(nat)+g.digits(7))
	g.add("gender", map[bool]string{false: "male", true: "female"}[female])
	g.add("topics", g.pick(personTopics))
	if g.chance(65) {
		g.add("notes", g.sentence())
	}
}

func (g *Generator) passport() {
	j := g.refIndex(len(g.people))
	nat := nationalities[g.nats[j]]
	g.add("holder", g.ID(int(g.people[j])))
	num := passportPrefix(nat) + g.digits(7)
	g.add("number", num)
	g.add("passportNumber", num)
	g.add("type", "passport")
	g.add("country", nat)
	start := g.date(2010, 2024)
	g.add("startDate", start)
	g.add("endDate", fmt.Sprintf("%d%s", 2020+g.rng.IntN(15), start[4:]))
	g.add("authority", g.pick(authorities))
	g.add("personalNumber", g.digits(12))
	g.add("summary", g.sentence())
}

func (g *Generator) organization(company bool) {
	stem := orgStems[g.rng.IntN(len(orgStems))]
	form := legalForms[g.rng.IntN(len(legalForms))]
	latin := stem.latin + " " + form.latin
	cyr := form.cyr + " «" + stem.cyr + "»"
	if g.chance(40) {
		g.add("name", cyr)
		g.add("alias", latin)
	} else {
		g.add("name", latin)
		g.add("alias", cyr)
	}
	country := g.pick(orgCountries)
	g.add("country", country)
	g.add("jurisdiction", country)
	g.add("registrationNumber", g.digits(12))
	g.add("incorporationDate", g.date(1992, 2024))
	g.add("address", g.pick(cities)+", "+g.pick(streets)+" "+strconv.Itoa(1+g.rng.IntN(200)))
	g.add("topics", g.pick(orgTopics))
	if company {
		g.add("legalForm", form.latin)
		cur := g.pick(currencies)
		g.add("capital", strconv.Itoa(10000*(1+g.rng.IntN(5000))))
		g.add("currency", cur)
		g.add("innCode", g.digits(12))
		g.add("sector", g.pick(sectors))
	} else {
		g.add("description", g.sentence())
	}
}

func (g *Generator) membership() {
	g.add("member", g.ref(g.people))
	g.add("organization", g.ref(g.orgs))
	g.add("role", g.pick(roles))
	g.add("startDate", g.date(2000, 2025))
	if g.chance(30) {
		g.add("endDate", g.date(2020, 2026))
	}
	g.add("status", g.pick([]string{"active", "former", "suspected"}))
	g.add("description", g.sentence())
	g.add("recordId", "MB-"+g.digits(9))
}

func (g *Generator) ownership() {
	asset := g.ref(g.companies)
	if g.chance(70) || len(g.companies) < 2 {
		g.add("owner", g.ref(g.people))
	} else {
		g.add("owner", g.refOther(g.companies, asset))
	}
	g.add("asset", asset)
	g.add("percentage", strconv.Itoa(5+g.rng.IntN(96)))
	g.add("sharesValue", strconv.Itoa(1000*(1+g.rng.IntN(9000)))+".00")
	g.add("sharesCurrency", g.pick(currencies))
	g.add("ownershipType", g.pick([]string{"direct", "nominee", "beneficial", "trust"}))
	g.add("startDate", g.date(2000, 2025))
	g.add("legalBasis", g.pick(legalBases))
	g.add("summary", g.sentence())
}

func (g *Generator) account() {
	c := ibanCountries[g.rng.IntN(len(ibanCountries))]
	g.add("iban", g.iban(c))
	bank := banks[g.rng.IntN(len(banks))]
	g.add("bankName", bank.name)
	g.add("bic", bank.bic)
	g.add("accountType", g.pick([]string{"current", "savings", "correspondent", "card"}))
	g.add("currency", g.pick(currencies))
	if g.chance(50) {
		g.add("balance", strconv.Itoa(g.rng.IntN(2000000))+"."+g.digits(2))
	}
	g.add("openingDate", g.date(2005, 2025))
	// FtM has no holder on a BankAccount: an Ownership says who holds it.
	g.add("country", c.country)
}

// iban returns a valid IBAN of country c: check digits computed with
// ISO 13616 mod-97.
func (g *Generator) iban(c ibanCountry) string {
	bban := make([]byte, 0, 30)
	for _, f := range c.format {
		if f == 'a' {
			bban = append(bban, byte('A'+g.rng.IntN(26)))
		} else {
			bban = append(bban, byte('0'+g.rng.IntN(10)))
		}
	}
	cc := []byte(c.code)
	rem := 0
	for _, ch := range append(append(bban, cc...), '0', '0') {
		if ch >= 'A' {
			rem = (rem*100 + int(ch-'A') + 10) % 97
		} else {
			rem = (rem*10 + int(ch-'0')) % 97
		}
	}
	return fmt.Sprintf("%s%02d%s", c.code, 98-rem, bban)
}

func (g *Generator) payment() {
	a := g.rng.IntN(len(g.accounts))
	b := g.rng.IntN(len(g.accounts) - 1)
	if b >= a {
		b++
	}
	// Payer and beneficiary are the holders in a real file; here any
	// parties, with the accounts they used.
	payer := g.ref(g.people)
	g.add("payer", payer)
	if g.chance(50) && len(g.orgs) > 0 {
		g.add("beneficiary", g.ref(g.orgs))
	} else {
		g.add("beneficiary", g.refOther(g.people, payer))
	}
	g.add("payerAccount", g.ID(int(g.accounts[a])))
	g.add("beneficiaryAccount", g.ID(int(g.accounts[b])))
	g.add("amount", strconv.Itoa(100+g.rng.IntN(500000))+"."+g.digits(2))
	g.add("currency", g.pick(currencies))
	g.add("date", g.date(2015, 2026))
	g.add("transactionNumber", "TX"+g.letters(2)+g.digits(10))
	g.add("purpose", g.purpose())
	if g.chance(40) {
		g.add("amountUsd", strconv.Itoa(100+g.rng.IntN(500000))+".00")
	}
}

// change turns the record in g.props into a later version of itself.
func (g *Generator) change(k Kind, u *rand.Rand) {
	set := func(name string, values ...string) {
		for i := range g.props {
			if g.props[i].name == name {
				g.props[i].values = values
				return
			}
		}
		g.add(name, values...)
	}
	get := func(name string) []string {
		for _, p := range g.props {
			if p.name == name {
				return p.values
			}
		}
		return nil
	}
	set("modifiedAt", fmt.Sprintf("2026-%02d-%02d", 1+u.IntN(11), 1+u.IntN(28)))
	switch k {
	case KindPerson:
		set("alias", append(append([]string(nil), get("alias")...), nicknames[u.IntN(len(nicknames))])...)
		set("passportNumber", get("passportNumber")[0][:2]+fmt.Sprintf("%07d", u.IntN(10000000)))
	case KindPassport:
		set("endDate", fmt.Sprintf("%d-%02d-%02d", 2027+u.IntN(10), 1+u.IntN(12), 1+u.IntN(28)))
	case KindOrganization, KindCompany:
		set("address", cities[u.IntN(len(cities))]+", "+streets[u.IntN(len(streets))]+" "+strconv.Itoa(1+u.IntN(200)))
	case KindMembership:
		set("status", "former")
		set("endDate", fmt.Sprintf("2026-%02d-%02d", 1+u.IntN(11), 1+u.IntN(28)))
	case KindOwnership:
		set("percentage", strconv.Itoa(5+u.IntN(96)))
	case KindAccount:
		set("balance", strconv.Itoa(u.IntN(2000000))+".00")
	case KindPayment:
		set("purpose", get("purpose")[0]+" (amended)")
	}
}

// encode writes the record as a valise JSON line.
func (g *Generator) encode(id string, k Kind) []byte {
	b := g.line[:0]
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"schema":`...)
	b = appendString(b, kindSchema[k])
	b = append(b, `,"properties":{`...)
	for i, p := range g.props {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.name)
		b = append(b, `:[`...)
		for j, v := range p.values {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if g.origin != "-" {
		b = append(b, `,"origin":`...)
		b = appendString(b, g.origin)
	}
	b = append(b, `,"handling":{"tlp":"amber"}}`...)
	g.line = b
	return b
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ID returns the id of the record at position i (0-based) of a run, which
// must already have been generated.
func (g *Generator) ID(i int) string {
	return kindPrefix[g.kinds[i]] + "-" + pad(i+1, g.width)
}

// SplitLine returns the id and schema of a line that Next returned,
// without a JSON parser (for writing CSV).
func SplitLine(line []byte) (id, schema string) {
	id = field(line, `{"id":"`)
	schema = field(line, `,"schema":"`)
	return id, schema
}

func field(line []byte, key string) string {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
