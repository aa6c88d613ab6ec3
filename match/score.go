package match

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Evidence is one finding for or against a pair: a positive weight counts
// for the two records being the same, a negative one against.
type Evidence struct {
	Kind   string  // name, birth date, identifier, country, gender, referents, judgement
	Weight float64 // what it adds to the score
	Text   string  // for the analyst
}

// Weights of the name similarity in the score, by class: an
// organisation's name says more than a person's, which needs a second
// fact (a date, a document) to reach the default threshold.
func nameWeight(a, b Class) float64 {
	switch {
	case a == ClassPerson || b == ClassPerson:
		return 0.65
	case a == ClassVehicle:
		return 0.55
	}
	return 0.85
}

// scorer compares decoded entities; it holds the index's token tables and
// scratch space, and is used by one goroutine.
type scorer struct {
	ix    *Index
	sim   [maxTokens * maxTokens]float32
	cache map[uint64]float32 // word pair → similarity
}

// wordSim is tokenTable.sim remembered: the same words meet again and
// again.
func (s *scorer) wordSim(a, b uint32) float32 {
	if a == b {
		return 1
	}
	if b < a {
		a, b = b, a
	}
	k := uint64(a)<<32 | uint64(b)
	if v, ok := s.cache[k]; ok {
		return v
	}
	if s.cache == nil || len(s.cache) > 1<<16 {
		s.cache = make(map[uint64]float32, 1024)
	}
	v := float32(s.ix.tokens.sim(a, b))
	s.cache[k] = v
	return v
}

// compare scores a pair. With explain it also returns the evidence.
func (s *scorer) compare(a, b *entity, explain bool) (float64, []Evidence) {
	var ev []Evidence
	if def, text := definite(a, b); def {
		if explain {
			ev = append(ev, Evidence{Kind: "referents", Weight: 1, Text: text})
		}
		return 1, ev
	}
	score := 0.0
	if len(a.names) > 0 && len(b.names) > 0 && a.class != ClassAccount {
		score = s.nameEvidence(a, b, explain, &ev)
	}
	if a.class == ClassPerson && b.class == ClassPerson {
		if dw, text := dateVerdict(a.dates, b.dates, explain); dw != 0 {
			score += dw
			if explain {
				ev = append(ev, Evidence{"birth_date", dw, text})
			}
		}
		if a.gender != 0 && b.gender != 0 && a.gender != b.gender {
			score -= 0.3
			if explain {
				ev = append(ev, Evidence{"gender", -0.3, "different genders"})
			}
		}
	}
	if iw, iev := idVerdict(a.ids, b.ids, explain); iw != 0 {
		score += iw
		if explain {
			ev = append(ev, iev...)
		}
	}
	if cw, text := countryVerdict(a, b, explain); cw != 0 {
		score += cw
		if explain {
			ev = append(ev, Evidence{"country", cw, text})
		}
	}
	score = math.Max(0, math.Min(1, score))
	return math.Round(score*100) / 100, ev
}

// nameEvidence weighs the best pair of names by the class.
func (s *scorer) nameEvidence(a, b *entity, explain bool, ev *[]Evidence) float64 {
	nm, ai, bi := s.names(a, b)
	w := nameWeight(a.class, b.class) * nm
	if explain {
		na, nb := string(a.names[ai].raw), string(b.names[bi].raw)
		var text string
		switch {
		case nm >= 0.995:
			text = fmt.Sprintf("same name: %q and %q", na, nb)
		case nm >= 0.5:
			text = fmt.Sprintf("similar names (%.2f): %q and %q", nm, na, nb)
		default:
			text = fmt.Sprintf("names differ (%.2f): %q and %q", nm, na, nb)
		}
		*ev = append(*ev, Evidence{"name", w, text})
	}
	return w
}

// definite reports a pair that FtM referents say is one entity: one names
// the other, or both name the same source record.
func definite(a, b *entity) (bool, string) {
	for _, r := range a.refs {
		if r == b.id {
			return true, fmt.Sprintf("%s lists %s among its referents", a.id, b.id)
		}
	}
	for _, r := range b.refs {
		if r == a.id {
			return true, fmt.Sprintf("%s lists %s among its referents", b.id, a.id)
		}
		if slices.Contains(a.refs, r) {
			return true, fmt.Sprintf("both list %s among their referents", r)
		}
	}
	return false, ""
}

