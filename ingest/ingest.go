package ingest

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"valise/handling"
	"valise/office"

	"valise/formats"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// IngestReport tells what ingesting record files did.
type IngestReport struct {
	Added, Updated, Unchanged, Deleted int
	// Problems holds the first MaxIngestProblems invalid items, in the
	// order of the files and of their lines; ProblemCount counts them all.
	Problems     []*formats.Problem
	ProblemCount int
	Skipped      int // invalid items left out with --skip-invalid
}

// MaxIngestProblems bounds the problems an IngestReport keeps: a file of a
// million broken lines must not take its size again in memory.
const MaxIngestProblems = 1000

// IngestFile is one record file to ingest.
type IngestFile struct {
	Name   string                        // for messages and format detection
	Open   func() (io.ReadCloser, error) // called once, when the file's turn comes
	Format string                        // "" to detect it (formats.Detect)
	Type   string                        // schema of CSV rows (formats.Options.Type)
}

// IngestDefaults is the handling given to records whose input carries
// none.
var IngestDefaults = schema.Handling{TLP: "amber"}

// errRefused rolls back an ingest that found problems without
// skipInvalid.
var errRefused = errors.New("ingest refused")

// Ingest adds or updates this office's records from files, in one
// transaction. With skipInvalid false, any problem means nothing is
// ingested; with it, the valid records are ingested and the problems
// reported. An id that comes twice, in one file or in two, is a problem:
// the first occurrence counts. A file that is a complete edition of a
// published list tombstones the records of that list it no longer holds,
// unless it had problems (then it is not complete).
//
// The files are read once each, as streams: records are merged into the
// store in batches as they are read, and memory does not grow with the
// files but for a hash of each id, to find duplicates (about 36 MiB for a
// million ids), and, for a list edition, the ids the store holds from that
// list. Whatever goes wrong, the transaction is rolled back, so that
// nothing is ingested.
//
// An error about a file as a whole (it cannot be opened or read, its
// format is unknown, the options do not fit it) comes with a nil report.
// Otherwise the report lists the problems found, also with an error.
func Ingest(o *office.Office, files []IngestFile, skipInvalid bool) (*IngestReport, error) {
	if len(files) > maxIngestFiles {
		return nil, fmt.Errorf("%d files in one ingest: at most %d", len(files), maxIngestFiles)
	}
	g := &ingester{
		rep:         &IngestReport{},
		self:        o.Agency(),
		at:          o.Now().UTC().Format(time.RFC3339),
		skipInvalid: skipInvalid,
		defaults:    schema.HandlingString(IngestDefaults),
		ids:         newIDSet(),
		fileProbs:   make([]int, len(files)),
	}
	var fileErr error
	err := o.Store.Update(func(tx *store.Tx) error {
		for i, f := range files {
			if fileErr = g.file(tx, i, files, f); fileErr != nil {
				return fileErr
			}
		}
		if g.storeErr != nil {
			return g.storeErr
		}
		if g.rep.ProblemCount > 0 && !skipInvalid {
			return errRefused
		}
		g.rep.Skipped = g.rep.ProblemCount
		return tx.Audit("ingest", fmt.Sprintf("%s: %d added, %d updated, %d unchanged, %d deleted, %d invalid skipped",
			strings.Join(g.sums, ", "), g.rep.Added, g.rep.Updated, g.rep.Unchanged, g.rep.Deleted, g.rep.Skipped))
	})
	rep := g.rep
	switch {
	case err == nil:
		return rep, nil
	case fileErr != nil:
		return nil, fileErr
	}
	// Nothing was committed: the counts of what would have been are no
	// report of what was.
	rep.Added, rep.Updated, rep.Unchanged, rep.Deleted, rep.Skipped = 0, 0, 0, 0, 0
	if errors.Is(err, errRefused) {
		what := fmt.Sprintf("%d problems", rep.ProblemCount)
		if rep.ProblemCount == 1 {
			what = "1 problem"
		}
		return rep, fmt.Errorf("%s; nothing ingested (use --skip-invalid to ingest the valid records): %w", what, schema.ErrInvalid)
	}
	return rep, err
}

// maxIngestFiles keeps a file's index within the bits idSet gives it.
const maxIngestFiles = 1<<16 - 1

// ingester is the state of one Ingest.
type ingester struct {
	rep         *IngestReport
	self, at    string
	skipInvalid bool
	defaults    string // IngestDefaults, canonical
	ids         *idSet
	fileProbs   []int    // problems per file
	sums        []string // "NAME sha256 HEX" of each file read
	// storeErr is the first error of merging into the store (a schema
	// change, a widening of handling, the store itself): from then on
	// nothing more is written, the files are only read on for their
	// problems, as a reader that reads everything first would have named
	// them all.
	storeErr error
	// stopped is set with storeErr, and by the reading goroutine at the
	// first problem when it is not skipInvalid: nothing more is merged.
	stopped atomic.Bool
}

