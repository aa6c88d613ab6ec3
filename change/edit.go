package change

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"valise/handling"
	"valise/office"

	"valise/merge"
	"valise/schema"
	"valise/store"
)

// Op is one change to a record's property.
type Op struct {
	Kind  string // set, add, remove
	Prop  string
	Value string
}

// ParseOp parses PROP=VALUE for an op of kind.
func ParseOp(kind, s string) (Op, error) {
	p, v, ok := strings.Cut(s, "=")
	if !ok || p == "" {
		return Op{}, fmt.Errorf("--%s wants PROP=VALUE, got %q", kind, schema.Printable(s))
	}
	return Op{Kind: kind, Prop: p, Value: v}, nil
}

// normalize turns repeated --set of one property into one set and adds, so
// that --set alias=A --set alias=B gives both values.
func normalize(ops []Op) []Op {
	out := slices.Clone(ops)
	seen := map[string]bool{}
	for i, op := range out {
		if op.Kind == "set" {
			if seen[op.Prop] {
				out[i].Kind = "add"
			}
			seen[op.Prop] = true
		}
	}
	return out
}

// apply changes r by op. Envelope fields are reached with the names tlp,
// handling_code, conditions, releasable_to, not_releasable_to,
// retain_until, reliability and credibility. Adding a condition adds H3.
func apply(r *schema.Record, op Op) error {
	list := func(l []string) []string {
		switch op.Kind {
		case "set":
			if op.Value == "" {
				return nil
			}
			return []string{op.Value}
		case "add":
			if slices.Contains(l, op.Value) {
				return l
			}
			return append(l, op.Value)
		default:
			return slices.DeleteFunc(l, func(s string) bool { return s == op.Value })
		}
	}
	one := func(old string) string {
		switch op.Kind {
		case "set", "add":
			return op.Value
		}
		if old == op.Value {
			return ""
		}
		return old
	}
	h := &r.Handling
	switch op.Prop {
	case "tlp":
		op.Value = strings.ToLower(op.Value)
		h.TLP = one(h.TLP)
	case "handling_code":
		// H1, H2 and H3 combine: --add and --remove change one code of
		// the combination, --set replaces it ("H1+H3").
		op.Value = strings.ToUpper(op.Value)
		codes, _ := schema.ParseCodes(h.Code)
		add, err := schema.ParseCodes(op.Value)
		if err != nil {
			return fmt.Errorf("handling_code: %w: %w", err, schema.ErrInvalid)
		}
		switch op.Kind {
		case "set":
			codes = add
		case "add":
			codes = append(codes, add...)
		default:
			codes = slices.DeleteFunc(codes, func(c string) bool { return slices.Contains(add, c) })
		}
		h.Code = schema.JoinCodes(codes)
		if op.Kind == "set" && op.Value == "H0" {
			h.Code = "H0"
		}
	case "conditions":
		// The restrictions of H3, as text: shown wherever the record is.
		h.Conditions = list(h.Conditions)
		slices.Sort(h.Conditions)
		if len(h.Conditions) > 0 && !h.Has("H3") {
			codes, _ := schema.ParseCodes(h.Code)
			h.Code = schema.JoinCodes(append(codes, "H3"))
		}
	case "releasable_to":
		h.ReleasableTo = list(h.ReleasableTo)
	case "not_releasable_to":
		h.NotReleasableTo = list(h.NotReleasableTo)
	case "retain_until":
		h.RetainUntil = one(h.RetainUntil)
	case "reliability", "credibility":
		if r.Evaluation == nil {
			r.Evaluation = &schema.Evaluation{}
		}
		if op.Prop == "reliability" {
			r.Evaluation.Reliability = one(r.Evaluation.Reliability)
		} else {
			r.Evaluation.Credibility = one(r.Evaluation.Credibility)
		}
		if r.Evaluation.Reliability == "" && r.Evaluation.Credibility == "" {
			r.Evaluation = nil
		}
	default:
		s, _ := schema.Get(r.Schema)
		p, ok := s.Prop(op.Prop)
		if !ok {
			return fmt.Errorf("%s has no property %q: %w", r.Schema, schema.Printable(op.Prop), schema.ErrInvalid)
		}
		if p.Type == schema.TypeCountry && len(op.Value) == 2 {
			// The country rule of every input format: KZ is kz.
			op.Value = strings.ToLower(op.Value)
		}
		if r.Properties == nil {
			r.Properties = map[string][]string{}
		}
		r.Properties[op.Prop] = list(r.Properties[op.Prop])
		if len(r.Properties[op.Prop]) == 0 {
			delete(r.Properties, op.Prop)
		}
	}
	return nil
}

