package merge

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"

	"valise/schema"
)

var histories = flag.Int("histories", 200, "random histories for TestConvergence")

func person(id, origin string, props map[string][]string) *schema.Record {
	return &schema.Record{ID: id, Schema: "Person", Origin: origin, Properties: props, Handling: schema.Handling{TLP: "amber"}}
}

func edit(t testing.TB, held *schema.Record, agency string, f func(r *schema.Record)) *schema.Record {
	t.Helper()
	c := held.Clone()
	f(c)
	out := Edit(held, c, agency, "2026-11-28T00:00:00Z")
	if out == nil {
		t.Fatal("edit changed nothing")
	}
	if probs := out.Validate(); len(probs) > 0 {
		t.Fatalf("edit made an invalid record: %v", probs[0])
	}
	return out
}

func base(t testing.TB) *schema.Record {
	return Edit(nil, person("p-1", "KZ-NCB", map[string][]string{"name": {"Ivan Petrov"}, "birthDate": {"1975-03-02"}}), "KZ-NCB", "2026-11-28T00:00:00Z")
}

// TestSpecTable covers every row of SPEC §6 at the merge level.
func TestSpecTable(t *testing.T) {
	b := base(t)
	if r := Merge(nil, b); r.Kind != Inserted {
		t.Errorf("unknown id: %v", r.Kind)
	}
	if r := Merge(b, b.Clone()); r.Kind != Unchanged {
		t.Errorf("same version: %v", r.Kind)
	}
	v2 := edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Properties["alias"] = []string{"I. Petrov"} })
	v3 := edit(t, v2, "CARICC", func(r *schema.Record) { r.Properties["nationality"] = []string{"kz"} })
	if r := Merge(b, v3); r.Kind != Updated || !bytes.Equal(r.Record.AppendCanonical(nil), v3.AppendCanonical(nil)) {
		t.Errorf("fast-forward over an unseen version: %v", r.Kind)
	}
	if r := Merge(v3, b); r.Kind != Stale {
		t.Errorf("held descends from incoming: %v", r.Kind)
	}
	// Concurrent changes to different properties.
	a := edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Properties["alias"] = []string{"I. Petrov"} })
	c := edit(t, b, "CARICC", func(r *schema.Record) { r.Properties["nationality"] = []string{"kz"} })
	r := Merge(a, c)
	if r.Kind != AutoMerged || r.Record.Properties["alias"][0] != "I. Petrov" || r.Record.Properties["nationality"][0] != "kz" {
		t.Errorf("concurrent different properties: %v %v", r.Kind, r.Record.Properties)
	}
	// Concurrent changes to one property with different results.
	a = edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1975-03-12"} })
	c = edit(t, b, "CARICC", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1976-03-02"} })
	r = Merge(a, c)
	if r.Kind != Conflict || len(r.Conflicts) != 1 || r.Conflicts[0].Property != "birthDate" || len(r.Conflicts[0].Candidates) != 2 {
		t.Errorf("concurrent same property: %v %+v", r.Kind, r.Conflicts)
	}
	// Concurrent identical changes.
	a = edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1975-03-12"} })
	c = edit(t, b, "CARICC", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1975-03-12"} })
	if r = Merge(a, c); r.Kind != AutoMerged || len(r.Conflicts) != 0 {
		t.Errorf("concurrent identical changes: %v %+v", r.Kind, r.Conflicts)
	}
	// Delete against a concurrent change.
	a = edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Deleted = true })
	c = edit(t, b, "CARICC", func(r *schema.Record) { r.Properties["alias"] = []string{"Vanya"} })
	if r = Merge(a, c); r.Kind != DeleteModify {
		t.Errorf("delete/modify: %v", r.Kind)
	}
	if r = Merge(c, a); r.Kind != DeleteModify {
		t.Errorf("modify/delete: %v", r.Kind)
	}
}