// writing reports whether what is read is still to be merged.
func (g *ingester) writing() bool { return !g.stopped.Load() }

// ingestBatch is what the reading goroutine hands to the merging one.
type ingestBatch struct {
	recs []*schema.Record
	dels []string
}

// file ingests files[i] = f. Its error is about the file as a whole; the
// others go to g.storeErr.
func (g *ingester) file(tx *store.Tx, i int, files []IngestFile, f IngestFile) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The audit entry names each file by its SHA-256: what was read,
	// byte for byte.
	sum := sha256.New()
	tee := io.TeeReader(rc, sum)
	// The format is needed before the first record is written: a list
	// edition's records are written with their source.
	br := bufio.NewReaderSize(tee, 1<<20)
	format := f.Format
	if format == "" {
		head, err := br.Peek(64 << 10)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return fmt.Errorf("reading %s: %w", schema.Printable(f.Name), err)
		}
		if format, err = formats.Detect(f.Name, head); err != nil {
			return err
		}
	}
	c := store.Change{Action: "ingest", Agency: g.self, Source: listSource(format)}
	// One goroutine reads, decodes, validates and finds duplicates; this
	// one merges into the store: on two cores the two overlap.
	batches := make(chan ingestBatch, 4)
	done := make(chan error, 1)
	go func() {
		defer close(batches)
		done <- g.read(i, files, br, format, batches)
	}()
	// Batch k is merged (merge.Edit, canonical encoding) on its own
	// goroutine while this one reads the store for batch k+1 and then
	// writes batch k: the ids of one file are distinct, so the reads need
	// not wait for the writes.
	var pending chan merged
	flush := func() {
		if pending == nil {
			return
		}
		m := <-pending
		pending = nil
		if g.writing() {
			if err := g.apply(tx, m, c); err != nil {
				g.fail(err)
			}
		}
	}
	for b := range batches {
		if !g.writing() {
			continue
		}
		if len(b.recs) > 0 {
			held, err := g.held(tx, b.recs)
			if err != nil {
				g.fail(err)
				continue
			}
			next := make(chan merged, 1)
			go func() { next <- g.merge(f.Name, c.Source != "", b.recs, held) }()
			flush()
			pending = next
		}
		if err := g.tombstones(tx, b.dels, c); err != nil {
			g.fail(err)
		}
	}
	flush()
	if err := <-done; err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("reading %s: %w", schema.Printable(f.Name), err)
	}
	g.sums = append(g.sums, fmt.Sprintf("%s sha256 %x", f.Name, sum.Sum(nil)))
	// A list edition with invalid entries is not complete: those entries
	// are missing from it, so nothing is removed by absence.
	if c.Source == "" || g.fileProbs[i] > 0 || !g.writing() {
		return nil
	}
	hashes, err := tx.SourceHashes(c.Source)
	if err != nil {
		g.fail(err)
		return nil
	}
	var gone []string
	for id := range hashes {
		if !g.ids.recordIn(id, i) {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for len(gone) > 0 {
		n := min(len(gone), store.BatchSize)
		if err := g.tombstones(tx, gone[:n], c); err != nil {
			g.fail(err)
			return nil
		}
		gone = gone[n:]
	}
	return nil
}

func listSource(format string) string {
	if format == formats.UNSC || format == formats.OFACSDN {
		return format
	}
	return ""
}

func (g *ingester) fail(err error) {
	if g.storeErr == nil {
		g.storeErr = err
		g.stopped.Store(true)
	}
}

// read streams one file to out, in batches of store.BatchSize records or
// tombstones, as long as g is writing; it files every problem, the
// duplicates it finds included. Its error is about the file as a whole.
func (g *ingester) read(i int, files []IngestFile, r io.Reader, format string, out chan<- ingestBatch) error {
	f := files[i]
	g.ids.newFile()
	var b ingestBatch
	send := func() {
		out <- b
		b = ingestBatch{}
	}
	opts := formats.Options{Format: format, Type: f.Type, Origin: g.self, Handling: IngestDefaults,
		Unique: func(line int, id string, tombstone bool) string {
			if l, dup := g.ids.claim(id, i, line, tombstone); dup {
				return fmt.Sprintf("duplicate id: also on line %d", l)
			}
			return ""
		}}
	_, err := formats.Stream(f.Name, r, opts, func(it formats.Item) error {
		switch {
		case it.Problem != nil:
			g.problem(i, it.Problem)
		case it.Record != nil:
			// Valid, and the first in its file: a record of an earlier
			// file of the run may still hold the id.
			if prev := g.ids.valid(it.Record.ID, i); prev >= 0 {
				g.problem(i, &formats.Problem{File: f.Name, Line: it.Line, ID: it.Record.ID,
					Rule: fmt.Sprintf("duplicate id: also in %s", schema.Printable(files[prev].Name))})
				return nil
			}
			if g.writing() {
				b.recs = append(b.recs, it.Record)
				if len(b.recs) == store.BatchSize {
					send()
				}
			}
		case g.writing():
			b.dels = append(b.dels, it.Delete)
			if len(b.dels) == store.BatchSize {
				send()
			}
		}
		return nil
	})
	if err == nil && len(b.recs)+len(b.dels) > 0 && g.writing() {
		send()
	}
	return err
}

// problem files p, found in file i.
func (g *ingester) problem(i int, p *formats.Problem) {
	if len(g.rep.Problems) < MaxIngestProblems {
		g.rep.Problems = append(g.rep.Problems, p)
	}
	g.rep.ProblemCount++
	g.fileProbs[i]++
	if !g.skipInvalid {
		g.stopped.Store(true)
	}
}

// held returns what is held under the keys of recs, in their order.
func (g *ingester) held(tx *store.Tx, recs []*schema.Record) ([]*store.Stored, error) {
	keys := make([]schema.Key, len(recs))
	for k, r := range recs {
		keys[k] = r.Key()
	}
	return tx.HeldMany(keys)
}

// merged is a batch of records of one file merged with what is held, to
// be written.
type merged struct {
	writes                    []store.Write
	added, updated, unchanged int
	err                       error
}

// merge merges a batch of records of file name with what the store holds
// under their ids. It does not touch the store or g's report: it runs
// beside the goroutine that does.
func (g *ingester) merge(name string, list bool, recs []*schema.Record, held []*store.Stored) merged {
	var m merged
	m.writes = make([]store.Write, 0, len(recs))
	for k, in := range recs {
		var h *schema.Record
		if held[k] != nil {
			var err error
			if h, err = held[k].Record(); err != nil {
				m.err = err
				return m
			}
		}
		if h == nil && in.Origin != g.self {
			// An office creates records only under its own origin: one
			// of another office's it may change, once it holds it.
			m.err = fmt.Errorf("%s: record %s has origin %s, and this office holds no record %s: an office creates records only under its own origin (%s); leave the origin out: %w",
				name, in.ID, in.Origin, in.Key(), g.self, schema.ErrInvalid)
			return m
		}
		// A record's type is its own: a file may not turn a Person into
		// an Organization. A new edition of a published list may: the
		// list is the authority on its entries, and valise's mapping of
		// them improves (Organization to LegalEntity, Vehicle to Vessel).
		if h != nil && h.Schema != in.Schema && !list {
			m.err = fmt.Errorf("%s: record %s is a %s here; changing it to a %s is not allowed: %w", name, in.ID, h.Schema, in.Schema, schema.ErrInvalid)
			return m
		}
		if h != nil {
			if schema.HandlingString(in.Handling) == g.defaults {
				in.Handling = cloneHandling(h.Handling) // the file says nothing of handling: keep what is held
			}
			in.Evaluation = pickEvaluation(in.Evaluation, h.Evaluation)
		}
		if err := handling.CheckNarrowing(h, in, g.self); err != nil {
			m.err = fmt.Errorf("%s: %w", name, err)
			return m
		}
		next := merge.Edit(h, in, g.self, g.at)
		switch {
		case next == nil:
			m.unchanged++
			continue
		case h == nil || h.Deleted:
			m.added++
		default:
			m.updated++
		}
		m.writes = append(m.writes, store.Write{Rec: next, Body: next.AppendCanonical(nil), Held: held[k]})
	}
	return m
}

// apply writes a merged batch and counts it.
func (g *ingester) apply(tx *store.Tx, m merged, c store.Change) error {
	if m.err != nil {
		return m.err
	}
	g.rep.Added += m.added
	g.rep.Updated += m.updated
	g.rep.Unchanged += m.unchanged
	return tx.Apply(c, m.writes, nil)
}

// tombstones deletes this office's records held under ids, those not
// deleted yet.
func (g *ingester) tombstones(tx *store.Tx, ids []string, c store.Change) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]schema.Key, len(ids))
	for k, id := range ids {
		keys[k] = schema.Key{ID: id, Origin: g.self}
	}
	held, err := tx.HeldMany(keys)
	if err != nil {
		return err
	}
	var writes []store.Write
	for k := range ids {
		if held[k] == nil {
			continue
		}
		h, err := held[k].Record()
		if err != nil {
			return err
		}
		if h.Deleted {
			continue
		}
		t := h.Clone()
		t.Deleted = true
		next := merge.Edit(h, t, g.self, g.at)
		if next == nil {
			continue
		}
		writes = append(writes, store.Write{Rec: next, Held: held[k]})
		g.rep.Deleted++
	}
	return tx.Apply(c, writes, nil)
}