// EditReport tells what a change did.
type EditReport struct {
	Record    *schema.Record
	Unchanged bool
}

// change applies fn to the held record id and writes the result as a new
// version by this office, in one transaction. resolve names keys written
// even if their value is unchanged (a resolution).
func change(o *office.Office, k schema.Key, action string, fn func(r *schema.Record) ([]string, error)) (*EditReport, error) {
	rep := &EditReport{}
	at := o.Now().UTC().Format(time.RFC3339)
	err := o.Store.Update(func(tx *store.Tx) error {
		stored, err := tx.HeldMany([]schema.Key{k})
		if err != nil {
			return err
		}
		if stored[0] == nil {
			return fmt.Errorf("record %s: %w", k, store.ErrNotFound)
		}
		held, err := stored[0].Record()
		if err != nil {
			return err
		}
		edited := held.Clone()
		resolve, err := fn(edited)
		if err != nil {
			return err
		}
		if err := handling.CheckNarrowing(held, edited, o.Agency()); err != nil {
			return err
		}
		if probs := edited.Validate(); len(probs) > 0 {
			msgs := make([]string, len(probs))
			for i, p := range probs {
				msgs[i] = p.Error()
			}
			return fmt.Errorf("%s; nothing changed: %w", strings.Join(msgs, "; "), schema.ErrInvalid)
		}
		next := merge.Edit(held, edited, o.Agency(), at, resolve...)
		if next == nil {
			rep.Unchanged, rep.Record = true, held
			return nil
		}
		rep.Record = next
		w := []store.Write{{Rec: next, Held: stored[0]}}
		if err := tx.Apply(store.Change{Action: action, Agency: o.Agency()}, w, nil); err != nil {
			return err
		}
		return tx.Audit(action, fmt.Sprintf("record %s", k))
	})
	return rep, err
}