// countryVerdict: a shared country counts a little for; countries that
// are all different count a little against persons (people change
// nationality) and more against organisations.
func countryVerdict(a, b *entity, explain bool) (float64, string) {
	if len(a.countries) == 0 || len(b.countries) == 0 {
		return 0, ""
	}
	for _, x := range a.countries {
		for _, y := range b.countries {
			if x == y {
				return 0.05, "both linked to country " + x
			}
		}
	}
	w := -0.05
	if a.class != ClassPerson && b.class != ClassPerson {
		w = -0.2 // an organisation's branches abroad are other legal entities
	}
	if !explain {
		return w, ""
	}
	return w, fmt.Sprintf("no country in common (%s; %s)", strings.Join(a.countries, ", "), strings.Join(b.countries, ", "))
}

// names returns the best similarity between a name of a and a name of b,
// and which names gave it. Weak aliases count 10% less, and an
// organisation's acronym (PCI, MSC) 40% less unless it is one side's main
// name. Organisations that meet only by aliases on both sides, when no
// other pair of their names comes close, count 20% less: several groups
// are called Ansar al-Sharia.
func (s *scorer) names(a, b *entity) (float64, int, int) {
	best, bi, bj := 0.0, 0, 0
	person := a.class == ClassPerson // compatible: b is of a's class
	for i := range a.names {
		for j := range b.names {
			na, nb := &a.names[i], &b.names[j]
			x := s.nameSim(na.toks, nb.toks, person)
			if x == 0.7 && person && (na.flags|nb.flags)&flagPrimary != 0 && sameWords(na.toks, nb.toks) {
				x = 0.85 // one word and a title, as one side's main name: MAULANA FAZLULLAH
			}
			if na.flags&flagWeak != 0 || nb.flags&flagWeak != 0 {
				x *= 0.9
			}
			if (na.flags|nb.flags)&flagAcronym != 0 && (na.flags|nb.flags)&flagPrimary == 0 {
				x *= 0.6
			}
			if x > best {
				best, bi, bj = x, i, j
				if best >= 1 {
					break
				}
			}
		}
	}
	if !person && best > 0.5 && (a.names[bi].flags|b.names[bj].flags)&flagPrimary == 0 {
		other := 0.0
		for i := range a.names {
			for j := range b.names {
				if i != bi && j != bj && other < 0.5 {
					other = max(other, s.nameSim(a.names[i].toks, b.names[j].toks, false))
				}
			}
		}
		if other < 0.5 {
			best *= 0.8
		}
	}
	return best, bi, bj
}

// nameSim compares two names word by word in any order: every word is
// paired with its most similar word on the other side, each at most once,
// and the similarities are summed by the words' weights (see wordWeight).
//
// For persons, a name that holds the other (an extra middle name) costs
// little: the sum is averaged over the lighter and the heavier name. When
// both names keep words of their own (Yasir and Bashar, brothers with the
// same father's names) it is taken over the heavier name and cut by 35%,
// and names that share only one full word score at most 0.7 (or 0.42
// when the other has more).
//
// For organisations and vehicles near-miss words count squared, the sum is
// taken over the heavier name and squared, and cut by 10% when one name
// has words of its own, by 20% when both have: a word of its own
// (INVESTMENT, TUNISIA, FZE) usually makes another entity of the same
// group, and two companies that differ only by legal form are often two
// registrations.
func (s *scorer) nameSim(x, y []uint32, person bool) float64 {
	n, m := len(x), len(y)
	if n == 0 || m == 0 {
		return 0
	}
	tt := s.ix.tokens
	if n == m && slices.Equal(x, y) {
		if person {
			strong := 0
			for _, a := range x {
				if tt.weight[a] == 1 {
					strong++
				}
			}
			if strong < 2 {
				return 0.7 // one word: a nickname, a kunya (Abu Muhammad)
			}
		}
		return 1
	}
	return s.tokenSim(x, y, person)
}

