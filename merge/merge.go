// Package merge decides what happens to a record when a new version of it
// arrives: a pure function of (held, incoming) with no database inside.
//
// A record's content is a set of keys: each property, and the envelope
// parts "@handling", "@evaluation", "@deleted" and "@extra:KEY". Every
// version carries a version vector (agency → number of changes that agency
// made to the record) and, per key, the stamp "AGENCY:N" of the change that
// wrote its value. A key written concurrently by two offices to different
// values keeps both candidates: the one with the greater stamp is the
// record's value, the others travel in the version as alternatives
// ("alts") until a change that has seen them all (a resolution) replaces
// them. This makes every key a multi-value register, and the merge of two
// versions a join: the result does not depend on the order in which
// versions arrive, so offices that have received the same bundles hold the
// same records and the same open conflicts. docs/MERGE.md explains the
// design with worked examples.
package merge

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
	"strings"

	"valise/schema"
)

// Keys under which envelope parts are stamped.
const (
	KeyHandling   = "@handling"
	KeyEvaluation = "@evaluation"
	KeyDeleted    = "@deleted"
	KeyExtra      = "@extra:"
)

// Values of the @deleted key.
const (
	Present = "present"
	Deleted = "deleted"
)

// Kind is the outcome of merging one incoming record.
type Kind int

// The cases of SPEC §6.
const (
	Inserted     Kind = iota // unknown id
	Unchanged                // same version as held
	Updated                  // incoming descends from held (fast-forward)
	Stale                    // held already descends from incoming; kept
	AutoMerged               // concurrent changes to different properties; both kept
	Conflict                 // concurrent changes to the same property with different results
	DeleteModify             // a delete against a concurrent change
)

var kindNames = [...]string{"inserted", "unchanged", "updated", "stale", "auto-merged", "conflict", "delete/modify"}

func (k Kind) String() string { return kindNames[k] }

// PropConflict is one key with several concurrent candidate values.
type PropConflict struct {
	Property   string
	Candidates []schema.Alt // every candidate, the provisional winner first
	New        bool         // the conflict appeared in this merge
}

// Result of Merge.
type Result struct {
	Kind      Kind
	Record    *schema.Record // the record to hold afterwards (nil for Unchanged and Stale)
	Conflicts []PropConflict // the conflicts this merge opened (Conflict, DeleteModify)
}

// Order of two version vectors.
type Order int

// Orders.
const (
	Equal Order = iota
	Before
	After
	Concurrent
)