// Edit changes a held record, own or received, by ops.
func Edit(o *office.Office, k schema.Key, ops []Op) (*EditReport, error) {
	return change(o, k, "edit", func(r *schema.Record) ([]string, error) {
		if r.Deleted {
			return nil, fmt.Errorf("record %s is deleted; valise edit cannot change a tombstone", k)
		}
		for _, op := range normalize(ops) {
			if err := apply(r, op); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// Delete tombstones a held record.
func Delete(o *office.Office, k schema.Key) (*EditReport, error) {
	return change(o, k, "delete", func(r *schema.Record) ([]string, error) {
		r.Deleted = true
		return nil, nil
	})
}

// Resolution says how to settle a record's open conflicts.
type Resolution struct {
	// Mode: ours, theirs, take (the value Take's change wrote), set, or,
	// for a delete/modify conflict, keep (the record stays, with the
	// changes made to it) or delete.
	Mode     string
	Property string // only this property ("" for every open conflict of the record)
	Sets     []Op   // the values to write (mode set, or with any mode for other properties)
	Take     string // for take: an agency, or a change "AGENCY:N"
}

// Resolve settles open conflicts with a version that descends from every
// candidate: sent to the other offices, it fast-forwards there.
func Resolve(o *office.Office, k schema.Key, res Resolution) (*EditReport, error) {
	if res.Mode == "keep" || res.Mode == "delete" {
		if res.Property != "" && res.Property != merge.KeyDeleted {
			return nil, fmt.Errorf("--%s settles a delete/modify conflict, not one on %s", res.Mode, schema.Printable(res.Property))
		}
		res.Property = merge.KeyDeleted
	}
	return change(o, k, "resolve", func(r *schema.Record) ([]string, error) {
		open := merge.Conflicts(r)
		if len(open) == 0 {
			return nil, fmt.Errorf("record %s has no open conflict", k)
		}
		deleteModify := false
		for _, c := range open {
			deleteModify = deleteModify || c.Property == merge.KeyDeleted
		}
		if (res.Mode == "keep" || res.Mode == "delete") && !deleteModify {
			return nil, fmt.Errorf("record %s has no delete/modify conflict: --%s does not apply", k, res.Mode)
		}
		var keys []string
		for _, c := range open {
			if res.Property != "" && c.Property != res.Property {
				continue
			}
			if c.Property == merge.KeyDeleted && res.Mode == "set" {
				// Writing values to a record keeps it: the deletion
				// loses, the changes made to the record stay.
				keys = append(keys, c.Property)
				merge.SetValue(r, c.Property, []string{merge.Present})
				continue
			}
			keys = append(keys, c.Property)
			var pick *schema.Alt
			switch res.Mode {
			case "ours":
				pick = &c.Candidates[0]
				for i, cand := range c.Candidates {
					if strings.HasPrefix(cand.Dot, o.Agency()+":") {
						pick = &c.Candidates[i]
						break
					}
				}
			case "theirs":
				var others []int
				for i, cand := range c.Candidates {
					if !strings.HasPrefix(cand.Dot, o.Agency()+":") {
						others = append(others, i)
					}
				}
				distinct := map[string]bool{}
				for _, i := range others {
					distinct[strings.Join(c.Candidates[i].Values, "\x00")] = true
				}
				if len(distinct) != 1 {
					var who []string
					for _, i := range others {
						who = append(who, c.Candidates[i].Dot)
					}
					return nil, fmt.Errorf("property %s has %d other candidate values (changes %s): take one with --take AGENCY, or write one with --set",
						c.Property, len(distinct), strings.Join(who, ", "))
				}
				pick = &c.Candidates[others[0]]
			case "take":
				for i, cand := range c.Candidates {
					agency, _, _ := strings.Cut(cand.Dot, ":")
					if cand.Dot == res.Take || agency == res.Take {
						if pick != nil && !slices.Equal(pick.Values, cand.Values) {
							return nil, fmt.Errorf("property %s has several candidates from %s: name the change (%s or %s)", c.Property, res.Take, pick.Dot, cand.Dot)
						}
						pick = &c.Candidates[i]
					}
				}
				if pick == nil {
					var dots []string
					for _, cand := range c.Candidates {
						dots = append(dots, cand.Dot)
					}
					return nil, fmt.Errorf("no candidate of property %s comes from %s (the changes are %s)", c.Property, schema.Printable(res.Take), strings.Join(dots, ", "))
				}
			case "keep":
				merge.SetValue(r, c.Property, []string{merge.Present})
			case "delete":
				merge.SetValue(r, c.Property, []string{merge.Deleted})
			case "set":
			default:
				return nil, fmt.Errorf("unknown resolution %q", res.Mode)
			}
			if pick != nil {
				merge.SetValue(r, c.Property, pick.Values)
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("record %s has no open conflict on %s", k, schema.Printable(res.Property))
		}
		for _, op := range normalize(res.Sets) {
			if err := apply(r, op); err != nil {
				return nil, err
			}
			if !slices.Contains(keys, op.Prop) {
				keys = append(keys, op.Prop)
			}
		}
		if res.Mode == "set" && len(res.Sets) == 0 {
			return nil, fmt.Errorf("--set needs PROP=VALUE")
		}
		if res.Mode == "set" {
			for _, k := range keys {
				found := false
				for _, op := range res.Sets {
					found = found || op.Prop == k
				}
				if !found && k != merge.KeyDeleted && (res.Property == "" || res.Property == k) {
					return nil, fmt.Errorf("property %s is in conflict too: give it a value with --set, or resolve it with --property", k)
				}
			}
		}
		return keys, nil
	})
}