func TestResolutionFastForwards(t *testing.T) {
	b := base(t)
	a := edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1975-03-12"} })
	c := edit(t, b, "CARICC", func(r *schema.Record) { r.Properties["birthDate"] = []string{"1976-03-02"} })
	atA := Merge(a, c).Record
	atC := Merge(c, a).Record
	if !bytes.Equal(atA.AppendCanonical(nil), atC.AppendCanonical(nil)) {
		t.Fatal("the two offices disagree after exchanging")
	}
	res := atA.Clone()
	res.Properties["birthDate"] = []string{"1975-03-12"}
	resolved := Edit(atA, res, "KZ-NCB", "2026-11-29T00:00:00Z", "birthDate")
	if len(resolved.Version.Alts) != 0 {
		t.Fatal("resolution left alternatives")
	}
	if r := Merge(atC, resolved); r.Kind != Updated {
		t.Fatalf("the other office sees %v, want a fast-forward", r.Kind)
	}
}

func TestHandlingNeverWidens(t *testing.T) {
	b := base(t)
	a := edit(t, b, "KZ-NCB", func(r *schema.Record) { r.Handling = schema.Handling{TLP: "red", ReleasableTo: []string{"CARICC"}} })
	c := edit(t, b, "CARICC", func(r *schema.Record) {
		r.Handling = schema.Handling{TLP: "green", Code: "H2", NotReleasableTo: []string{"KG-NCB"}}
	})
	for _, r := range []Result{Merge(a, c), Merge(c, a)} {
		h := r.Record.Handling
		if h.TLP != "red" || h.Code != "H2" || !slices.Equal(h.ReleasableTo, []string{"CARICC"}) || !slices.Equal(h.NotReleasableTo, []string{"KG-NCB"}) {
			t.Fatalf("merged handling %+v is not the most restrictive", h)
		}
		if r.Kind != AutoMerged {
			t.Fatalf("handling change reported as %v", r.Kind)
		}
	}
}

// TestRestrictRedWithoutList: TLP red or amber+strict without
// releasable_to releases to the originator alone, so restricting it
// with a handling that releases to other agencies releases to the
// originator alone, not to those (which would widen it).
func TestRestrictRedWithoutList(t *testing.T) {
	for _, tlp := range []string{"red", "amber+strict"} {
		only := schema.Handling{TLP: tlp, Code: "H2"}
		listed := schema.Handling{TLP: "clear", Code: "H3", Conditions: []string{"c"}, ReleasableTo: []string{"CARICC", "KZ-NCB"}}
		for _, h := range []schema.Handling{Restrict(only, listed, "KG-NCB"), Restrict(listed, only, "KG-NCB")} {
			if h.TLP != tlp || !slices.Equal(h.ReleasableTo, []string{"KG-NCB"}) {
				t.Errorf("%s without releasable_to restricted by releasable_to CARICC, KZ-NCB gives %s", tlp, schema.HandlingString(h))
			}
		}
		// Idempotent, and unchanged without a list on either side.
		if h := Restrict(only, only, "KG-NCB"); schema.HandlingString(h) != schema.HandlingString(only) {
			t.Errorf("Restrict(%s, itself) = %s", schema.HandlingString(only), schema.HandlingString(h))
		}
		if h := Restrict(only, schema.Handling{TLP: "amber"}, "KG-NCB"); len(h.ReleasableTo) != 0 || h.TLP != tlp {
			t.Errorf("Restrict(%s, amber) = %s", schema.HandlingString(only), schema.HandlingString(h))
		}
	}
}

// office is one simulated office's store.
type office struct {
	agency  string
	records map[string]*schema.Record
}

var agencies = []string{"CARICC", "KG-NCB", "KZ-NCB", "TJ-NCB"}

// write is one change to one key, with what the writer had seen.
type write struct {
	id, key, dot string
	values       []string
	seen         map[string]uint64 // the record's vector after the change
}

type writeLog struct{ writes []write }

func (l *writeLog) add(r *schema.Record, agency string) {
	dot := fmt.Sprintf("%s:%d", agency, r.Version.Vector[agency])
	for k, d := range r.Version.Props {
		if d == dot {
			l.writes = append(l.writes, write{r.ID, k, dot, Value(r, k), maps(r.Version.Vector)})
		}
	}
}

