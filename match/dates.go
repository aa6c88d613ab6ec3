package match

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Precision of a date as the source gave it.
type precision uint8

const (
	precDay   precision = iota // 1975-03-02
	precMonth                  // 1975-03
	precYear                   // 1975
	precCirca                  // circa 1975, approximately 1975
	precRange                  // 1973 to 1976, between 1973 and 1976
)

// span is a date as the interval of days it may be: lo and hi are
// yyyymmdd numbers, which order like the days they name.
type span struct {
	lo, hi int32
	prec   precision
}

func (s span) String() string {
	switch s.prec {
	case precDay:
		return fmtDay(s.lo)
	case precMonth:
		return fmtDay(s.lo)[:7]
	case precYear:
		return strconv.Itoa(int(s.lo / 10000))
	case precCirca:
		return fmt.Sprintf("circa %d", (s.lo/10000+s.hi/10000)/2)
	}
	lo, hi := fmtDay(s.lo), fmtDay(s.hi)
	if strings.HasSuffix(lo, "-01-01") && strings.HasSuffix(hi, "-12-31") {
		lo, hi = lo[:4], hi[:4]
	}
	return lo + " to " + hi
}

func fmtDay(d int32) string {
	return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100)
}

// parseISO reads an ISO 8601 prefix (1975, 1975-03, 1975-03-02, with or
// without a time) as a span.
func parseISO(v string) (span, bool) {
	if len(v) > 10 {
		v = v[:10]
	}
	if len(v) < 4 {
		return span{}, false
	}
	y, err := strconv.Atoi(v[:4])
	if err != nil || y < 1000 {
		return span{}, false
	}
	switch {
	case len(v) == 4:
		return yearSpan(y, y, precYear), true
	case len(v) == 7 && v[4] == '-':
		m, err := strconv.Atoi(v[5:7])
		if err != nil || m < 1 || m > 12 {
			return span{}, false
		}
		base := int32(y*10000 + m*100)
		return span{base + 1, base + 31, precMonth}, true
	case len(v) == 10 && v[4] == '-' && v[7] == '-':
		m, err1 := strconv.Atoi(v[5:7])
		d, err2 := strconv.Atoi(v[8:10])
		if err1 != nil || err2 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
			return span{}, false
		}
		day := int32(y*10000 + m*100 + d)
		return span{day, day, precDay}, true
	}
	return span{}, false
}

func yearSpan(from, to int, p precision) span {
	return span{int32(from*10000 + 101), int32(to*10000 + 1231), p}
}

var monthNum = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
	"sep": 9, "oct": 10, "nov": 11, "dec": 12}

// parseWritten reads a date written the way the OFAC list writes it: "12
// Jan 1962", "Jan 1962", "1962", also "1962-01-12".
func parseWritten(s string) (span, bool) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if sp, ok := parseISO(s); ok && (len(s) == 4 || len(s) == 7 || len(s) == 10) {
		return sp, true
	}
	f := strings.Fields(s)
	switch len(f) {
	case 2:
		m, ok := monthNum[strings.ToLower(trimTo3(f[0]))]
		y, err := strconv.Atoi(f[1])
		if ok && err == nil && y >= 1000 && y < 10000 {
			base := int32(y*10000 + m*100)
			return span{base + 1, base + 31, precMonth}, true
		}
	case 3:
		d, err1 := strconv.Atoi(f[0])
		m, ok := monthNum[strings.ToLower(trimTo3(f[1]))]
		y, err2 := strconv.Atoi(f[2])
		if ok && err1 == nil && err2 == nil && d >= 1 && d <= 31 && y >= 1000 && y < 10000 {
			day := int32(y*10000 + m*100 + d)
			return span{day, day, precDay}, true
		}
	}
	return span{}, false
}