// Compare orders version vector a against b.
func Compare(a, b map[string]uint64) Order {
	less, more := false, false
	for k, va := range a {
		if vb := b[k]; va < vb {
			less = true
		} else if va > vb {
			more = true
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok && vb > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// covers reports whether vector v has seen the change stamped dot.
func covers(v map[string]uint64, dot string) bool {
	a, n, err := schema.ParseDot(dot)
	return err == nil && v[a] >= n
}

// dotLess orders stamps "AGENCY:N" by agency, then by number.
func dotLess(a, b string) bool {
	aa, an, _ := strings.Cut(a, ":")
	ba, bn, _ := strings.Cut(b, ":")
	if aa != ba {
		return aa < ba
	}
	x, _ := strconv.ParseUint(an, 10, 64)
	y, _ := strconv.ParseUint(bn, 10, 64)
	return x < y
}

// Value returns the value of key k in r as a list of strings: the values
// of a property, or one canonical string for an envelope part (none when
// the part is absent).
func Value(r *schema.Record, k string) []string {
	switch {
	case k == KeyHandling:
		return []string{schema.HandlingString(r.Handling)}
	case k == KeyEvaluation:
		if r.Evaluation == nil {
			return nil
		}
		return []string{r.Evaluation.Reliability + r.Evaluation.Credibility}
	case k == KeyDeleted:
		if r.Deleted {
			return []string{Deleted}
		}
		return []string{Present}
	case strings.HasPrefix(k, KeyExtra):
		if v, ok := r.Extra[k[len(KeyExtra):]]; ok {
			return []string{string(v)}
		}
		return nil
	}
	return r.Properties[k]
}

// SetValue sets key k of r to v (as Value returns it).
func SetValue(r *schema.Record, k string, v []string) {
	switch {
	case k == KeyHandling:
		if len(v) == 1 {
			if h, err := schema.ParseHandlingString(v[0]); err == nil {
				r.Handling = h
			}
		}
	case k == KeyEvaluation:
		r.Evaluation = nil
		if len(v) == 1 && len(v[0]) == 2 {
			r.Evaluation = &schema.Evaluation{Reliability: v[0][:1], Credibility: v[0][1:]}
		}
	case k == KeyDeleted:
		r.Deleted = len(v) == 1 && v[0] == Deleted
	case strings.HasPrefix(k, KeyExtra):
		name := k[len(KeyExtra):]
		if len(v) == 1 {
			if r.Extra == nil {
				r.Extra = map[string][]byte{}
			}
			r.Extra[name] = []byte(v[0])
		} else {
			delete(r.Extra, name)
		}
	default:
		if len(v) > 0 {
			if r.Properties == nil {
				r.Properties = map[string][]string{}
			}
			r.Properties[k] = slices.Clone(v)
		} else {
			delete(r.Properties, k)
		}
	}
}

// keys returns every key r has a value or a stamp for.
func keys(r *schema.Record, into map[string]bool) {
	for k, v := range r.Properties {
		if len(v) > 0 {
			into[k] = true
		}
	}
	into[KeyHandling], into[KeyDeleted] = true, true
	if r.Evaluation != nil {
		into[KeyEvaluation] = true
	}
	for k := range r.Extra {
		into[KeyExtra+k] = true
	}
	for k := range r.Version.Props {
		into[k] = true
	}
	for k := range r.Version.Alts {
		into[k] = true
	}
}

func sameValue(a, b []string) bool { return slices.Equal(a, b) }

// Edit returns the version of held that agency makes by changing its
// content to that of edited (whose version information is ignored), or nil
// when nothing changed. held is nil for a new record. Keys listed in
// resolve are written even when their value is unchanged, which settles
// their open conflicts. at is the time of the change, informational only.
func Edit(held, edited *schema.Record, agency, at string, resolve ...string) *schema.Record {
	out := edited.Clone()
	out.Version = schema.Version{Vector: map[string]uint64{}, Props: map[string]string{}}
	var changed []string
	all := map[string]bool{}
	keys(edited, all)
	if held != nil {
		out.Origin = held.Origin
		v := held.Clone().Version
		out.Version.Vector, out.Version.Props, out.Version.Alts = v.Vector, v.Props, v.Alts
		out.Version.By, out.Version.At = v.By, v.At
		keys(held, all)
		for k := range all {
			if !sameValue(Value(held, k), Value(edited, k)) || slices.Contains(resolve, k) {
				changed = append(changed, k)
			}
		}
		if len(changed) == 0 {
			return nil
		}
	} else {
		for k := range all {
			if len(Value(edited, k)) > 0 {
				changed = append(changed, k)
			}
		}
	}
	if out.Version.Vector == nil {
		out.Version.Vector = map[string]uint64{}
	}
	if out.Version.Props == nil {
		out.Version.Props = map[string]string{}
	}
	out.Version.Vector[agency]++
	dot := agency + ":" + strconv.FormatUint(out.Version.Vector[agency], 10)
	// Every change also writes @deleted: a change made without seeing a
	// concurrent delete then conflicts with it (delete/modify).
	if !slices.Contains(changed, KeyDeleted) {
		changed = append(changed, KeyDeleted)
	}
	for _, k := range changed {
		out.Version.Props[k] = dot
		delete(out.Version.Alts, k)
	}
	if len(out.Version.Alts) == 0 {
		out.Version.Alts = nil
	}
	// By and At name the latest change by wall-clock time that the record
	// has seen: they only ever grow, so that a fast-forward and a join
	// agree on them.
	if held == nil || at+"\x00"+agency > held.Version.At+"\x00"+held.Version.By {
		out.Version.By, out.Version.At = agency, at
	}
	return out
}

// candidates returns the candidates of key k in r: the value with its stamp,
// then the alternatives.
func candidates(r *schema.Record, k string) []schema.Alt {
	var out []schema.Alt
	d := r.Version.Props[k]
	if k == KeyHandling && d != "" && slices.ContainsFunc(r.Version.Alts[k], func(a schema.Alt) bool { return a.Dot == d }) {
		// Concurrent handlings: every candidate is in alts with the value
		// its change wrote; the record shows their combination.
		return append(out, r.Version.Alts[k]...)
	}
	if d != "" {
		out = append(out, schema.Alt{Dot: d, Values: Value(r, k)})
	}
	return append(out, r.Version.Alts[k]...)
}

// Quick decides the fate of incoming against a held version from what a
// store reads without decoding the held record: its version vector and
// canonical encoding. ok is false when the held record itself is needed
// (Merge): the versions are concurrent, or equal vectors name different
// content (a forger or a bug: the join keeps both so that nothing is lost
// and the difference shows). heldCanon and inCanon are needed only when
// the vectors are equal.
func Quick(heldVV map[string]uint64, heldCanon []byte, incoming *schema.Record, inCanon []byte) (res Result, ok bool) {
	switch Compare(incoming.Version.Vector, heldVV) {
	case Equal:
		if bytes.Equal(heldCanon, inCanon) {
			return Result{Kind: Unchanged}, true
		}
	case After:
		return Result{Kind: Updated, Record: incoming}, true
	case Before:
		return Result{Kind: Stale}, true
	}
	return Result{}, false
}

// Merge decides the fate of incoming against held (nil when the id is
// unknown). It never modifies its arguments.
func Merge(held, incoming *schema.Record) Result {
	if held == nil {
		return Result{Kind: Inserted, Record: incoming}
	}
	var hc, ic []byte
	if Compare(incoming.Version.Vector, held.Version.Vector) == Equal {
		hc, ic = held.AppendCanonical(nil), incoming.AppendCanonical(nil)
	}
	if res, ok := Quick(held.Version.Vector, hc, incoming, ic); ok {
		return res
	}
	out := Join(held, incoming)
	res := Result{Kind: AutoMerged, Record: out}
	before := map[string]int{}
	for _, c := range Conflicts(held) {
		before[c.Property] = distinct(c.Candidates)
	}
	for _, c := range Conflicts(out) {
		if distinct(c.Candidates) > before[c.Property] {
			c.New = true
			res.Conflicts = append(res.Conflicts, c)
		}
	}
	sort.Slice(res.Conflicts, func(i, j int) bool { return res.Conflicts[i].Property < res.Conflicts[j].Property })
	for _, c := range res.Conflicts {
		if c.Property == KeyDeleted {
			res.Kind = DeleteModify
			return res
		}
	}
	if len(res.Conflicts) > 0 {
		res.Kind = Conflict
	}
	return res
}

// Join merges two versions of one record into the version that has seen
// both. It is commutative, associative and idempotent.
func Join(a, b *schema.Record) *schema.Record {
	out := a.Clone()
	// Two offices that created a record under the same id without seeing
	// each other: the origin is chosen the same way everywhere.
	out.Origin = min(a.Origin, b.Origin)
	out.Version.Vector = map[string]uint64{}
	for _, v := range []map[string]uint64{a.Version.Vector, b.Version.Vector} {
		for ag, n := range v {
			out.Version.Vector[ag] = max(out.Version.Vector[ag], n)
		}
	}
	out.Version.Props = map[string]string{}
	out.Version.Alts = nil
	all := map[string]bool{}
	keys(a, all)
	keys(b, all)
	for k := range all {
		ca, cb := candidates(a, k), candidates(b, k)
		surv := survivors(ca, b.Version.Vector, cb)
		surv = append(surv, survivors(cb, a.Version.Vector, ca)...)
		surv = collapse(k, surv, out.Origin)
		if len(surv) == 0 {
			// Never stamped on either side (data without versions): keep
			// a's value.
			continue
		}
		SetValue(out, k, surv[0].Values)
		out.Version.Props[k] = surv[0].Dot
		if len(surv) > 1 {
			if out.Version.Alts == nil {
				out.Version.Alts = map[string][]schema.Alt{}
			}
			out.Version.Alts[k] = surv[1:]
			if k == KeyHandling {
				// Handling never conflicts: the record shows the most
				// restrictive combination of every candidate, and keeps
				// each candidate as its change wrote it (the shown one
				// too), so that what an office wrote is never rewritten.
				h := handlingOf(surv[0])
				for _, c := range surv[1:] {
					h = Restrict(h, handlingOf(c), out.Origin)
				}
				SetValue(out, k, []string{schema.HandlingString(h)})
				out.Version.Alts[k] = surv
			}
		}
	}
	// By and At describe the latest change seen (see Edit).
	if b.Version.At+"\x00"+b.Version.By > a.Version.At+"\x00"+a.Version.By {
		out.Version.By, out.Version.At = b.Version.By, b.Version.At
	}
	return out
}

// survivors returns the candidates of one side that the other side has not
// overwritten: those it also holds, and those it has not seen.
func survivors(mine []schema.Alt, otherVV map[string]uint64, other []schema.Alt) []schema.Alt {
	var out []schema.Alt
	for _, c := range mine {
		held := false
		for _, o := range other {
			if o.Dot == c.Dot {
				held = true
			}
		}
		if held || !covers(otherVV, c.Dot) {
			out = append(out, c)
		}
	}
	return out
}

// collapse orders candidates, the greatest stamp first, and removes
// duplicate stamps. Candidates with equal values are all kept (dropping one
// would let a later join forget what it stood for); Conflicts ignores
// them. (Handling never conflicts: Join shows the most restrictive
// combination of its candidates, so a merge never widens it.)
func collapse(k string, cs []schema.Alt, origin string) []schema.Alt {
	sort.Slice(cs, func(i, j int) bool { return dotLess(cs[j].Dot, cs[i].Dot) })
	var out []schema.Alt
	for _, c := range cs {
		if n := len(out); n > 0 && out[n-1].Dot == c.Dot {
			// The same stamp with two values: only a forger or a bug
			// makes this; keep one, the same way everywhere.
			if k == KeyHandling {
				out[n-1].Values = []string{schema.HandlingString(Restrict(handlingOf(out[n-1]), handlingOf(c), origin))}
			} else if lessValues(out[n-1].Values, c.Values) {
				out[n-1].Values = slices.Clone(c.Values)
			}
			continue
		}
		out = append(out, schema.Alt{Dot: c.Dot, Values: slices.Clone(c.Values)})
	}
	return out
}

func handlingOf(c schema.Alt) schema.Handling {
	if len(c.Values) != 1 {
		return schema.Handling{TLP: "red"}
	}
	h, err := schema.ParseHandlingString(c.Values[0])
	if err != nil {
		return schema.Handling{TLP: "red"}
	}
	return h
}

// distinct counts the different values among candidates.
func distinct(cs []schema.Alt) int {
	n := 0
	for i, c := range cs {
		seen := false
		for _, o := range cs[:i] {
			if sameValue(o.Values, c.Values) {
				seen = true
				break
			}
		}
		if !seen {
			n++
		}
	}
	return n
}

// Conflicts lists the open conflicts of r: keys whose concurrent candidates
// hold different values. Handling is never one (see collapse).
func Conflicts(r *schema.Record) []PropConflict {
	var out []PropConflict
	for k := range r.Version.Alts {
		if k == KeyHandling {
			continue
		}
		if cs := candidates(r, k); distinct(cs) > 1 {
			out = append(out, PropConflict{Property: k, Candidates: cs})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	return out
}

func lessValues(a, b []string) bool { return strings.Join(a, "\x00") < strings.Join(b, "\x00") }

var tlpRank = map[string]int{"clear": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4}

// Restrict returns the handling that obeys both a and b: the higher TLP
// level, every handling code either has (H1, H2, H3 combine) with the
// conditions of both, both agencies' exclusions, only the agencies
// both release to (only the originator when there is none), and the
// earlier retention date. A TLP red or amber+strict handling without
// releasable_to releases to the originator alone. It is commutative,
// associative and idempotent.
func Restrict(a, b schema.Handling, origin string) schema.Handling {
	out := a
	if tlpRank[b.TLP] > tlpRank[a.TLP] {
		out.TLP = b.TLP
	}
	ac, _ := schema.ParseCodes(a.Code)
	bc, _ := schema.ParseCodes(b.Code)
	out.Code = schema.JoinCodes(append(ac, bc...))
	if out.Code == "" && (a.Code == "H0" || b.Code == "H0") {
		out.Code = "H0"
	}
	out.Conditions = union(a.Conditions, b.Conditions)
	out.NotReleasableTo = union(a.NotReleasableTo, b.NotReleasableTo)
	// The agencies each side releases to: none listed means every agency,
	// unless the TLP keeps it to the originator.
	ar, br := a.ReleasableTo, b.ReleasableTo
	if len(ar) == 0 && len(br) > 0 && strict(a.TLP) {
		ar = []string{origin}
	}
	if len(br) == 0 && len(ar) > 0 && strict(b.TLP) {
		br = []string{origin}
	}
	switch {
	case len(ar) == 0:
		out.ReleasableTo = slices.Clone(br)
	case len(br) == 0:
		out.ReleasableTo = slices.Clone(ar)
	default:
		var both []string
		for _, x := range ar {
			if slices.Contains(br, x) {
				both = append(both, x)
			}
		}
		if len(both) == 0 {
			// Nobody both sides release to: only the originator, who
			// may always receive its own record.
			both = []string{origin}
		}
		sort.Strings(both)
		out.ReleasableTo = both
	}
	if b.RetainUntil != "" && (a.RetainUntil == "" || b.RetainUntil < a.RetainUntil) {
		out.RetainUntil = b.RetainUntil
	}
	return out
}

// strict reports whether a TLP level limits a record to the agencies its
// releasable_to names (SPEC §5): red and amber+strict.
func strict(tlp string) bool { return tlp == "red" || tlp == "amber+strict" }

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