func randomEdit(rng *rand.Rand, o *office, ids []string, seq *int, log *writeLog) {
	at := fmt.Sprintf("2026-11-28T00:00:%02dZ", rng.Intn(60))
	id := ids[rng.Intn(len(ids))]
	held := o.records[id]
	if held == nil {
		if rng.Intn(3) > 0 {
			return
		}
		*seq++
		r := Edit(nil, person(id, o.agency, map[string][]string{"name": {fmt.Sprintf("Name %d", *seq)}}), o.agency, at)
		o.records[id] = r
		log.add(r, o.agency)
		return
	}
	c := held.Clone()
	*seq++
	switch rng.Intn(7) {
	case 0:
		c.Properties["name"] = []string{fmt.Sprintf("Name %d", *seq)}
	case 1:
		c.Properties["alias"] = append(c.Properties["alias"], fmt.Sprintf("Alias %d", *seq))
	case 2:
		if v := c.Properties["alias"]; len(v) > 0 {
			c.Properties["alias"] = v[1:]
		}
	case 3:
		c.Properties["birthDate"] = []string{fmt.Sprintf("19%02d", 50+rng.Intn(3))}
	case 4:
		c.Properties["nationality"] = []string{[]string{"kz", "kg", "tj"}[rng.Intn(3)]}
	case 5:
		c.Deleted = !c.Deleted
	case 6:
		// Resolve every open conflict by keeping the provisional value.
		var ks []string
		for k := range c.Version.Alts {
			ks = append(ks, k)
		}
		if r := Edit(held, c, o.agency, at, ks...); r != nil {
			o.records[id] = r
			log.add(r, o.agency)
		}
		return
	}
	if r := Edit(held, c, o.agency, at); r != nil {
		if probs := r.Validate(); len(probs) > 0 {
			panic(probs[0].Error())
		}
		o.records[id] = r
		log.add(r, o.agency)
	}
}

