package match

import (
	"strings"

	"valise/schema"
)

// countryOf returns the ISO code of a country as lists write it in text:
// a code, a name, or a name qualified by a note ("Iran / unknown", "Iran
// (Islamic Republic of)"). It returns "" for what it does not know.
func countryOf(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return ""
	}
	if len(s) == 2 && schema.ValidCountry(s) {
		return s
	}
	if c, ok := countryNames[s]; ok {
		return c
	}
	for _, cut := range []string{" / ", "/", " (", ","} {
		if i := strings.Index(s, cut); i > 0 {
			if c, ok := countryNames[strings.TrimSpace(s[:i])]; ok {
				return c
			}
		}
	}
	return ""
}

// countryNames maps the country names and nationality adjectives that
// the published lists use to ISO 3166-1 alpha-2 codes (the same table as
// the readers' in package formats, which match may not import, and a few
// more that appear in remarks).
var countryNames = map[string]string{
	"afghan": "af", "afghanistan": "af", "albania": "al", "algeria": "dz", "algerian": "dz",
	"angola": "ao", "argentina": "ar", "armenia": "am", "australia": "au", "austria": "at",
	"azerbaijan": "az", "bahrain": "bh", "bangladesh": "bd", "barbados": "bb", "belarus": "by",
	"belgium": "be", "bolivia": "bo", "bosnia and herzegovina": "ba", "brazil": "br",
	"british virgin islands": "vg", "bulgaria": "bg", "burma": "mm", "myanmar": "mm",
	"cabo verde": "cv", "cape verde": "cv", "cambodia": "kh", "cameroon": "cm", "canada": "ca",
	"cayman islands": "ky", "central african republic": "cf", "chad": "td", "china": "cn",
	"colombia": "co", "comoros": "km", "union of the comoros": "km",
	"congo, democratic republic of the": "cd", "democratic republic of the congo": "cd",
	"cook islands": "ck", "costa rica": "cr", "cuba": "cu", "cyprus": "cy", "czech republic": "cz",
	"czechia": "cz", "democratic people's republic of korea": "kp", "korea, north": "kp",
	"north korea": "kp", "rpdc": "kp", "korea, south": "kr", "republic of korea": "kr",
	"south korea": "kr", "djibouti": "dj", "dominican republic": "do", "ecuador": "ec",
	"egypt": "eg", "el salvador": "sv", "equatorial guinea": "gq", "eritrea": "er",
	"estonia": "ee", "ethiopia": "et", "finland": "fi", "france": "fr", "gabon": "ga",
	"georgia": "ge", "german": "de", "germany": "de", "ghana": "gh", "greece": "gr",
	"guatemala": "gt", "guinea": "gn", "guinea-bissau": "gw", "haiti": "ht", "honduras": "hn",
	"hong kong": "hk", "hong kong special administrative region": "hk", "hungary": "hu",
	"india": "in", "indonesia": "id", "iran": "ir", "iran (islamic republic of)": "ir",
	"iraq": "iq", "ireland": "ie", "israel": "il", "italy": "it", "jordan": "jo",
	"kazakhstan": "kz", "kenya": "ke", "kiribati": "ki", "kosovo": "xk", "kuwait": "kw",
	"kuwaiti": "kw", "kyrgyzstan": "kg", "latvia": "lv", "lebanon": "lb", "liberia": "lr",
	"libya": "ly", "libyan arab jamahiriya": "ly", "liechtenstein": "li", "malaysia": "my",
	"maldives": "mv", "mali": "ml", "malta": "mt", "marshall islands": "mh", "mauritania": "mr",
	"mexico": "mx", "moldova": "md", "mongolia": "mn", "montenegro": "me", "moroccan": "ma",
	"morocco": "ma", "mozambique": "mz", "netherlands": "nl", "the netherlands": "nl",
	"new zealand": "nz", "nicaragua": "ni", "niger": "ne", "nigeria": "ng",
	"north macedonia, the republic of": "mk", "north macedonia": "mk", "norway": "no",
	"oman": "om", "sultanate of oman": "om", "pakistan": "pk", "pakistani": "pk", "palau": "pw",
	"palestinian": "ps", "palestinian territories": "ps", "state of palestine": "ps",
	"panama": "pa", "paraguay": "py", "peru": "pe", "philippines": "ph", "poland": "pl",
	"qatar": "qa", "romania": "ro", "russia": "ru", "russian federation": "ru", "rwanda": "rw",
	"saint kitts and nevis": "kn", "st. kitts & nevis": "kn", "st. kitts and nevis": "kn",
	"samoa": "ws", "sao tome and principe": "st", "saudi arabia": "sa", "saudi arabian": "sa",
	"senegal": "sn", "serbia": "rs", "sierra leone": "sl", "singapore": "sg", "slovakia": "sk",
	"slovenia": "si", "somali": "so", "somalia": "so", "south africa": "za", "south sudan": "ss",
	"spain": "es", "sri lanka": "lk", "st. vincent and the grenadines": "vc",
	"saint vincent and the grenadines": "vc", "sudan": "sd", "sweden": "se", "switzerland": "ch",
	"syria": "sy", "syrian arab republic": "sy", "taiwan": "tw", "tajikistan": "tj",
	"tanzania": "tz", "united republic of tanzania": "tz", "thailand": "th", "the gambia": "gm",
	"gambia": "gm", "togo": "tg", "trinidad and tobago": "tt", "tunisia": "tn", "tunisian": "tn",
	"turkey": "tr", "turkiye": "tr", "turkmenistan": "tm", "tuvalu": "tv", "uganda": "ug",
	"ukraine": "ua", "united arab emirates": "ae", "united kingdom": "gb",
	"united kingdom of great britain and northern ireland": "gb", "united states": "us",
	"united states of america": "us", "uzbekistan": "uz", "venezuela": "ve", "viet nam": "vn",
	"vietnam": "vn", "yemen": "ye", "yemeni": "ye", "zimbabwe": "zw",
}