func cloneHandling(h schema.Handling) schema.Handling {
	h.ReleasableTo = slices.Clone(h.ReleasableTo)
	h.NotReleasableTo = slices.Clone(h.NotReleasableTo)
	return h
}

func pickEvaluation(in, held *schema.Evaluation) *schema.Evaluation {
	if in == nil {
		return held
	}
	return in
}

// idSet remembers the ids read so far, to find duplicates as reading all
// files first would: an id twice in one file, valid or not, and a valid
// record whose id a valid record of an earlier file has (a tombstone may
// follow a record of an earlier file: deltas applied in order).
//
// It keeps no id but a 64-bit hash of each, the map's key, and 15 bits of
// a second one in the value: 16 bytes an id in the map (36 MiB for a
// million ids, where the ids themselves would take 60 or more with their
// strings). Two different ids pass for one with a probability of 2^-79,
// and no input can be made to collide: the seeds are new for each ingest.
type idSet struct {
	seeds [2]maphash.Seed
	// recs: record id → check, file, valid, line of its latest claim: the
	// first occurrence in that file, or the first valid record of the
	// run. over holds the rare ids whose first hash is another's key in
	// recs.
	recs map[uint64]uint64
	over map[idKey]uint64
	// In the file being read only: the tombstones, and the records whose
	// id a valid record of an earlier file holds.
	dels, again map[idKey]int
	last        string // the id last claimed, and its key
	lastKey     idKey
}

