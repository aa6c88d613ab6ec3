package match

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"valise/schema"
)

// Verdicts an analyst gives a pair.
const (
	Same    = "same"     // the two records describe one person, organisation or vehicle
	NotSame = "not same" // they do not, whatever they share
)

// Judgement is an analyst's verdict on a pair, kept as a record (see
// NewJudgement) so that it travels to peers like any change.
type Judgement struct {
	Verdict  string // Same or NotSame
	By       string // agency of the latest change to the judgement
	RecordID string // the judgement record
	Disputed bool   // offices judged differently: the record holds an open conflict
}

type judgement struct {
	Judgement
	pair [2]string
}

func pairKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// JudgementID returns the id of the record that holds the judgement of
// the pair a, b: the same for both orders and at every office, so that a
// later judgement is a new version of it, and two offices judging the pair
// at once meet in one record (a conflict when they disagree).
func JudgementID(a, b string) string {
	k := pairKey(a, b)
	h := sha256.Sum256([]byte(k[0] + "\x00" + k[1]))
	return "judgement-" + hex.EncodeToString(h[:12])
}

// NewJudgement returns the record that says the records a and b are the
// same (verdict Same) or not (NotSame): an UnknownLink from the first id
// to the second with role "same" or "not same", and an optional note in
// its description. Handling is left to the caller: a judgement should not
// go where either record may not.
func NewJudgement(a, b, verdict, note string) (*schema.Record, error) {
	if verdict != Same && verdict != NotSame {
		return nil, fmt.Errorf("verdict %q is neither %q nor %q", verdict, Same, NotSame)
	}
	if a == b {
		return nil, fmt.Errorf("a record is always the same as itself (%s)", schema.Printable(a))
	}
	k := pairKey(a, b)
	r := &schema.Record{ID: JudgementID(a, b), Schema: "UnknownLink", Properties: map[string][]string{
		"subject": {k[0]}, "object": {k[1]}, "role": {verdict},
		"summary": {"duplicate judgement: " + verdict},
	}}
	if note != "" {
		r.Properties["description"] = []string{note}
	}
	return r, nil
}

// judgementOf reads a judgement record: an UnknownLink whose role is
// "same" or "not same".
func judgementOf(r *schema.Record) (judgement, bool) {
	if r.Schema != "UnknownLink" || r.Deleted {
		return judgement{}, false
	}
	p := r.Properties
	if len(p["role"]) != 1 || len(p["subject"]) != 1 || len(p["object"]) != 1 {
		return judgement{}, false
	}
	v := p["role"][0]
	if v != Same && v != NotSame {
		return judgement{}, false
	}
	_, disputed := r.Version.Alts["role"]
	// The agency whose change set the verdict (its property stamp),
	// rather than whoever changed the record last.
	by, _, _ := strings.Cut(r.Version.Props["role"], ":")
	if by == "" {
		by = r.Version.By
	}
	if by == "" {
		by = r.Origin
	}
	return judgement{Judgement: Judgement{Verdict: v, By: by, RecordID: r.ID, Disputed: disputed},
		pair: pairKey(p["subject"][0], p["object"][0])}, true
}
