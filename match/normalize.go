package match

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fold turns a name into lowercase ASCII words separated by single
// spaces: accents are stripped, Cyrillic, Greek and Arabic script are
// transliterated, everything that is not a letter or a digit separates
// words. Letters of other scripts are kept as they are. The Arabic article
// written into a word (الجلامة) becomes a word of its own (al jlama), as
// it is in Latin script (al-Jalamah).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s = norm.NFKD.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	space := true // the last byte written is a space, or nothing was written
	sep := func() {
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	prevArabic := false
	for i, r := range s {
		if r < utf8.RuneSelf {
			prevArabic = false
			c := byte(r)
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				b.WriteByte(c)
				space = false
			case c >= 'A' && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
				space = false
			case c == '\'' || c == '`':
				// Apostrophes inside a name (O'Brien, Ma'ruf) join.
			default:
				sep()
			}
			continue
		}
		if unicode.Is(unicode.Mn, r) || r == '’' || r == '‘' || r == 'ʼ' || r == 'ʻ' || r == '´' || r == 'ʹ' {
			continue // accents, Arabic short vowels, apostrophes (Sab’awi)
		}
		var t string
		var ok bool
		if r >= 0x0600 && r <= 0x06ff {
			if t, ok = arabic[r]; ok {
				if !prevArabic && r == 'ا' && strings.HasPrefix(s[i+len("ا"):], "ل") {
					sep()
					b.WriteString("al ")
					space = true
					prevArabic = true
					continue
				}
				if prevArabic && r == 'ل' && strings.HasSuffix(b.String(), "al ") && space {
					continue // the lam of the article, already written
				}
			}
			prevArabic = ok
		} else {
			prevArabic = false
			if t, ok = cyrillic[unicode.ToLower(r)]; !ok {
				t, ok = greek[unicode.ToLower(r)]
			}
		}
		switch {
		case ok:
			if t != "" {
				b.WriteString(t)
				space = false
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		default:
			sep()
		}
	}
	return strings.TrimRight(b.String(), " ")
}

var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z", 'и': "i",
	'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t",
	'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "",
	'э': "e", 'ю': "yu", 'я': "ya",
	// Ukrainian, Belarusian, Kazakh, Uzbek, Tajik, Kyrgyz, Serbian.
	'і': "i", 'ї': "yi", 'є': "ye", 'ґ': "g", 'ў': "u", 'ә': "a", 'ғ': "gh", 'қ': "q", 'ң': "ng", 'ө': "o",
	'ұ': "u", 'ү': "u", 'һ': "h", 'ҳ': "h", 'ҷ': "j", 'ђ': "dj", 'ј': "j", 'љ': "lj", 'њ': "nj", 'ћ': "c",
	'џ': "dz",
}

var greek = map[rune]string{
	'α': "a", 'β': "v", 'γ': "g", 'δ': "d", 'ε': "e", 'ζ': "z", 'η': "i", 'θ': "th", 'ι': "i", 'κ': "k",
	'λ': "l", 'μ': "m", 'ν': "n", 'ξ': "x", 'ο': "o", 'π': "p", 'ρ': "r", 'σ': "s", 'ς': "s", 'τ': "t",
	'υ': "y", 'φ': "f", 'χ': "ch", 'ψ': "ps", 'ω': "o",
}

// arabic transliterates the consonants of Arabic and Persian script; the
// short vowels are marks and were stripped. Long vowels and ya/waw are
// written as the vowels they usually are, and ain as a vowel, as Latin
// script writes it (Umar, Omar, 'Umar; Abd).
var arabic = map[rune]string{
	'ا': "a", 'أ': "a", 'إ': "i", 'آ': "a", 'ٱ': "a", 'ب': "b", 'ت': "t", 'ث': "th", 'ج': "j", 'ح': "h",
	'خ': "kh", 'د': "d", 'ذ': "dh", 'ر': "r", 'ز': "z", 'س': "s", 'ش': "sh", 'ص': "s", 'ض': "d", 'ط': "t",
	'ظ': "z", 'ع': "a", 'غ': "gh", 'ف': "f", 'ق': "q", 'ك': "k", 'ل': "l", 'م': "m", 'ن': "n", 'ه': "h",
	'و': "w", 'ي': "y", 'ى': "a", 'ة': "a", 'ء': "", 'ئ': "", 'ؤ': "", 'ـ': "",
	'پ': "p", 'چ': "ch", 'ژ': "zh", 'گ': "g", 'ک': "k", 'ی': "y", 'ە': "a", 'ہ': "h", 'ۀ': "a",
}