// idKey is an id's first hash and the 15 check bits of its second, in
// place in an idSet value.
type idKey struct{ h, check uint64 }

// An idSet value.
const (
	lineMask   = 1<<32 - 1 // line (saturated)
	validBit   = 1 << 32   // a valid record
	fileShift  = 33        // index of the file, 16 bits
	checkShift = 49        // check bits of the second hash
)

func newIDSet() *idSet {
	return &idSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		recs: map[uint64]uint64{}, over: map[idKey]uint64{}, dels: map[idKey]int{}, again: map[idKey]int{}}
}

func (s *idSet) key(id string) idKey {
	if id != s.last {
		s.last = id
		s.lastKey = idKey{maphash.String(s.seeds[0], id), maphash.String(s.seeds[1], id) >> checkShift << checkShift}
	}
	return s.lastKey
}

func (s *idSet) get(k idKey) (uint64, bool) {
	v, ok := s.recs[k.h]
	if !ok || v&^(1<<checkShift-1) == k.check {
		return v, ok
	}
	v, ok = s.over[k]
	return v, ok
}

func (s *idSet) set(k idKey, v uint64) {
	v |= k.check
	if old, ok := s.recs[k.h]; ok && old&^(1<<checkShift-1) != k.check {
		s.over[k] = v
		return
	}
	s.recs[k.h] = v
}

func (s *idSet) newFile() {
	clear(s.dels)
	clear(s.again)
}

// claim notes id, of a record or a tombstone on line of file, or returns
// the line of its earlier occurrence in the file.
func (s *idSet) claim(id string, file, line int, tombstone bool) (int, bool) {
	k := s.key(id)
	v, held := s.get(k)
	if held && fileOf(v) == file {
		return int(v & lineMask), true
	}
	if l, ok := s.again[k]; ok {
		return l, true
	}
	if l, ok := s.dels[k]; ok {
		return l, true
	}
	switch {
	case tombstone:
		s.dels[k] = line
	case held && v&validBit != 0:
		s.again[k] = line
	default:
		s.set(k, uint64(file)<<fileShift|uint64(min(line, lineMask)))
	}
	return 0, false
}

// valid notes that the record claimed last in file, id, is valid, or
// returns the earlier file whose valid record holds the id (-1: none).
func (s *idSet) valid(id string, file int) int {
	k := s.key(id)
	v, _ := s.get(k)
	if f := fileOf(v); f != file {
		return f
	}
	s.set(k, v&(1<<checkShift-1)|validBit)
	return -1
}

// recordIn reports whether id is a valid record of file, not a duplicate.
func (s *idSet) recordIn(id string, file int) bool {
	v, ok := s.get(s.key(id))
	return ok && fileOf(v) == file && v&validBit != 0
}

func fileOf(v uint64) int { return int(v >> fileShift & (1<<16 - 1)) }
