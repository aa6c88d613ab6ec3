package store_test

// Benchmarks of the store work import and ingest do per record, on
// bench/recgen's records with their version information (one op = one
// record, all in one transaction as import does). The store grows with
// b.N, so compare runs at a fixed count:
//
//	go test -run '^$' -bench . -benchtime 20000x -count 6 ./store

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"valise/bench/recgen"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

const at1, at2 = "2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z"

// versions returns n records as KZ-NCB's first version, and with update
// their second version.
func versions(b *testing.B, n int, update bool) []*schema.Record {
	b.Helper()
	decode := func(data []byte) []*schema.Record {
		var out []*schema.Record
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			r, err := schema.Decode(l)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	var buf bytes.Buffer
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, n, recgen.Options{}); err != nil {
		b.Fatal(err)
	}
	plain := decode(buf.Bytes())
	out := make([]*schema.Record, len(plain))
	for i, r := range plain {
		out[i] = merge.Edit(nil, r, "KZ-NCB", at1)
	}
	if !update {
		return out
	}
	buf.Reset()
	if _, err := recgen.Write(&buf, recgen.JSONL, 1, n, recgen.Options{Update: true}); err != nil {
		b.Fatal(err)
	}
	for i, r := range decode(buf.Bytes()) {
		out[i] = merge.Edit(out[i], r, "KZ-NCB", at2)
	}
	return out
}

func newStore(b testing.TB) *store.Store {
	b.Helper()
	s, err := store.Create(filepath.Join(b.TempDir(), "store.db"), "CARICC", testKey)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// testKey is the MAC key of the test stores.
var testKey = store.WithMACKey(func() ([]byte, error) { return []byte("0123456789abcdef0123456789abcdef"), nil })

var change = store.Change{Action: "import", Agency: "KZ-NCB", Bundle: "01a22184-1349-770a-9b9a-20016e3064bc"}

func byID(recs []*schema.Record) []*schema.Record {
	out := slices.Clone(recs)
	slices.SortFunc(out, func(a, b *schema.Record) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func shuffled(recs []*schema.Record) []*schema.Record {
	out := slices.Clone(recs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// BenchmarkPut inserts new records with tx.Put, in id order (as a bundle
// holds them) and in random order.
func BenchmarkPut(b *testing.B) {
	for _, order := range []struct {
		name string
		fn   func([]*schema.Record) []*schema.Record
	}{{"sorted", byID}, {"random", shuffled}} {
		b.Run(order.name, func(b *testing.B) {
			recs := order.fn(versions(b, b.N, false))
			s := newStore(b)
			b.ReportAllocs()
			b.ResetTimer()
			err := s.Update(func(tx *store.Tx) error {
				for _, r := range recs {
					if err := put(tx, change, r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// importOne is the store work of an import for one record: look up the
// held version, merge, write, keep the conflicts in step.
func importOne(tx *store.Tx, r *schema.Record) error {
	held, err := tx.HeldMany([]schema.Key{r.Key()})
	if err != nil {
		return err
	}
	var h *schema.Record
	if held[0] != nil {
		if h, err = held[0].Record(); err != nil {
			return err
		}
	}
	res := merge.Merge(h, r)
	if res.Record == nil {
		return nil
	}
	return tx.Apply(change, []store.Write{{Rec: res.Record, Held: held[0]}}, nil)
}

// BenchmarkImport is the per-record store work of importing a bundle:
// "new" into an empty store, "update" of every record held (the held
// versions are written before the timer starts).
func BenchmarkImport(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		recs := byID(versions(b, b.N, false))
		s := newStore(b)
		b.ReportAllocs()
		b.ResetTimer()
		err := s.Update(func(tx *store.Tx) error {
			for _, r := range recs {
				if err := importOne(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("update", func(b *testing.B) {
		held := byID(versions(b, b.N, false))
		next := byID(versions(b, b.N, true))
		s := newStore(b)
		err := s.Update(func(tx *store.Tx) error {
			for _, r := range held {
				if err := put(tx, change, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		err = s.Update(func(tx *store.Tx) error {
			for _, r := range next {
				if err := importOne(tx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkGet looks up held records by id in random order (the lookup
// import makes for every incoming record).
func BenchmarkGet(b *testing.B) {
	const held = 20000
	recs := versions(b, held, false)
	s := newStore(b)
	err := s.Update(func(tx *store.Tx) error {
		for _, r := range byID(recs) {
			if err := put(tx, change, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]schema.Key, len(recs))
	for i, r := range shuffled(recs) {
		ids[i] = r.Key()
	}
	b.ReportAllocs()
	b.ResetTimer()
	err = s.Update(func(tx *store.Tx) error {
		for i := 0; i < b.N; i++ {
			r, err := tx.HeldMany(ids[i%len(ids) : i%len(ids)+1])
			if err != nil || r == nil {
				b.Fatalf("get %s: %v %v", ids[i%len(ids)], r, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// importBatch is the store work of an import for a batch of records
// as it batches: one HeldMany, the merges, one Apply.
func importBatch(tx *store.Tx, recs []*schema.Record) error {
	ids := make([]schema.Key, len(recs))
	for i, r := range recs {
		ids[i] = r.Key()
	}
	held, err := tx.HeldMany(ids)
	if err != nil {
		return err
	}
	var out []store.Write
	for i, r := range recs {
		var h *schema.Record
		if held[i] != nil {
			if h, err = held[i].Record(); err != nil {
				return err
			}
		}
		if res := merge.Merge(h, r); res.Record != nil {
			out = append(out, store.Write{Rec: res.Record, Held: held[i]})
		}
	}
	return tx.Apply(change, out, nil)
}

// BenchmarkImportBatched is BenchmarkImport with the batched statements
// (store.BatchSize records per HeldMany and Apply).
func BenchmarkImportBatched(b *testing.B) {
	run := func(b *testing.B, s *store.Store, recs []*schema.Record) {
		b.Helper()
		err := s.Update(func(tx *store.Tx) error {
			for len(recs) > 0 {
				n := min(len(recs), store.BatchSize)
				if err := importBatch(tx, recs[:n]); err != nil {
					return err
				}
				recs = recs[n:]
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("new", func(b *testing.B) {
		recs := byID(versions(b, b.N, false))
		s := newStore(b)
		b.ReportAllocs()
		b.ResetTimer()
		run(b, s, recs)
	})
	b.Run("update", func(b *testing.B) {
		held := byID(versions(b, b.N, false))
		next := byID(versions(b, b.N, true))
		s := newStore(b)
		run(b, s, held)
		b.ReportAllocs()
		b.ResetTimer()
		run(b, s, next)
	})
}
