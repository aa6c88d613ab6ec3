// Package handling decides where a record may go (SPEC §5): the rules of
// its handling envelope — TLP 2.0, the EU/Europol handling codes H0–H3,
// releasable_to and not_releasable_to, retain_until — applied when an
// office packs a record for a peer, and again by the peer when the record
// arrives. It is pure: the caller supplies the records.
//
// The rules, for an office S that holds record r and a recipient R:
//
//   - never to an agency in not_releasable_to;
//   - when releasable_to is set, or the TLP is red or amber+strict, only to
//     the agencies it names and to the originator;
//   - H2 (no dissemination without the provider's permission), and H3,
//     whose conditions no program can read and so counts as H2: a record
//     held from another agency goes back only to its originator;
//   - nothing past retain_until;
//   - a record that names others (a link's ends, a passport's holder: any
//     property of entity type) goes only where every record it names
//     that S holds may go too (Refs).
//
// The originator may always receive its own record. Tombstones follow the
// same rules, so a deletion reaches exactly those who could see the
// record.
package handling

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"valise/merge"
	"valise/schema"
)

// Reasons a record is withheld from a recipient.
const (
	WithheldNotReleasable = "not_releasable_to names the recipient"
	WithheldReleasableTo  = "releasable_to does not name the recipient"
	WithheldRedStrict     = "TLP red or amber+strict without releasable_to naming the recipient"
	WithheldH2            = "H2: goes back only to its originator"
	WithheldH3            = "H3 (conditions, counted as H2): goes back only to its originator"
	WithheldRetention     = "past retain_until"
	WithheldReference     = "names a record withheld from the recipient"
)

// Releasable reports whether self may send r to recipient on the day
// today, and why not.
func Releasable(r *schema.Record, self, recipient string, today time.Time) (bool, string) {
	if ok, why := mayHold(r, recipient); !ok {
		return false, why
	}
	h := &r.Handling
	if r.Origin != self && recipient != r.Origin {
		if h.Has("H2") {
			return false, WithheldH2
		}
		if h.Has("H3") {
			return false, WithheldH3
		}
	}
	if h.RetainUntil != "" && !today.IsZero() && today.UTC().Format("2006-01-02") > h.RetainUntil {
		return false, WithheldRetention
	}
	return true, ""
}

// MayHold reports whether office may hold r at all, whoever sends it: the
// rules of its envelope that name agencies. An office that may not holds
// at most the recall stub of the record.
func MayHold(r *schema.Record, office string) (bool, string) { return mayHold(r, office) }

func mayHold(r *schema.Record, office string) (bool, string) {
	h := &r.Handling
	if office == r.Origin {
		return true, ""
	}
	if slices.Contains(h.NotReleasableTo, office) {
		return false, WithheldNotReleasable
	}
	if len(h.ReleasableTo) > 0 && !slices.Contains(h.ReleasableTo, office) {
		return false, WithheldReleasableTo
	}
	if (h.TLP == "red" || h.TLP == "amber+strict") && !slices.Contains(h.ReleasableTo, office) {
		return false, WithheldRedStrict
	}
	return true, ""
}

// Refs returns the ids r names in its properties of entity type: the ends
// of a link, a passport's holder, an address's owner.
func Refs(r *schema.Record) []string { return r.Refs() }

// Resolve picks, among the records held under an id that r names (one per
// origin), those the reference may mean: the one of r's own origin when it
// is held, else all of them.
func Resolve(r *schema.Record, held []*schema.Record) []*schema.Record {
	for _, h := range held {
		if h.Origin == r.Origin {
			return []*schema.Record{h}
		}
	}
	return held
}

// ErrWidening: only a record's originator may widen its handling.
var ErrWidening = errors.New("only the originator may widen a record's handling")

// CheckNarrowing refuses a change by self that would widen the handling of
// a record another agency originated: others may only restrict it.
func CheckNarrowing(held, edited *schema.Record, self string) error {
	if held == nil || held.Origin == self {
		return nil
	}
	if !Narrower(edited.Handling, held.Handling, held.Origin) {
		return fmt.Errorf("record %s: %w (%s); this office may only restrict it: %w", held.Key(), ErrWidening, held.Origin, schema.ErrInvalid)
	}
	return nil
}

// Narrower reports whether handling a obeys everything b asks (a is b or
// more restrictive).
func Narrower(a, b schema.Handling, origin string) bool {
	norm := func(h schema.Handling) string {
		h.ReleasableTo, h.NotReleasableTo = slices.Sorted(slices.Values(h.ReleasableTo)), slices.Sorted(slices.Values(h.NotReleasableTo))
		if h.Code == "H0" {
			h.Code = ""
		}
		return schema.HandlingString(h)
	}
	return norm(merge.Restrict(b, a, origin)) == norm(a)
}

// Restricted reports whether h asks more than a format without the
// envelope can carry: TLP above green, any of the codes H1–H3, or a list
// of agencies that may or may not receive the record. FtM and CSV exports
// write such records only when asked to, with their handling beside them.
func Restricted(h schema.Handling) bool {
	switch h.TLP {
	case "clear", "green":
	default:
		return true
	}
	codes, _ := schema.ParseCodes(h.Code)
	return len(codes) > 0 || len(h.ReleasableTo) > 0 || len(h.NotReleasableTo) > 0
}
