// Package merge decides what happens to a record when a new version of it
// arrives: a pure function of (held, incoming) with no database inside.
//
// Every record carries a version vector (agency → number of changes that
// agency made to it) and, per property, the stamp "AGENCY:N" of the change
// that last wrote it. Envelope parts are stamped like properties under the
// keys "@handling", "@evaluation", "@deleted" and "@extra:KEY". A removed
// property keeps its stamp with no values, so that a removal is a change
// like any other. docs/MERGE.md explains the design with worked examples.
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

// PropConflict is one property both sides changed differently.
type PropConflict struct {
	Property             string
	Held, Incoming       []string // the two values
	HeldBy, IncomingBy   string   // agencies whose change wrote each value
	HeldDot, IncomingDot string   // their stamps
}

// Result of Merge.
type Result struct {
	Kind      Kind
	Record    *schema.Record // the record to hold afterwards (nil for Unchanged and Stale)
	Conflicts []PropConflict // for Conflict and DeleteModify
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
		vb := b[k]
		if va < vb {
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
	if dot == "" {
		return true
	}
	a, n, err := schema.ParseDot(dot)
	return err == nil && v[a] >= n
}

// parts returns the value of every stamped key of r as comparable bytes.
func parts(r *schema.Record) map[string][]byte {
	m := make(map[string][]byte, len(r.Properties)+4)
	for k, v := range r.Properties {
		if len(v) > 0 {
			m[k] = []byte(strings.Join(v, "\x00") + "\x01")
		}
	}
	h := r.Clone()
	h.Properties, h.Evaluation, h.Extra, h.Deleted, h.Version = nil, nil, nil, false, schema.Version{}
	m[KeyHandling] = h.AppendCanonical(nil)
	if r.Evaluation != nil {
		m[KeyEvaluation] = []byte(r.Evaluation.Reliability + r.Evaluation.Credibility)
	}
	if r.Deleted {
		m[KeyDeleted] = []byte("true")
	}
	for k, v := range r.Extra {
		m[KeyExtra+k] = v
	}
	return m
}

// Edit returns the version of held that agency makes by changing its
// content to that of edited (whose version is ignored), or nil when the
// content is the same. held may be nil for a new record. at is the time
// of the change (informational).
func Edit(held, edited *schema.Record, agency, at string) *schema.Record {
	out := edited.Clone()
	var before map[string][]byte
	if held != nil {
		if bytes.Equal(contentBytes(held), contentBytes(edited)) {
			return nil
		}
		out.Version = held.Clone().Version
		out.Origin = held.Origin
		before = parts(held)
	}
	if out.Version.Vector == nil {
		out.Version.Vector = map[string]uint64{}
	}
	if out.Version.Props == nil {
		out.Version.Props = map[string]string{}
	}
	out.Version.Vector[agency]++
	dot := agency + ":" + strconv.FormatUint(out.Version.Vector[agency], 10)
	after := parts(out)
	for k, v := range after {
		if old, ok := before[k]; !ok || !bytes.Equal(old, v) {
			out.Version.Props[k] = dot
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out.Version.Props[k] = dot
		}
	}
	out.Version.By, out.Version.At = agency, at
	return out
}

func contentBytes(r *schema.Record) []byte {
	c := *r
	c.Version = schema.Version{}
	return c.AppendCanonical(nil)
}

// Merge decides the fate of incoming against held (nil when the id is
// unknown). It never modifies its arguments.
func Merge(held, incoming *schema.Record) Result {
	if held == nil {
		return Result{Kind: Inserted, Record: incoming}
	}
	switch Compare(incoming.Version.Vector, held.Version.Vector) {
	case Equal:
		if bytes.Equal(contentBytes(held), contentBytes(incoming)) {
			return Result{Kind: Unchanged}
		}
		// The same version with other content: only a forger or a bug
		// makes this; treat it as concurrent so that nothing is lost.
	case After:
		return Result{Kind: Updated, Record: incoming}
	case Before:
		return Result{Kind: Stale}
	}
	return concurrent(held, incoming)
}

// concurrent merges two versions neither of which has seen the other.
// The result is the same whichever side is "held": on a conflict the value
// with the greater stamp is kept provisionally and both are reported.
func concurrent(held, incoming *schema.Record) Result {
	hp, ip := parts(held), parts(incoming)
	keys := map[string]bool{}
	for _, m := range []map[string]string{held.Version.Props, incoming.Version.Props} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, m := range []map[string][]byte{hp, ip} {
		for k := range m {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)

	out := held.Clone()
	out.Properties = map[string][]string{}
	out.Extra = nil
	out.Version.Props = map[string]string{}
	out.Version.Vector = map[string]uint64{}
	for _, v := range []map[string]uint64{held.Version.Vector, incoming.Version.Vector} {
		for a, n := range v {
			out.Version.Vector[a] = max(out.Version.Vector[a], n)
		}
	}
	take := func(k string, from *schema.Record) {
		if d := from.Version.Props[k]; d != "" {
			out.Version.Props[k] = d
		}
		switch {
		case k == KeyHandling:
			out.Handling = from.Clone().Handling
		case k == KeyEvaluation:
			out.Evaluation = from.Clone().Evaluation
		case k == KeyDeleted:
			out.Deleted = from.Deleted
		case strings.HasPrefix(k, KeyExtra):
			if v, ok := from.Extra[k[len(KeyExtra):]]; ok {
				if out.Extra == nil {
					out.Extra = map[string][]byte{}
				}
				out.Extra[k[len(KeyExtra):]] = v
			}
		default:
			if v := from.Properties[k]; len(v) > 0 {
				out.Properties[k] = slices.Clone(v)
			}
		}
	}
	res := Result{Kind: AutoMerged}
	deletedConflict := false
	for _, k := range sorted {
		hd, id := held.Version.Props[k], incoming.Version.Props[k]
		switch {
		case hd == id:
			take(k, held)
		case covers(incoming.Version.Vector, hd) && !covers(held.Version.Vector, id):
			take(k, incoming)
		case covers(held.Version.Vector, id) && !covers(incoming.Version.Vector, hd):
			take(k, held)
		default:
			// Both sides wrote k without seeing the other's write.
			winner := held
			if dotLess(hd, id) {
				winner = incoming
			}
			take(k, winner)
			if bytes.Equal(hp[k], ip[k]) {
				continue // concurrent identical changes
			}
			if k == KeyDeleted {
				deletedConflict = true
			}
			res.Conflicts = append(res.Conflicts, PropConflict{Property: k,
				Held: display(held, k), Incoming: display(incoming, k),
				HeldBy: agencyOf(hd), IncomingBy: agencyOf(id), HeldDot: hd, IncomingDot: id})
		}
	}
	if held.Deleted != incoming.Deleted && !deletedConflict {
		// One side deleted while the other changed something the deleter
		// never saw.
		del, other := held, incoming
		if incoming.Deleted {
			del, other = incoming, held
		}
		for _, d := range other.Version.Props {
			if !covers(del.Version.Vector, d) {
				deletedConflict = true
				break
			}
		}
	}
	switch {
	case deletedConflict:
		res.Kind = DeleteModify
		if len(res.Conflicts) == 0 || res.Conflicts[0].Property != KeyDeleted {
			res.Conflicts = append([]PropConflict{{Property: KeyDeleted,
				Held: display(held, KeyDeleted), Incoming: display(incoming, KeyDeleted),
				HeldBy: held.Version.By, IncomingBy: incoming.Version.By}}, res.Conflicts...)
		}
	case len(res.Conflicts) > 0:
		res.Kind = Conflict
	}
	// By and At describe the latest change; pick deterministically.
	if dotLess(held.Version.By+held.Version.At, incoming.Version.By+incoming.Version.At) {
		out.Version.By, out.Version.At = incoming.Version.By, incoming.Version.At
	}
	res.Record = out
	return res
}

func agencyOf(dot string) string {
	a, _, _ := strings.Cut(dot, ":")
	return a
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

// display returns the value of key k of r for a report.
func display(r *schema.Record, k string) []string {
	switch {
	case k == KeyHandling:
		h := r.Clone()
		h.Properties, h.Evaluation, h.Extra, h.Deleted, h.Version = nil, nil, nil, false, schema.Version{}
		return []string{string(h.AppendCanonical(nil))}
	case k == KeyEvaluation:
		if r.Evaluation == nil {
			return nil
		}
		return []string{r.Evaluation.Reliability + r.Evaluation.Credibility}
	case k == KeyDeleted:
		if r.Deleted {
			return []string{"deleted"}
		}
		return []string{"present"}
	case strings.HasPrefix(k, KeyExtra):
		if v, ok := r.Extra[k[len(KeyExtra):]]; ok {
			return []string{string(v)}
		}
		return nil
	}
	return r.Properties[k]
}