func maps(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func snapshot(o *office) []*schema.Record {
	var out []*schema.Record
	for _, r := range o.records {
		out = append(out, r.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// checkJoin panics unless Join is commutative, agrees with a fast-forward
// and with a stale version.
func checkJoin(held, in *schema.Record) {
	if held == nil {
		return
	}
	j1, j2 := Join(held, in).AppendCanonical(nil), Join(in, held).AppendCanonical(nil)
	if !bytes.Equal(j1, j2) {
		panic(fmt.Sprintf("join is not commutative:\n%s\n%s", j1, j2))
	}
	switch Compare(in.Version.Vector, held.Version.Vector) {
	case After:
		if !bytes.Equal(j1, in.AppendCanonical(nil)) {
			panic(fmt.Sprintf("fast-forward differs from join:\n%s\n%s", in.AppendCanonical(nil), j1))
		}
	case Before:
		if !bytes.Equal(j1, held.AppendCanonical(nil)) {
			panic(fmt.Sprintf("stale differs from join:\n%s\n%s", held.AppendCanonical(nil), j1))
		}
	}
}

func deliver(o *office, bundle []*schema.Record) {
	for _, r := range bundle {
		checkJoin(o.records[r.ID], r)
		if res := Merge(o.records[r.ID], r); res.Record != nil {
			o.records[r.ID] = res.Record
		}
	}
}

func dump(o *office) string {
	var b bytes.Buffer
	for _, r := range snapshot(o) {
		b.Write(r.AppendCanonical(nil))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestConvergence: several offices edit at random and exchange bundles in
// random orders with duplicates; once every office has every bundle, all
// hold the same records and the same open conflicts, and no change was
// lost without appearing as a conflict.
func TestConvergence(t *testing.T) {
	for h := 0; h < *histories; h++ {
		rng := rand.New(rand.NewSource(int64(h)))
		n := 3 + rng.Intn(2)
		offices := make([]*office, n)
		for i := range offices {
			offices[i] = &office{agency: agencies[i], records: map[string]*schema.Record{}}
		}
		ids := []string{"p-1", "p-2", "p-3"}
		var bundles [][]*schema.Record
		seq := 0
		log := &writeLog{}
		for step := 0; step < 40; step++ {
			o := offices[rng.Intn(n)]
			switch rng.Intn(4) {
			case 0, 1:
				randomEdit(rng, o, ids, &seq, log)
			case 2:
				bundles = append(bundles, snapshot(o))
			case 3:
				if len(bundles) > 0 {
					deliver(o, bundles[rng.Intn(len(bundles))])
				}
			}
		}
		for _, o := range offices {
			bundles = append(bundles, snapshot(o))
		}
		for _, o := range offices {
			order := rng.Perm(len(bundles))
			order = append(order, order[:len(order)/3]...) // duplicates
			for _, i := range order {
				deliver(o, bundles[i])
			}
		}
		want := dump(offices[0])
		for _, o := range offices[1:] {
			if got := dump(o); got != want {
				t.Fatalf("history %d: %s and %s diverge:\n%s\n---\n%s", h, offices[0].agency, o.agency, want, got)
			}
		}
		// No change lost: every change is still a candidate of its key, or
		// a candidate's writer had seen it, or a candidate holds the same
		// value (concurrent identical changes).
		final := offices[0].records
		for _, w := range log.writes {
			r := final[w.id]
			if !covers(r.Version.Vector, w.dot) {
				t.Fatalf("history %d: change %s to %s.%s never arrived", h, w.dot, w.id, w.key)
			}
			ok := false
			for _, c := range candidates(r, w.key) {
				if c.Dot == w.dot || slices.Equal(c.Values, w.values) {
					ok = true
				}
				// A candidate stands for every concurrent change that wrote
				// the same value; any of them may have seen w.
				for _, w2 := range log.writes {
					if w2.id == w.id && w2.key == w.key && slices.Equal(w2.values, c.Values) && covers(w2.seen, w.dot) {
						ok = true
					}
				}
			}
			if !ok {
				t.Fatalf("history %d: change %s to %s.%s = %q was lost without a conflict; final %s", h, w.dot, w.id, w.key, w.values, r.AppendCanonical(nil))
			}
		}
	}
}

// TestConflictRules: on random records, concurrent changes to different
// properties never conflict, and concurrent different changes to one
// single-valued property always do.
func TestConflictRules(t *testing.T) {
	props := []string{"name", "birthDate", "nationality", "gender", "title", "position", "notes"}
	values := map[string]func(rng *rand.Rand) string{
		"name": func(rng *rand.Rand) string { return fmt.Sprintf("Name %d", rng.Intn(1e6)) },
		"birthDate": func(rng *rand.Rand) string {
			return fmt.Sprintf("19%02d-0%d-1%d", 10+rng.Intn(89), 1+rng.Intn(9), rng.Intn(10))
		},
		"nationality": func(rng *rand.Rand) string { return []string{"kz", "kg", "tj", "uz", "tm", "af"}[rng.Intn(6)] },
		"gender":      func(rng *rand.Rand) string { return []string{"male", "female", "other"}[rng.Intn(3)] },
		"title":       func(rng *rand.Rand) string { return fmt.Sprintf("Title %d", rng.Intn(1e6)) },
		"position":    func(rng *rand.Rand) string { return fmt.Sprintf("Position %d", rng.Intn(1e6)) },
		"notes":       func(rng *rand.Rand) string { return fmt.Sprintf("Note %d", rng.Intn(1e6)) },
	}
	for i := 0; i < 2000; i++ {
		rng := rand.New(rand.NewSource(int64(i)))
		b := base(t)
		p1 := props[rng.Intn(len(props))]
		p2 := props[rng.Intn(len(props))]
		v1, v2 := values[p1](rng), values[p2](rng)
		a := Edit(b, withProp(b, p1, v1), "KZ-NCB", "2026-11-28T00:00:01Z")
		c := Edit(b, withProp(b, p2, v2), "CARICC", "2026-11-28T00:00:02Z")
		if a == nil || c == nil {
			continue // the random value equalled the held one
		}
		r := Merge(a, c)
		switch {
		case p1 != p2 && (r.Kind != AutoMerged || len(r.Conflicts) != 0):
			t.Fatalf("case %d: %s and %s changed concurrently gave %v %+v", i, p1, p2, r.Kind, r.Conflicts)
		case p1 == p2 && v1 != v2 && (r.Kind != Conflict || len(r.Conflicts) != 1 || r.Conflicts[0].Property != p1):
			t.Fatalf("case %d: %s changed to %q and %q gave %v %+v", i, p1, v1, v2, r.Kind, r.Conflicts)
		case p1 == p2 && v1 == v2 && len(r.Conflicts) != 0:
			t.Fatalf("case %d: identical changes conflict", i)
		}
	}
}

func withProp(r *schema.Record, p, v string) *schema.Record {
	c := r.Clone()
	c.Properties[p] = []string{v}
	return c
}