func init() {
	for k, v := range map[string]string{"uae": "ae", "u.a.e.": "ae", "usa": "us", "uk": "gb", "great britain": "gb",
		"egyptian": "eg", "iraqi": "iq", "iranian": "ir", "jordanian": "jo", "lebanese": "lb", "libyan": "ly",
		"russian": "ru", "saudi": "sa", "sudanese": "sd", "syrian": "sy", "turkish": "tr", "ukrainian": "ua",
		"belgian": "be", "british": "gb", "french": "fr", "italian": "it", "spanish": "es", "mexican": "mx",
		"colombian": "co", "venezuelan": "ve", "afghanistan (islamic republic of)": "af", "lao": "la", "laos": "la",
		"korea": "kr", "macau": "mo", "macao": "mo", "bahamas": "bs", "the bahamas": "bs", "brunei": "bn",
		"belize": "bz", "ivory coast": "ci", "cote d'ivoire": "ci", "congo": "cg", "republic of the congo": "cg",
		"dominica": "dm", "fiji": "fj", "guyana": "gy", "jamaica": "jm", "nepal": "np", "panamanian": "pa",
		"seychelles": "sc", "suriname": "sr", "uruguay": "uy", "chile": "cl", "portugal": "pt", "denmark": "dk",
		"luxembourg": "lu", "monaco": "mc", "iceland": "is", "lithuania": "lt", "croatia": "hr", "north korean": "kp",
		"bosnia": "ba", "serbia and montenegro": "rs", "yugoslavia": "rs", "west bank": "ps", "gaza": "ps",
		"japan": "jp", "zambia": "zm", "botswana": "bw", "namibia": "na", "benin": "bj", "burkina faso": "bf",
		"burundi": "bi", "madagascar": "mg", "malawi": "mw", "mauritius": "mu", "anguilla": "ai", "aruba": "aw",
		"bermuda": "bm", "curacao": "cw", "gibraltar": "gi", "isle of man": "im", "jersey": "je", "guernsey": "gg",
		"antigua and barbuda": "ag", "st. lucia": "lc", "saint lucia": "lc", "grenada": "gd", "tonga": "to",
		"vanuatu": "vu", "bhutan": "bt", "timor-leste": "tl", "papua new guinea": "pg", "solomon islands": "sb",
		"marshall islands, republic of the": "mh", "micronesia": "fm", "nauru": "nr", "niue": "nu",
		"region: gaza": "ps", "palestine": "ps", "eswatini": "sz", "swaziland": "sz", "lesotho": "ls", "gambia, the": "gm",
		"bahamas, the": "bs", "virgin islands, british": "vg", "moldova, republic of": "md", "tajik": "tj",
		"uzbek": "uz", "kazakh": "kz", "kyrgyz": "kg", "turkmen": "tm", "azerbaijani": "az", "armenian": "am",
		"georgian": "ge", "belarusian": "by", "chinese": "cn", "indian": "in", "indonesian": "id", "malaysian": "my",
		"filipino": "ph", "nigerian": "ng", "kenyan": "ke", "ethiopian": "et", "eritrean": "er", "qatari": "qa",
		"bahraini": "bh", "omani": "om", "emirati": "ae", "bangladeshi": "bd", "sri lankan": "lk", "cuban": "cu",
		"nicaraguan": "ni", "peruvian": "pe", "bolivian": "bo", "ecuadorian": "ec", "argentine": "ar", "brazilian": "br",
		"canadian": "ca", "american": "us", "australian": "au", "dutch": "nl", "swiss": "ch", "austrian": "at",
		"greek": "gr", "cypriot": "cy", "maltese": "mt", "albanian": "al", "bosnian": "ba", "kosovar": "xk",
		"macedonian": "mk", "bulgarian": "bg", "romanian": "ro", "hungarian": "hu", "polish": "pl", "czech": "cz",
		"slovak": "sk", "latvian": "lv", "lithuanian": "lt", "estonian": "ee", "finnish": "fi", "swedish": "se",
		"norwegian": "no", "danish": "dk", "irish": "ie", "portuguese": "pt", "israeli": "il", "mauritanian": "mr",
		"malian": "ml", "nigerien": "ne", "chadian": "td", "senegalese": "sn", "ghanaian": "gh", "ugandan": "ug",
		"tanzanian": "tz", "rwandan": "rw", "congolese": "cd", "angolan": "ao", "zimbabwean": "zw", "south african": "za",
		"japanese": "jp", "korean": "kr", "vietnamese": "vn", "thai": "th", "burmese": "mm", "cambodian": "kh",
		"singaporean": "sg", "taiwanese": "tw", "mongolian": "mn", "algerian national": "dz"} {
		if _, ok := countryNames[k]; !ok {
			countryNames[k] = v
		}
	}
}