func trimTo3(s string) string {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// circa widens a span by a year on each side.
func circa(s span) span {
	return span{s.lo - 10000, s.hi + 10000, precCirca}
}

// rangeOf joins two spans into the range from the first to the second. A
// range that covers exactly one calendar year or month is that year or
// month ("01 Jan 1973 to 31 Dec 1973" is 1973).
func rangeOf(a, b span) (span, bool) {
	if b.hi < a.lo {
		return span{}, false
	}
	s := span{a.lo, b.hi, precRange}
	switch {
	case s.lo%10000 == 101 && s.hi%10000 == 1231 && s.lo/10000 == s.hi/10000:
		s.prec = precYear
	case s.lo%100 == 1 && s.hi%100 >= 28 && s.lo/100 == s.hi/100:
		s.prec = precMonth
	}
	return s, true
}

var (
	// OFAC remarks: "DOB 12 Jan 1962", "alt. DOB circa 1962", "DOB 1962 to
	// 1965", "DOB 01 Jan 1973 to 31 Dec 1973".
	reOFACDOB = regexp.MustCompile(`^(?:[Aa]lt\. )?DOB:? (.+)$`)
	// UN list, as the reader keeps it in notes: "Date of birth: type
	// APPROXIMATELY; year 1967", "type BETWEEN; from year 1960; to year 1965".
	reUNDOB   = regexp.MustCompile(`^Date of birth: (.*)$`)
	reUNField = regexp.MustCompile(`(type|date|year|from year|to year|note) ([^;]+)`)
)

// datesInText finds the dates of birth written in a note: the OFAC and UN
// forms, with circa and ranges, which a reader may have left out of
// birthDate.
func datesInText(text string, into []span) []span {
	if !strings.Contains(text, "DOB") && !strings.Contains(text, "Date of birth") {
		return into
	}
	for _, seg := range strings.Split(text, ";") {
		seg = strings.TrimSpace(seg)
		if m := reOFACDOB.FindStringSubmatch(seg); m != nil {
			if s, ok := parseOFACDate(m[1]); ok {
				into = append(into, s)
			}
		}
	}
	if m := reUNDOB.FindStringSubmatch(text); m != nil {
		var typ, date, year, from, to string
		for _, f := range reUNField.FindAllStringSubmatch(m[1], -1) {
			v := strings.TrimSpace(f[2])
			switch f[1] {
			case "type":
				typ = v
			case "date":
				date = v
			case "year":
				year = v
			case "from year":
				from = v
			case "to year":
				to = v
			}
		}
		var s span
		var ok bool
		switch {
		case from != "" && to != "":
			a, ok1 := parseISO(from)
			b, ok2 := parseISO(to)
			if ok1 && ok2 {
				s, ok = rangeOf(a, b)
			}
		case date != "":
			s, ok = parseISO(date)
		case year != "":
			s, ok = parseISO(year)
		}
		if ok {
			if typ == "APPROXIMATELY" || strings.Contains(strings.ToLower(m[1]), "approximately") {
				s = circa(s)
			}
			into = append(into, s)
		}
	}
	return into
}

// parseOFACDate reads what follows "DOB ": a date, "circa" a date, or a
// range "A to B".
func parseOFACDate(s string) (span, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	approx := false
	if rest, ok := strings.CutPrefix(s, "circa "); ok {
		approx, s = true, rest
	}
	if a, b, ok := strings.Cut(s, " to "); ok {
		x, ok1 := parseWritten(a)
		y, ok2 := parseWritten(b)
		if !ok1 || !ok2 {
			return span{}, false
		}
		r, ok := rangeOf(x, y)
		if ok && approx {
			r = circa(r)
		}
		return r, ok
	}
	if a, b, ok := strings.Cut(s, "-"); ok && len(a) == 4 && len(b) == 4 { // "circa 1960-1962"
		x, ok1 := parseWritten(a)
		y, ok2 := parseWritten(b)
		if ok1 && ok2 {
			r, ok := rangeOf(x, y)
			if ok && approx {
				r = circa(r)
			}
			return r, ok
		}
	}
	d, ok := parseWritten(s)
	if ok && approx {
		d = circa(d)
	}
	return d, ok
}

// dateVerdict compares two sets of dates of birth at the precision both
// have. It returns the weight of the best agreement, or, when nothing
// agrees, the weight of the disagreement, with a text for the analyst.
func dateVerdict(a, b []span, explain bool) (float64, string) {
	if len(a) == 0 || len(b) == 0 {
		return 0, ""
	}
	best, text := -1.0, ""
	for _, x := range a {
		for _, y := range b {
			if x.hi < y.lo || y.hi < x.lo {
				continue
			}
			w, t := agreement(x, y, explain)
			if w > best {
				best, text = w, t
			}
		}
	}
	if best >= 0 {
		return best, text
	}
	// Nothing overlaps. How far apart are the closest two? (The nearest
	// pair decides: lists give several dates, and one close date is the
	// likeliest to be the true one written differently.)
	gap, gx, gy := int32(1<<30), a[0], b[0]
	for _, x := range a {
		for _, y := range b {
			g := max(y.lo-x.hi, x.lo-y.hi)
			if g < gap {
				gap, gx, gy = g, x, y
			}
		}
	}
	say := func(format string) string {
		if !explain {
			return ""
		}
		return fmt.Sprintf(format, gx, gy)
	}
	exact := gx.prec == precDay && gy.prec == precDay
	sameYear := gx.lo/10000 == gy.lo/10000
	switch {
	case exact && sameYear && gx.lo/100 == gy.lo/100:
		return 0.05, say("birth dates %s and %s in the same month")
	case exact && sameYear && (gx.lo%10000 == 101 || gy.lo%10000 == 101):
		// Lists write an unknown day and month as 1 January.
		return 0.12, say("birth dates %s and %s in the same year (1 January often stands for an unknown date)")
	case exact && sameYear:
		return -0.05, say("different birth dates %s and %s in the same year")
	case exact && (swapped(gx.lo, gy.lo) || oneDigit(gx.lo, gy.lo)):
		return -0.05, say("birth dates %s and %s differ by a digit or a swap of day and month")
	case exact:
		return -0.4, say("different birth dates %s and %s")
	case gap <= 10000:
		return -0.1, say("birth dates %s and %s a year apart")
	}
	return -0.3, say("different birth dates %s and %s")
}

// agreement weighs two overlapping dates by the coarser of their
// precisions.
func agreement(x, y span, explain bool) (float64, string) {
	coarse := max(x.prec, y.prec)
	desc := ""
	if explain {
		desc = x.String()
		if y.String() != desc {
			desc += " and " + y.String()
		}
	}
	switch coarse {
	case precDay:
		return 0.3, "same birth date " + desc
	case precMonth:
		return 0.2, "birth month agrees: " + desc
	case precYear:
		return 0.17, "birth year agrees: " + desc
	}
	// circa or a range: the narrower the window, the more it says.
	width := (min(x.hi, y.hi) - max(x.lo, y.lo)) / 10000
	if x.prec <= precYear || y.prec <= precYear {
		width = 0
	}
	w := 0.12
	if width > 3 {
		w = 0.08
	}
	return w, "birth dates compatible: " + desc
}

func swapped(a, b int32) bool {
	return a/10000 == b/10000 && a/100%100 == b%100 && a%100 == b/100%100
}

func oneDigit(a, b int32) bool {
	sa, sb := strconv.Itoa(int(a)), strconv.Itoa(int(b))
	if len(sa) != len(sb) {
		return false
	}
	d := 0
	for i := range sa {
		if sa[i] != sb[i] {
			d++
		}
	}
	return d == 1
}
