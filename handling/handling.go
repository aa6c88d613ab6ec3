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
	WithheldRetention     = "past retain_until"
)

// Releasable reports whether self may send r to recipient, and why not
// (SPEC §5): never to an agency in not_releasable_to; only to agencies in
// releasable_to when that is set, and always so for TLP red and
// amber+strict; an H2 record held from another agency goes back only to its
// originator; nothing past retain_until. Tombstones follow the same rules,
// so that a deletion reaches exactly those who could see the record.
func Releasable(r *schema.Record, self, recipient string, today time.Time) (bool, string) {
	h := &r.Handling
	if slices.Contains(h.NotReleasableTo, recipient) {
		return false, WithheldNotReleasable
	}
	if len(h.ReleasableTo) > 0 && !slices.Contains(h.ReleasableTo, recipient) && recipient != r.Origin {
		return false, WithheldReleasableTo
	}
	if (h.TLP == "red" || h.TLP == "amber+strict") && !slices.Contains(h.ReleasableTo, recipient) && recipient != r.Origin {
		return false, WithheldRedStrict
	}
	if h.Code == "H2" && r.Origin != self && recipient != r.Origin {
		return false, WithheldH2
	}
	if h.RetainUntil != "" && today.UTC().Format("2006-01-02") > h.RetainUntil {
		return false, WithheldRetention
	}
	return true, ""
}

// ErrWidening: only a record's originator may widen its handling.
var ErrWidening = errors.New("only the originator may widen a record's handling")

// CheckNarrowing refuses a change by self that would widen the handling of
// a record another agency originated: others may only restrict it.
func CheckNarrowing(held, edited *schema.Record, self string) error {
	if held == nil || held.Origin == self {
		return nil
	}
	norm := func(h schema.Handling) string {
		h.ReleasableTo, h.NotReleasableTo = slices.Sorted(slices.Values(h.ReleasableTo)), slices.Sorted(slices.Values(h.NotReleasableTo))
		return schema.HandlingString(h)
	}
	if norm(merge.Restrict(held.Handling, edited.Handling, held.Origin)) != norm(edited.Handling) {
		return fmt.Errorf("record %s: %w (%s); this office may only restrict it: %w", schema.Printable(held.ID), ErrWidening, held.Origin, schema.ErrInvalid)
	}
	return nil
}