// Words that do not tell names apart. Particles are left out of a
// person's name and titles weigh half (Qari Zakir is how he is known, Dr.
// is not part of a name); an organisation keeps every word, but legal
// forms and connectives weigh little and descriptive words half (see
// wordWeight).
var (
	particles = set("al el ul ad ed as ash at ath ar an az bin ibn bint ben bn de del della da di do dos das du la le " +
		"van von der den ter y e")
	titles = set("dr doctor mr mrs ms miss mme prof professor sir haji hajji hadji alhaji sheikh shaykh sheik shaikh " +
		"mullah mulla mawlawi maulvi maulana mawlana qari hafiz imam general gen colonel col " +
		"major maj captain capt brigadier lieutenant lt admiral adm engineer eng")
	// lightWords weigh 0.1: legal forms and connectives.
	lightWords = set("the of and for in on at to a an al el la le les des du de da di del y e et und " +
		"llc limited company corporation incorporated jsc ojsc cjsc pjsc ooo oao zao pao ao too llp lp gmbh ag sa " +
		"sarl srl spa bv nv plc fze fzco fzc fz sdn bhd pte pvt private public joint stock closed open type eood ood " +
		"ead kft sro ab oy ltda limitada cia sas sac cv obshchestvo obschestvo ogranichennoi ogranichennoy " +
		"otvetstvennostyu otvetstvennostiu aktsionernoe aktsionernoye zakrytoe zakrytoye otkrytoe otkrytoye " +
		"publichnoe publichnoye tovarystvo tovaristvo vidpovidalnistyu obmezhenoyu")
	// halfWords weigh 0.5: descriptive words that many names share, and
	// the kunya words of Arabic names (Abu Muhammad is many people).
	halfWords = set("group holding holdings trading international enterprise enterprises establishment industries " +
		"services firm partnership abu abou abo umm abd")
	// synonyms are written one way before comparing.
	synonyms = map[string]string{"ltd": "limited", "co": "company", "corp": "corporation", "inc": "incorporated",
		"intl": "international", "org": "organization", "organisation": "organization", "centre": "center",
		"est": "establishment", "industry": "industries", "natl": "national", "mohd": "muhammad", "md": "muhammad"}
)

// numerals tell apart entities whose names are otherwise the same
// (INVESTMENTS I and II, FOURTEENTH and FIFTEENTH OCEAN).
var numerals = set("i ii iii iv v vi vii viii ix x xi xii xiii xiv xv first second third fourth fifth sixth seventh " +
	"eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth one two three four five six seven eight nine ten")

func isNumeral(w string) bool {
	if numerals[w] {
		return true
	}
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

// wordWeight is how much a word of a name counts.
func wordWeight(w string) float32 {
	switch {
	case len(w) == 1:
		return 0.3 // an initial
	case lightWords[w]:
		return 0.1
	case halfWords[w] || titles[w]:
		return 0.5
	}
	return 1
}

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// theophoric prefixes written into one word ("Abdulrahman", "Abdelkader")
// are split so that they compare with "Abd al-Rahman" and "Abdul Rahman".
var abdPrefixes = []string{"abdul", "abdel", "abdal", "abdoul", "abdool", "abdu", "abd"}

// nameTokens splits a folded name into the words that identify it: for
// persons without particles, for organisations with synonyms
// written one way. Words of one letter are kept (initials) but never used
// for blocking.
func nameTokens(folded string, class Class) []string {
	all := strings.Fields(folded)
	out := make([]string, 0, len(all)+1)
	for _, w := range all {
		switch class {
		case ClassPerson:
			if particles[w] {
				continue
			}
			// "al-X" was split by fold; "alX" is left alone: too many
			// names start with al (Ali, Alexander).
			split := false
			for _, p := range abdPrefixes {
				if len(w) >= len(p)+3 && strings.HasPrefix(w, p) && w != "abdullah" && w != "abdallah" {
					rest := strings.TrimPrefix(w[len(p):], "l")
					if p == "abd" || p == "abdu" {
						if !strings.HasPrefix(rest, "al") && !strings.HasPrefix(rest, "el") && !strings.HasPrefix(rest, "ul") {
							continue
						}
						rest = rest[2:]
					}
					if len(rest) >= 3 {
						out = append(out, "abd", rest)
						split = true
					}
					break
				}
			}
			if split {
				continue
			}
			if w == "abdul" || w == "abdel" || w == "abdal" || w == "abdoul" {
				w = "abd"
			}
		default:
			if c, ok := synonyms[w]; ok {
				w = c
			}
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// skeleton reduces a folded word to a consonant key that most
// transliterations of one name share: Ahmed and Ahmad, Qadhafi and
// Gaddafi, Sayed and Sayyid, Mohammed and Muhammad, Sergei and Sergey,
// Dawood and Daud. Digraphs become one letter, q, g and c become k, w
// becomes v (or goes after a vowel), doubled letters become one, vowels
// and y go, and so does a final h after a vowel (Abdullah, Abdulla).
// Only letters the word doubles become one: Janan is not Jan.
func skeleton(w string) string {
	b := make([]byte, 0, len(w))
	var last byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		var n byte
		if i+1 < len(w) {
			n = w[i+1]
		}
		switch {
		case n == 'h' && (c == 'k' || c == 'g'):
			c = 'h' // kh, gh
			i++
		case n == 'h' && (c == 's' || c == 'c' || c == 'z'):
			c = 'S' // sh, ch, zh
			i++
		case n == 'h' && (c == 't' || c == 'd'):
			i++ // th, dh
		case n == 'h' && c == 'p':
			c = 'f'
			i++
		case c == 'd' && n == 'j':
			c = 'j'
			i++
		case c == 'q' || c == 'g' || c == 'c':
			c = 'k'
		case c == 'x':
			b = append(b, 'k')
			c = 's'
		case c == 'w':
			if i > 0 && isVowel(w[i-1]) {
				last = 0
				continue
			}
			c = 'v'
		}
		if isVowel(c) {
			last = 0
			continue
		}
		if c == last {
			continue // a doubled letter, not one repeated across a vowel (Janan is not Jan)
		}
		b = append(b, c)
		last = c
	}
	if len(b) > 1 && b[len(b)-1] == 'h' && len(w) > 1 && w[len(w)-1] == 'h' && isVowel(w[len(w)-2]) {
		b = b[:len(b)-1]
	}
	return string(b)
}

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u', 'y':
		return true
	}
	return false
}
