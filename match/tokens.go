package match

import "strings"

// Flags of a word, worked out once.
const (
	tokNumeral = 1 << iota
	tokTitle
	tokDigit
)

// tokenTable interns the words of names, so that an entity holds small
// numbers instead of strings, and two words compare as numbers first.
type tokenTable struct {
	idx      map[string]uint32
	text     []string
	skel     []uint32 // skeleton number of each word
	weight   []float32
	flags    []uint8 // tokNumeral, tokTitle, tokDigit
	skelIdx  map[string]uint32
	skelText []string
}

func newTokenTable() *tokenTable {
	return &tokenTable{idx: map[string]uint32{}, skelIdx: map[string]uint32{}}
}

func (t *tokenTable) intern(w string) uint32 {
	if n, ok := t.idx[w]; ok {
		return n
	}
	n := uint32(len(t.text))
	w = strings.Clone(w)
	t.idx[w] = n
	t.text = append(t.text, w)
	sk := skeleton(w)
	s, ok := t.skelIdx[sk]
	if !ok {
		s = uint32(len(t.skelText))
		t.skelIdx[sk] = s
		t.skelText = append(t.skelText, sk)
	}
	t.skel = append(t.skel, s)
	t.weight = append(t.weight, wordWeight(w))
	var fl uint8
	if isNumeral(w) {
		fl |= tokNumeral
	}
	if titles[w] {
		fl |= tokTitle
	}
	if hasDigit(w) {
		fl |= tokDigit
	}
	t.flags = append(t.flags, fl)
	return n
}

// blockKey is the part of a word that blocking uses: its skeleton, or
// the word itself when the skeleton is too short to tell words apart
// ("Ali" is "l"). ok is false for words too short to block on.
func (t *tokenTable) blockKey(w uint32) (string, bool) {
	text := t.text[w]
	if len(text) < 2 || t.weight[w] < 0.5 {
		return "", false
	}
	if sk := t.skelText[t.skel[w]]; len(sk) >= 2 {
		return sk, true
	}
	return "=" + text, true
}

// sim is the similarity of two words, 0 to 1: 1 for the same word, 0.9
// for the same skeleton, the edit-distance ratio when it is high, 0.5 for
// an initial and the word it may stand for.
func (t *tokenTable) sim(a, b uint32) float64 {
	if a == b {
		return 1
	}
	ta, tb := t.text[a], t.text[b]
	if (t.flags[a]|t.flags[b])&tokNumeral != 0 {
		return 0 // II is not I
	}
	if len(ta) == 1 || len(tb) == 1 {
		if ta[0] == tb[0] && isLetter(ta[0]) {
			return 0.5
		}
		return 0
	}
	if len(ta) <= 3 || len(tb) <= 3 || (t.flags[a]|t.flags[b])&tokDigit != 0 {
		// Short words and codes (EP-MNG, YV2763, RA-85559) are equal or
		// different: one letter changes them.
		return 0
	}
	r := ratio(ta, tb)
	if t.skel[a] == t.skel[b] {
		if len(t.skelText[t.skel[a]]) >= 3 {
			return max(0.9, r)
		}
		if r >= 0.6 { // Sayed and Sayyid, not Hadi and Hoda
			return max(0.85, r)
		}
		return 0
	}
	if sa, sb := t.skelText[t.skel[a]], t.skelText[t.skel[b]]; sa != "" && sb != "" && sa[0] != sb[0] &&
		!isVowel(ta[0]) && !isVowel(tb[0]) {
		r *= 0.7 // another first consonant makes another name: Kamal and Jamal
	}
	if r >= 0.75 {
		return r
	}
	return 0
}

// compactSim compares two names written without spaces between their
// words, in the order given: the same letters (Abu Bakr and Abubakr, Bin
// Laden and Binladen) give 0.95, one letter more or less 0.9.
func (t *tokenTable) compactSim(x, y []uint32) float64 {
	var a, b [128]byte
	sa, sb := a[:0], b[:0]
	for _, w := range x {
		if t.flags[w]&tokNumeral != 0 {
			return 0
		}
		sa = append(sa, t.text[w]...)
	}
	for _, w := range y {
		if t.flags[w]&tokNumeral != 0 {
			return 0
		}
		sb = append(sb, t.text[w]...)
	}
	if len(sa) > 100 || len(sb) > 100 || len(sa) < 6 {
		return 0
	}
	if string(sa) == string(sb) {
		return 0.95
	}
	var row [101]int
	if d := len(sa) - len(sb); d <= 1 && d >= -1 && levenshtein(string(sa), string(sb), row[:0]) <= 1 {
		return 0.9
	}
	return 0
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
