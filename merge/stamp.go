package merge

import "valise/schema"

// Stamp gives r, a new record whose version is empty, its first version by
// agency, in place: r ends as Edit(nil, r, agency, at) would return it, but
// without the copy, for callers that stamp records by the million
// (pack --input). It panics if r already has a version.
func Stamp(r *schema.Record, agency, at string) {
	if !r.Version.IsZero() {
		panic("merge: Stamp of a record that has a version")
	}
	dot := agency + ":1"
	props := make(map[string]string, len(r.Properties)+len(r.Extra)+3)
	for k, v := range r.Properties {
		if len(v) > 0 {
			props[k] = dot
		}
	}
	props[KeyHandling], props[KeyDeleted] = dot, dot
	if r.Evaluation != nil {
		props[KeyEvaluation] = dot
	}
	for k := range r.Extra {
		props[KeyExtra+k] = dot
	}
	r.Version = schema.Version{Vector: map[string]uint64{agency: 1}, Props: props, By: agency, At: at}
}
