package formats

import "strings"

// countryNames maps the country names, and the few nationality adjectives,
// that the published lists use to ISO 3166-1 alpha-2 codes. Keys are
// lowercase with single spaces. A name that is not here, or that is
// qualified ("Iran / unknown", "USSR (until 1991)", "Sudanese by birth"),
// has no code: the readers keep it as text.
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

// countryCode returns the code of a country name, or "" when it has none.
func countryCode(name string) string {
	return countryNames[strings.ToLower(strings.Join(strings.Fields(name), " "))]
}
