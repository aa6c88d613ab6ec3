package schema

import "strings"

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

var (
	countries = wordSet(ftmCountries)
	topics    = wordSet(ftmTopics)
)

// ValidCountry reports whether c is a territory code FollowTheMoney
// accepts as a country value: the ISO 3166-1 alpha-2 codes, lowercase, and
// the historic, disputed and special ones FtM adds (suhh, csxx, yucs, dd,
// ua-cri, ge-ab, gb-sct, eu, xk, zz …).
func ValidCountry(c string) bool { return countries[c] }

// ValidTopic reports whether t is a value of FollowTheMoney's topic type.
func ValidTopic(t string) bool { return topics[t] }
