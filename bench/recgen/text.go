package recgen

import (
	"fmt"
	"strings"
)

// Free text: sentences of an analyst's note, built from templates whose
// slots take places, dates, vehicles, amounts and numbers, so that notes
// differ from record to record as real ones do (and compress like them).

var templates = []string{
	"Crossed the border at {crossing} on {date} driving a {colour} {vehicle} with plates {plate}.",
	"Source {grade} reports meetings with a {official} in {place} every {weekday}; last seen on {date}.",
	"Arrested in {year} in {place} with {qty} kg of {drug}; released on bail and wanted since {date}.",
	"Organised cash transfers of about {amount} {currency} a month through exchange offices in {place}.",
	"Uses phone {phone} and a second SIM registered to a {relative} in {place}.",
	"Named by {n} witnesses as {role} of a cell moving {drug} from {place} to {place2}.",
	"Bought {qty} tonnes of {precursor} through {stem} in {year}; the end user certificate was forged.",
	"Travelled to {place2} {n} times between {year} and {year2}, each time for less than a week.",
	"Rents a warehouse at {street} {house}, {place}, paid in cash by a {relative}.",
	"Payments of {amount} {currency} to accounts in {place2} coincide with seizures on the {route} route.",
	"Recruits drivers in {place} through a {channel} channel; offers {amount} {currency} per trip.",
	"Listed on the regional watch list on {date}; entry ban in force until {year2}.",
}

var (
	crossings   = []string{"Dostyk", "Khorgos", "Zhibek Zholy", "Kordai", "Nizhny Pyanj", "Oibek", "Dostuk", "Irkeshtam", "Torugart", "Termez", "Farap", "Kazygurt"}
	colours     = []string{"grey", "white", "black", "silver", "dark blue", "red", "green", "beige"}
	vehicles    = []string{"Toyota Land Cruiser", "Lada Niva", "Kamaz truck", "Mercedes Sprinter", "Hyundai Porter", "MAN tractor unit", "Chevrolet Cobalt", "Daewoo Nexia", "Toyota Camry", "Volvo FH"}
	officials   = []string{"customs officer", "border guard", "police major", "bank clerk", "notary", "railway dispatcher", "port agent"}
	weekdays    = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	drugs       = []string{"heroin", "hashish", "opium", "methamphetamine", "mephedrone", "cocaine", "tramadol", "alpha-PVP"}
	precursors  = []string{"acetic anhydride", "ephedrine", "pseudoephedrine", "potassium permanganate", "safrole", "methylamine", "P2P"}
	relatives   = []string{"brother", "sister", "cousin", "mother-in-law", "nephew", "former wife", "neighbour", "classmate"}
	gradesList  = []string{"B2", "C3", "A2", "B3", "C2", "D4", "F6"}
	routeList   = []string{"northern", "Pamir", "Caspian", "Fergana", "rail", "Balkan", "southern"}
	channelList = []string{"Telegram", "WhatsApp", "Signal", "Instagram", "VKontakte", "Odnoklassniki"}
)

// sentence returns one note.
func (g *Generator) sentence() string {
	t := g.pick(templates)
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			return b.String()
		}
		j := strings.IndexByte(t[i:], '}') + i
		b.WriteString(t[:i])
		b.WriteString(g.slot(t[i+1 : j]))
		t = t[j+1:]
	}
}

func (g *Generator) slot(name string) string {
	r := g.rng
	switch name {
	case "crossing":
		return g.pick(crossings)
	case "date":
		return g.date(2012, 2026)
	case "colour":
		return g.pick(colours)
	case "vehicle":
		return g.pick(vehicles)
	case "plate":
		return fmt.Sprintf("%03d%s%02d", r.IntN(1000), g.letters(3), r.IntN(20))
	case "grade":
		return g.pick(gradesList)
	case "official":
		return g.pick(officials)
	case "place", "place2":
		return g.pick(cities)
	case "weekday":
		return g.pick(weekdays)
	case "year":
		return fmt.Sprint(2005 + r.IntN(15))
	case "year2":
		return fmt.Sprint(2020 + r.IntN(10))
	case "qty":
		return fmt.Sprintf("%d.%d", 1+r.IntN(400), r.IntN(10))
	case "drug":
		return g.pick(drugs)
	case "amount":
		return fmt.Sprint(1000 * (1 + r.IntN(900)))
	case "currency":
		return g.pick(currencies)
	case "phone":
		return fmt.Sprintf("+%d %03d %03d %04d", g.pick7(), 700+r.IntN(100), r.IntN(1000), r.IntN(10000))
	case "relative":
		return g.pick(relatives)
	case "n":
		return fmt.Sprint(2 + r.IntN(9))
	case "role":
		return g.pick(roles)
	case "precursor":
		return g.pick(precursors)
	case "stem":
		return orgStems[r.IntN(len(orgStems))].latin
	case "street":
		return g.pick(streets)
	case "house":
		return fmt.Sprint(1 + r.IntN(250))
	case "route":
		return g.pick(routeList)
	case "channel":
		return g.pick(channelList)
	}
	panic("recgen: unknown slot " + name)
}

func (g *Generator) pick7() int {
	return []int{7, 7, 996, 992, 998, 993, 90, 971}[g.rng.IntN(8)]
}

// purpose returns the purpose line of a payment.
func (g *Generator) purpose() string {
	r := g.rng
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("payment for %s under contract %d/%d of %s", g.pick(goods), 1+r.IntN(300), 2015+r.IntN(11), g.date(2015, 2026))
	case 1:
		return fmt.Sprintf("invoice INV-%06d, %s", r.IntN(1000000), g.pick(goods))
	case 2:
		return fmt.Sprintf("оплата по договору № %d-%s от %s", 1+r.IntN(999), g.letters(2), g.date(2015, 2026))
	case 3:
		return fmt.Sprintf("loan repayment, agreement %s-%d", g.letters(3), r.IntN(100000))
	}
	return g.pick(purposes)
}

var goods = []string{"dried fruit", "cement", "cotton fibre", "spare parts", "mobile phones", "textiles", "fertiliser",
	"construction materials", "tobacco", "flour", "used cars", "medical supplies", "solvents", "tiles"}
