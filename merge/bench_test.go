package merge_test

// Benchmarks of the merge decision import makes for every incoming record,
// one sub-benchmark per case of SPEC §6, on bench/recgen's records (one op
// = one record). Compare runs with benchstat.

import (
	"bytes"
	"sync"
	"testing"

	"valise/bench/recgen"
	"valise/merge"
	"valise/schema"
)

const benchRecords = 2000

const at1, at2 = "2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z"

func records(update bool) []*schema.Record {
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, benchRecords, recgen.Options{Update: update}); err != nil {
		panic(err)
	}
	var out []*schema.Record
	for _, l := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		r, err := schema.Decode(l)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

type pairs struct{ held, incoming []*schema.Record }

// benchPairs builds (held, incoming) pairs for each case.
var benchPairs = sync.OnceValue(func() map[string]pairs {
	plain, upd := records(false), records(true)
	m := map[string]pairs{}
	var p pairs
	for i := range plain {
		kz := merge.Edit(nil, plain[i], "KZ-NCB", at1)
		p.held = append(p.held, nil)
		p.incoming = append(p.incoming, kz)
	}
	m["inserted"] = p
	p = pairs{}
	for i := range plain {
		kz := merge.Edit(nil, plain[i], "KZ-NCB", at1)
		p.held = append(p.held, kz)
		p.incoming = append(p.incoming, kz.Clone())
	}
	m["unchanged"] = p
	ff, stale := pairs{}, pairs{}
	for i := range plain {
		kz := merge.Edit(nil, plain[i], "KZ-NCB", at1)
		next := merge.Edit(kz, upd[i], "KZ-NCB", at2)
		ff.held, ff.incoming = append(ff.held, kz), append(ff.incoming, next)
		stale.held, stale.incoming = append(stale.held, next), append(stale.incoming, kz)
	}
	m["updated"], m["stale"] = ff, stale
	auto, conflict := pairs{}, pairs{}
	for i := range plain {
		kz := merge.Edit(nil, plain[i], "KZ-NCB", at1)
		// CARICC changes one property, KZ-NCB another: auto-merged.
		a := kz.Clone()
		a.Properties["modifiedAt"] = []string{"2026-01-01"}
		ca := merge.Edit(kz, a, "CARICC", at2)
		k := kz.Clone()
		k.Properties["createdAt"] = []string{"2020-01-01"}
		kz2 := merge.Edit(kz, k, "KZ-NCB", at2)
		auto.held, auto.incoming = append(auto.held, ca), append(auto.incoming, kz2)
		// Both change the same property differently: conflict.
		k = kz.Clone()
		k.Properties["modifiedAt"] = []string{"2026-02-02"}
		kz3 := merge.Edit(kz, k, "KZ-NCB", at2)
		conflict.held, conflict.incoming = append(conflict.held, ca), append(conflict.incoming, kz3)
	}
	m["auto-merged"], m["conflict"] = auto, conflict
	return m
})

func BenchmarkMerge(b *testing.B) {
	for _, kind := range []merge.Kind{merge.Inserted, merge.Unchanged, merge.Updated, merge.Stale, merge.AutoMerged, merge.Conflict} {
		p := benchPairs()[kind.String()]
		b.Run(kind.String(), func(b *testing.B) {
			if got := merge.Merge(p.held[0], p.incoming[0]).Kind; got != kind {
				b.Fatalf("pair 0 is %v, want %v", got, kind)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(p.held)
				merge.Merge(p.held[j], p.incoming[j])
			}
		})
	}
}

// BenchmarkEdit is the version stamping of ingest and pack --input: a new
// record, and a changed one.
func BenchmarkEdit(b *testing.B) {
	plain, upd := records(false), records(true)
	held := make([]*schema.Record, len(plain))
	for i, r := range plain {
		held[i] = merge.Edit(nil, r, "KZ-NCB", at1)
	}
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			merge.Edit(nil, plain[i%len(plain)], "KZ-NCB", at1)
		}
	})
	b.Run("changed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			j := i % len(plain)
			merge.Edit(held[j], upd[j], "KZ-NCB", at2)
		}
	})
}