func (s *scorer) tokenSim(x, y []uint32, person bool) float64 {
	n, m := len(x), len(y)
	tt := s.ix.tokens
	for i, a := range x {
		for j, b := range y {
			v := s.wordSim(a, b)
			if !person && v < 1 {
				v *= v // a near miss in a company's name is often a sister company
			}
			s.sim[i*m+j] = float32(v)
		}
	}
	var wx, wy float64
	for _, a := range x {
		wx += float64(tt.weight[a])
	}
	for _, b := range y {
		wy += float64(tt.weight[b])
	}
	// Greedy assignment, best pairs first: names have a handful of words.
	usedX, usedY := 0, 0 // bit sets
	total, mx, my := 0.0, 0.0, 0.0
	strong, strongX, strongY := 0, 0, 0
	for k := 0; k < min(n, m); k++ {
		bv, bi, bj := float32(0), -1, -1
		for i := 0; i < n; i++ {
			if usedX&(1<<i) != 0 {
				continue
			}
			for j := 0; j < m; j++ {
				if usedY&(1<<j) == 0 && s.sim[i*m+j] > bv {
					bv, bi, bj = s.sim[i*m+j], i, j
				}
			}
		}
		if bi < 0 {
			break
		}
		usedX |= 1 << bi
		usedY |= 1 << bj
		ax, ay := float64(tt.weight[x[bi]]), float64(tt.weight[y[bj]])
		total += float64(bv) * (ax + ay) / 2
		mx += ax
		my += ay
		if ax == 1 && ay == 1 && bv >= 0.75 {
			strong++
		}
	}
	if person {
		// A title only one name carries (Dr., Haji) is not part of it.
		for i, a := range x {
			if usedX&(1<<i) == 0 && tt.flags[a]&tokTitle != 0 {
				wx -= float64(tt.weight[a])
			}
		}
		for j, b := range y {
			if usedY&(1<<j) == 0 && tt.flags[b]&tokTitle != 0 {
				wy -= float64(tt.weight[b])
			}
		}
	}
	lo, hi := min(wx, wy), max(wx, wy)
	var sim float64
	if person {
		for _, a := range x {
			if tt.weight[a] == 1 {
				strongX++
			}
		}
		for _, b := range y {
			if tt.weight[b] == 1 {
				strongY++
			}
		}
		if wx-mx <= 0.5 || wy-my <= 0.5 {
			sim = 0.5*total/lo + 0.5*total/hi
		} else {
			sim = 0.65 * total / hi
		}
		if strong < 2 {
			if max(strongX, strongY) >= 2 {
				sim *= 0.6
			} else {
				sim = min(sim, 0.7)
			}
		}
	} else {
		sim = total / hi
		sim *= sim
		switch {
		case wx-mx > 0 && wy-my > 0:
			sim *= 0.8 // words of their own on both sides: TAMYNA AG and TAMYNA FZE
		case wx-mx > 0 || wy-my > 0:
			sim *= 0.9 // one more word, even a legal form: GLOBOVISION TELE CA and … CA CORP
		}
		for i, a := range x {
			if usedX&(1<<i) == 0 && (tt.flags[a]&tokNumeral != 0 || len(tt.text[a]) == 1) {
				sim *= 0.5 // RIM GROUP INVESTMENTS I and II, STROYTRANSGAZ-M
				break
			}
		}
		for j, b := range y {
			if usedY&(1<<j) == 0 && (tt.flags[b]&tokNumeral != 0 || len(tt.text[b]) == 1) {
				sim *= 0.5
				break
			}
		}
	}
	if sim < 0.9 && n != m {
		// Words run together or split differently ("Abu Bakr" and
		// "Abubakr"): compare the names written without spaces.
		sim = max(sim, tt.compactSim(x, y))
	}
	return sim
}

// sameWords reports whether two names hold the same words in any order.
func sameWords(x, y []uint32) bool {
	if len(x) != len(y) {
		return false
	}
	for _, a := range x {
		if !slices.Contains(y, a) {
			return false
		}
	}
	return true
}

// levenshtein returns the edit distance of a and b (bytes).
func levenshtein(a, b string, row []int) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	row = row[:0]
	for j := 0; j <= len(b); j++ {
		row = append(row, j)
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}

// ratio is 1 minus the edit distance over the longer length.
func ratio(a, b string) float64 {
	if a == b {
		return 1
	}
	l := max(len(a), len(b))
	if l == 0 {
		return 1
	}
	if d := len(a) - len(b); d > l/4 || -d > l/4 {
		return 0 // too different in length to be close
	}
	var buf [64]int
	return 1 - float64(levenshtein(a, b, buf[:0]))/float64(l)
}
