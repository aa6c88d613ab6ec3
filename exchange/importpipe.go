package exchange

import (
	"container/heap"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"valise/bundle"
	"valise/handling"
	"valise/merge"
	"valise/office"
	"valise/proof"
	"valise/schema"
	"valise/store"
)

// The records of a bundle being imported go through three goroutines:
//
//   - one reads them (decryption, decompression, parsing and the checks of
//     bundle.RecordReader) and hands them on in batches;
//   - one hashes each batch, reads what the store holds of it on the
//     store's second connection (store.HeldReader: the transaction has not
//     written these ids yet, so the last committed state is what it would
//     read) and merges;
//   - the import's own goroutine writes each batch in the import's
//     transaction.
//
// Bounded channels between them keep a few batches in memory, and the
// batches go through in bundle order, so that the first failure in the
// bundle is the one reported. Nothing commits before the reader has
// reached the verified end of the bundle.

const (
	// importBatch is the number of records handed on at once.
	importBatch = 512
	// queuedBatches is how many batches a goroutine may get ahead of the
	// next.
	queuedBatches = 1
)

// inBatch is a batch of records read from a bundle, in id order, and
// then what merging it gave.
type inBatch struct {
	recs   []*schema.Record
	lines  [][]byte // each record's canonical encoding, as it came
	proofs [][]byte // each record's proof line (package proof), nil when none
	keys   []schema.Key
	arena  []byte // holds the lines
	err    error  // why reading or merging stopped (never io.EOF); the records are not to be written

	// Made by resolve.
	hashes   []string // each record's content hash (schema.ContentHashOf, hex)
	puts     []store.Write
	known    []store.Known // what the sender holds: every record as it came
	counts   [merge.DeleteModify + 1]int
	recalled int // records this office may no longer hold, kept as recall stubs
	// recalledIDs names them, with who recalled them.
	recalledIDs []recallOf
	ignored     int // recalls of records this office may hold
	conflicts   []store.Conflict
	ends        []store.Endpoint // the ends of the live links, in order (Seq unset)
	// disclosed registers every record as it came, with what the import
	// made of it.
	disclosed []store.Disclosure
	// namesStubs registers the records written with content that name a
	// record held only as a recall stub when the import began (see
	// merger.stubNamers).
	namesStubs []store.Disclosure
}

func (b *inBatch) reset() {
	clear(b.recs)
	clear(b.lines)
	clear(b.proofs)
	clear(b.keys)
	clear(b.puts)
	clear(b.known)
	clear(b.conflicts)
	clear(b.ends)
	clear(b.disclosed)
	b.disclosed = b.disclosed[:0]
	clear(b.namesStubs)
	b.namesStubs = b.namesStubs[:0]
	b.recs, b.lines, b.keys, b.known, b.hashes = b.recs[:0], b.lines[:0], b.keys[:0], b.known[:0], b.hashes[:0]
	b.proofs = b.proofs[:0]
	b.puts, b.conflicts, b.ends = b.puts[:0], b.conflicts[:0], b.ends[:0]
	b.arena, b.err, b.counts = b.arena[:0], nil, [merge.DeleteModify + 1]int{}
	b.recalled, b.ignored = 0, 0
	b.recalledIDs = b.recalledIDs[:0]
}

func (b *inBatch) add(rec *schema.Record, line, proofLine []byte) {
	b.proofs = append(b.proofs, proofLine)
	if len(b.arena)+len(line) > cap(b.arena) {
		// A new arena: the lines already cut from the old one stay valid.
		b.arena = make([]byte, 0, max(256<<10, len(line)))
	}
	b.arena = append(b.arena, line...)
	b.recs = append(b.recs, rec)
	b.lines = append(b.lines, b.arena[len(b.arena)-len(line):len(b.arena):len(b.arena)])
	b.keys = append(b.keys, rec.Key())
}

// stage is one goroutine of the pipeline and the channel it hands its
// batches on by.
type stage struct {
	out  chan *inBatch
	done chan struct{}
	wg   sync.WaitGroup
}

func newStage() *stage {
	return &stage{out: make(chan *inBatch, queuedBatches), done: make(chan struct{})}
}

// send hands b on, unless the stage was stopped.
func (st *stage) send(b *inBatch) bool {
	select {
	case st.out <- b:
		return true
	case <-st.done:
		return false
	}
}

// pipeline is the reading and merging goroutines of one import.
type pipeline struct {
	read, resolve *stage
	free          chan *inBatch // batches written, for the reader to fill again
	skipped       int           // records not imported; read once resolve.out is closed
}

// startPipeline reads rr to its end and merges its records with what s
// holds; the batches come out of p.resolve.out. A carrier (a bundle
// signed by a key its own statement revokes) is read and checked, its
// records skipped.
func startPipeline(rr *bundle.RecordReader, carrier bool, s *store.Store, m *merger) (*pipeline, error) {
	hr, err := s.HeldReader()
	if err != nil {
		return nil, err
	}
	p := &pipeline{read: newStage(), resolve: newStage(), free: make(chan *inBatch, 2*queuedBatches+2)}
	p.read.wg.Add(1)
	go func() {
		defer p.read.wg.Done()
		defer close(p.read.out)
		b := p.batch()
		for {
			rec, line, err := rr.Next()
			if err == io.EOF {
				p.read.send(b)
				return
			}
			if err == nil && carrier {
				p.skipped++
				continue
			}
			if err != nil {
				b.err = err
				p.read.send(b)
				return
			}
			b.add(rec, line, rr.Proof())
			if len(b.recs) == importBatch {
				if !p.read.send(b) {
					return
				}
				b = p.batch()
			}
		}
	}()
	p.resolve.wg.Add(1)
	go func() {
		defer p.resolve.wg.Done()
		defer close(p.resolve.out)
		defer hr.Close()
		for b := range p.read.out {
			if b.err == nil {
				b.err = m.resolve(hr, b)
			}
			if !p.resolve.send(b) || b.err != nil {
				return
			}
		}
	}()
	return p, nil
}

func (p *pipeline) batch() *inBatch {
	select {
	case b := <-p.free:
		b.reset()
		return b
	default:
		return &inBatch{}
	}
}

// recycle hands a batch that was written back to the reader.
func (p *pipeline) recycle(b *inBatch) {
	select {
	case p.free <- b:
	default:
	}
}

// stop ends both goroutines and waits for them.
func (p *pipeline) stop() {
	close(p.read.done)
	close(p.resolve.done)
	p.read.wg.Wait()
	p.resolve.wg.Wait()
}

// merger merges and writes the batches of one import.
type merger struct {
	o       *office.Office
	tx      *store.Tx
	rep     *ImportReport
	c       store.Change
	now     string
	created time.Time // the bundle's, for the handling rules
	auth    *authorship
	stubs   bool // the store holds recall stubs
	ends    endpoints
	recalls []recallOf // the records this import recalled, for recallDependents
	// namesStubs: the records written with content that named a stub
	// (inBatch.namesStubs), for stubNamers.
	namesStubs []store.Disclosure
}

// recallOf is a record an import recalled.
type recallOf struct{ id, by string }

// recallDependents recalls what this office holds that names a record the
// import recalled: a link or a passport is no use without its end, and
// would tell of a record this office may no longer hold.
func (m *merger) recallDependents() error {
	for len(m.recalls) > 0 {
		n := min(len(m.recalls), store.BatchSize)
		batch := m.recalls[:n]
		m.recalls = m.recalls[n:]
		by := map[string]string{}
		ids := make([]string, n)
		for i, r := range batch {
			ids[i], by[r.id] = r.id, r.by
		}
		keys, err := m.tx.Dependents(ids)
		if err != nil {
			return err
		}
		held, err := m.tx.HeldMany(keys)
		if err != nil {
			return err
		}
		var ws []store.Write
		for _, hs := range held {
			if hs == nil {
				continue
			}
			r, err := hs.Record()
			if err != nil {
				return err
			}
			if r.Recalled != nil {
				continue
			}
			who := r.Origin
			for _, id := range r.Refs() {
				if b, ok := by[id]; ok {
					who = b
				}
			}
			ws = append(ws, store.Write{Rec: r.Stub(who, r.Version.At), Held: hs, Purge: true})
			m.recalls = append(m.recalls, recallOf{r.ID, who})
		}
		m.rep.Recalled += len(ws)
		if err := m.tx.Apply(m.c, ws, nil); err != nil {
			return err
		}
	}
	return nil
}

// stubWrite is the write that replaces the record held (hs) by the recall
// stub of r, recalled by by at at, purging its content, with the claims
// of r that still prove what the stub holds (its handling).
func stubWrite(r *schema.Record, by, at string, claims []proof.Claim, hs *store.Stored) store.Write {
	stub := r.Stub(by, at)
	var sc []proof.Claim
	for _, c := range claims {
		if c2, ok := proof.Carry(r, stub, c); ok {
			sc = append(sc, c2)
		}
	}
	return store.Write{Rec: stub, Held: hs, Purge: true, Claims: proof.MarshalClaims(sc)}
}

// stubNamers makes a recall stub of each record the import wrote with
// content that names a record held only as a stub, now that every record
// is written: the import may have brought content for the record named,
// before or after the one naming it. The stub is the one resolve makes of
// a record this office may no longer hold.
func (m *merger) stubNamers() error {
	for len(m.namesStubs) > 0 {
		n := min(len(m.namesStubs), store.BatchSize)
		batch := m.namesStubs[:n]
		m.namesStubs = m.namesStubs[n:]
		keys := make([]schema.Key, n)
		for i, d := range batch {
			keys[i] = d.Key
		}
		held, err := m.tx.HeldMany(keys)
		if err != nil {
			return err
		}
		recs := make([]*schema.Record, n)
		var ids []string
		for i, hs := range held {
			if hs == nil || hs.Recalled {
				continue
			}
			if recs[i], err = hs.Record(); err != nil {
				return err
			}
			ids = append(ids, recs[i].Refs()...)
		}
		only, err := m.tx.StubbedIDs(ids)
		if err != nil {
			return err
		}
		var ws []store.Write
		var ds []store.Disclosure
		for i, r := range recs {
			if r == nil || !slices.ContainsFunc(r.Refs(), func(id string) bool { return only[id] }) {
				continue
			}
			var cs []proof.Claim
			if len(held[i].Claims) > 0 {
				if cs, err = proof.ParseClaims(held[i].Claims); err != nil {
					return fmt.Errorf("store record %s: %w", r.Key(), err)
				}
			}
			ws = append(ws, stubWrite(r, r.Origin, r.Version.At, cs, held[i]))
			m.recalls = append(m.recalls, recallOf{r.ID, r.Origin})
			d := batch[i]
			d.Outcome = "recalled"
			ds = append(ds, d)
		}
		m.rep.Recalled += len(ws)
		if err := m.tx.Apply(m.c, ws, nil); err != nil {
			return err
		}
		if err := m.tx.Disclose(m.c.Bundle, ds); err != nil {
			return err
		}
	}
	return nil
}

// resolve hashes a batch and merges it with what the store holds. It runs
// on the merging goroutine and reads the store through hr only.
func (m *merger) resolve(hr *store.HeldReader, b *inBatch) error {
	if len(b.recs) == 0 {
		return nil
	}
	for i, line := range b.lines {
		sum, err := schema.ContentHashOf(line)
		if err != nil {
			return fmt.Errorf("record %s: %w", schema.Printable(b.keys[i].String()), err)
		}
		vh := schema.VersionHash(line)
		b.known = append(b.known, store.Known{Key: b.keys[i], VHash: vh})
		b.hashes = append(b.hashes, hex.EncodeToString(sum[:]))
		b.disclosed = append(b.disclosed, store.Disclosure{Key: b.keys[i], VHash: vh,
			Version: store.VectorString(b.recs[i].Version.Vector)})
	}
	// The held body is needed only when the vectors do not settle the
	// case (see mergeStored), and for a recall stub (see coversStub).
	held, err := hr.HeldMany(b.keys, func(i int, hs *store.Stored) bool {
		o := merge.Compare(b.recs[i].Version.Vector, hs.Vector)
		return o == merge.Equal || o == merge.Concurrent || hs.Recalled
	})
	if err != nil {
		return err
	}
	agency := m.o.Agency()
	// Content that names records this office holds only as recall stubs
	// stays a stub itself (a passport of a recalled person), unless the
	// import brings content for them too: decided once every record is
	// written (stubNamers).
	stubbed := func(*schema.Record) bool { return false }
	if m.stubs {
		var ids []string
		for _, r := range b.recs {
			ids = append(ids, r.Refs()...)
		}
		only, err := hr.StubbedIDs(ids)
		if err != nil {
			return err
		}
		stubbed = func(r *schema.Record) bool {
			for _, id := range r.Refs() {
				if only[id] {
					return r.Recalled == nil
				}
			}
			return false
		}
	}
	for i, rec := range b.recs {
		hs := held[i]
		// Every version is its authors', checked before anything else
		// (and for every record, so that the sender's tree comes out
		// whole).
		var heldSelf uint64
		if hs != nil {
			heldSelf = hs.Vector[agency]
		}
		claims, err := m.auth.record(rec, b.proofs[i], heldSelf)
		if err != nil {
			return err
		}
		switch {
		case rec.Recalled == nil:
			// The whole rule, as the sender should have applied it: a
			// bundle that carries a record this office may not receive
			// from its sender is refused whole.
			if ok, why := handling.Releasable(rec, m.c.Agency, agency, m.created); !ok {
				return &bundle.Error{Check: "handling", Kind: bundle.ErrContent,
					Msg: fmt.Sprintf("record %s may not come to %s from %s (%s): the sender broke its originator's rules", rec.Key(), agency, m.c.Agency, why)}
			}
		case mayHold(rec, agency):
			// A recall of a record this office may hold under the
			// handling the recall carries: there is nothing to purge.
			b.ignored++
			b.disclosed[i].Outcome = "recall ignored"
			continue
		}
		// The type of a record changes only in a version that descends
		// from the one held (its origin re-mapped it: a new edition of a
		// list): concurrent versions of two types are refused.
		if hs != nil && hs.Schema != rec.Schema && merge.Compare(rec.Version.Vector, hs.Vector) != merge.After {
			return &bundle.Error{Check: "record", Kind: bundle.ErrContent,
				Msg: fmt.Sprintf("record %s is a %s here but a %s in the bundle", schema.Printable(rec.ID), hs.Schema, rec.Schema)}
		}
		if s, ok := schema.Get(rec.Schema); ok && s.Link && !rec.Deleted {
			for _, p := range []string{s.Source, s.Target} {
				if p == "" {
					continue
				}
				for _, v := range rec.Properties[p] {
					b.ends = append(b.ends, store.Endpoint{Link: rec.ID, Target: v})
				}
			}
		}
		var res merge.Result
		covers := false
		if hs != nil && hs.Recalled && rec.Recalled == nil {
			if covers, err = coversStub(rec, hs, agency); err != nil {
				return err
			}
		}
		if covers {
			// Content for a record held as a recall stub, which has seen
			// every change the stub still holds (its handling): the stub
			// holds nothing else, so the version that comes is taken as
			// it is (the stub's vector would claim to have seen, and
			// dropped, what it only purged; changes it counts and the
			// content lacks come again from whoever holds them). This office's own
			// count stays what it was, so that its next change takes a
			// new stamp.
			r := rec
			if hs.Vector[agency] > rec.Version.Vector[agency] {
				r = rec.Clone()
				r.Version.Vector[agency] = hs.Vector[agency]
			}
			res = merge.Result{Kind: merge.Updated, Record: r}
		} else if hs == nil {
			res = merge.Merge(nil, rec)
		} else if r, ok := merge.Quick(hs.Vector, hs.Body, rec, b.lines[i]); ok {
			res = r
		} else {
			held, err := hs.Record()
			if err != nil {
				return err
			}
			res = merge.Merge(held, rec)
		}
		if rec.Recalled != nil && hs != nil && !hs.Recalled && res.Record != nil && mayHold(res.Record, agency) {
			// A recall concurrent with the content held, which this
			// office may still hold under both handlings together (the
			// origin widened it again, and the recall has not seen that):
			// there is nothing to purge, and a stub's missing properties
			// are no change to merge. The narrowing it carries comes
			// with the content, once its sender may send that.
			b.ignored++
			b.disclosed[i].Outcome = "recall ignored"
			continue
		}
		b.counts[res.Kind]++
		b.disclosed[i].Outcome = res.Kind.String()
		if res.Record == nil {
			continue
		}
		rc, err := resultClaims(agency, res.Record, rec, claims, hs)
		if err != nil {
			return err
		}
		if !mayHold(res.Record, agency) || (res.Record.Recalled != nil && rec.Recalled != nil) {
			// This office may no longer hold the record: it keeps the
			// recall stub, and nothing of what the record said.
			// The stub of a version is the same wherever it is made.
			by, at := res.Record.Origin, res.Record.Version.At
			if rec.Recalled != nil {
				by, at = rec.Recalled.By, rec.Recalled.At
			}
			b.puts = append(b.puts, stubWrite(res.Record, by, at, rc, hs))
			b.recalled++
			b.disclosed[i].Outcome = "recalled"
			b.recalledIDs = append(b.recalledIDs, recallOf{rec.ID, by})
			continue
		}
		if res.Record.Recalled != nil {
			// Content this office may hold came back to a stub.
			res.Record = res.Record.Clone()
			res.Record.Recalled = nil
		}
		p := store.Write{Rec: res.Record, Held: hs, Claims: proof.MarshalClaims(rc)}
		if res.Record == rec {
			// As it came: already canonical, its hash already made.
			p.Body, p.Hash = b.lines[i], b.hashes[i]
		}
		b.puts = append(b.puts, p)
		if stubbed(res.Record) {
			b.namesStubs = append(b.namesStubs, b.disclosed[i])
		}
		for _, pc := range res.Conflicts {
			b.conflicts = append(b.conflicts, store.Conflict{Key: rec.Key(), Property: pc.Property,
				Candidates: pc.Candidates, Bundle: m.c.Bundle, At: m.now})
		}
	}
	return nil
}

// write writes a merged batch in the import's transaction.
func (m *merger) write(b *inBatch) error {
	if len(b.recs) == 0 {
		return nil
	}
	for k, n := range b.counts {
		if n > 0 {
			m.rep.Counts[merge.Kind(k)] += n
		}
	}
	m.rep.Recalled += b.recalled
	m.rep.RecallsIgnored += b.ignored
	m.recalls = append(m.recalls, b.recalledIDs...)
	m.namesStubs = append(m.namesStubs, b.namesStubs...)
	for _, c := range b.conflicts {
		if len(m.rep.Conflicts) == MaxListed {
			m.rep.MoreConflicts++
			continue
		}
		m.rep.Conflicts = append(m.rep.Conflicts, c)
	}
	for _, e := range b.ends {
		m.ends.add(e.Link, e.Target)
	}
	if err := m.tx.Apply(m.c, b.puts, b.known); err != nil {
		return err
	}
	if err := m.tx.Disclose(m.c.Bundle, b.disclosed); err != nil {
		return err
	}
	if leaves := m.auth.takeLeaves(); leaves != nil {
		if err := m.tx.AddTreeLeaves(m.auth.sender, m.auth.treeID, leaves); err != nil {
			return err
		}
	}
	for _, p := range b.puts {
		switch {
		case m.rep.DuplicatesSkipped:
		case len(m.rep.changed) >= MaxImportDuplicateCheck:
			m.rep.changed, m.rep.DuplicatesSkipped = nil, true
		default:
			m.rep.changed[p.Rec.ID] = true
		}
	}
	// Every record up to the batch's last id is now as the import leaves
	// it: the links to those can be checked.
	return m.ends.passed(m.tx, b.keys[len(b.keys)-1].ID)
}

// maxPending bounds the link endpoints an import keeps in memory while
// waiting for the records they name; beyond it they wait in a temporary
// table of the store. (A variable for the tests.)
var maxPending = 1 << 17

// endpoints finds the links of an import whose ends are not held. An end
// can be checked once the import has passed its id: records arrive in id
// order, so nothing after that changes whether it is held. The ends named
// before that wait, in order of the id they name, and the ends found
// unknown are kept in the order the links came, the first MaxListed of
// them.
type endpoints struct {
	seq     int64
	pending endpointHeap // ends ahead of the import, nearest first
	ready   []store.Endpoint
	unknown []store.Endpoint
	more    int
	last    string // the last id the import has passed
	targets []string
}

func (e *endpoints) add(link, target string) {
	e.seq++
	ep := store.Endpoint{Seq: e.seq, Link: link, Target: target}
	if e.last != "" && target <= e.last {
		e.ready = append(e.ready, ep)
		return
	}
	// It outlives the batch: a copy, not a cut of the record's line.
	ep.Link, ep.Target = strings.Clone(link), strings.Clone(target)
	heap.Push(&e.pending, ep)
}

// passed checks the ends named up to id, which the import has now passed.
func (e *endpoints) passed(tx *store.Tx, id string) error {
	e.last = id
	for len(e.pending) > 0 && e.pending[0].Target <= id {
		e.ready = append(e.ready, heap.Pop(&e.pending).(store.Endpoint))
	}
	if err := e.check(tx); err != nil {
		return err
	}
	if len(e.pending) > maxPending {
		// Out of memory with them, nearest first: the query that reads
		// them back then looks the targets up in order.
		spill := make([]store.Endpoint, 0, len(e.pending))
		for len(e.pending) > 0 {
			spill = append(spill, heap.Pop(&e.pending).(store.Endpoint))
		}
		e.pending = nil
		return tx.SpillEndpoints(spill)
	}
	return nil
}

// check looks up the targets of the ready ends, in id order.
func (e *endpoints) check(tx *store.Tx) error {
	if len(e.ready) == 0 {
		return nil
	}
	e.targets = e.targets[:0]
	for _, ep := range e.ready {
		e.targets = append(e.targets, ep.Target)
	}
	slices.Sort(e.targets)
	e.targets = slices.Compact(e.targets)
	live, err := tx.Live(e.targets)
	if err != nil {
		return err
	}
	for _, ep := range e.ready {
		if !live[ep.Target] {
			e.found(ep)
		}
	}
	clear(e.ready)
	e.ready = e.ready[:0]
	return nil
}

// found keeps an unknown end, the first MaxListed in link order.
func (e *endpoints) found(ep store.Endpoint) {
	ep.Link, ep.Target = strings.Clone(ep.Link), strings.Clone(ep.Target)
	e.unknown = append(e.unknown, ep)
	if len(e.unknown) >= 2*MaxListed {
		e.trim()
	}
}

func (e *endpoints) trim() {
	slices.SortFunc(e.unknown, func(a, b store.Endpoint) int { return int(a.Seq - b.Seq) })
	if len(e.unknown) > MaxListed {
		e.more += len(e.unknown) - MaxListed
		clear(e.unknown[MaxListed:])
		e.unknown = e.unknown[:MaxListed]
	}
}

// finish checks the ends still waiting, once every record is written.
func (e *endpoints) finish(tx *store.Tx) error {
	for len(e.pending) > 0 {
		e.ready = append(e.ready, heap.Pop(&e.pending).(store.Endpoint))
	}
	if err := e.check(tx); err != nil {
		return err
	}
	return tx.UnknownSpilled(func(ep store.Endpoint) error {
		e.found(ep)
		return nil
	})
}

// report returns the unknown ends as "link -> target", in link order, and
// how many more were found.
func (e *endpoints) report() ([]string, int) {
	e.trim()
	var out []string
	for _, ep := range e.unknown {
		out = append(out, ep.Link+" -> "+ep.Target)
	}
	return out, e.more
}

// endpointHeap orders waiting ends by the id they name.
type endpointHeap []store.Endpoint

func (h endpointHeap) Len() int           { return len(h) }
func (h endpointHeap) Less(i, j int) bool { return h[i].Target < h[j].Target }
func (h endpointHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endpointHeap) Push(x any)        { *h = append(*h, x.(store.Endpoint)) }
func (h *endpointHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = store.Endpoint{}
	*h = old[:len(old)-1]
	return x
}

// resultClaims returns the claims of the authors (but self) of res, the
// version an import writes: the incoming version's claims when res is it,
// else, for each author, the claim of the side whose count of that
// author's changes res takes, carried over to res.
func resultClaims(self string, res, in *schema.Record, inClaims []proof.Claim, hs *store.Stored) ([]proof.Claim, error) {
	if res == in {
		return inClaims, nil
	}
	var held *schema.Record
	var heldClaims []proof.Claim
	if hs != nil {
		var err error
		if held, err = hs.Record(); err != nil {
			return nil, err
		}
		if hs.Claims != nil {
			if heldClaims, err = proof.ParseClaims(hs.Claims); err != nil {
				return nil, fmt.Errorf("record %s: its stored claims: %w", res.Key(), err)
			}
		}
	}
	find := func(cs []proof.Claim, a string) (proof.Claim, bool) {
		for _, c := range cs {
			if c.Author == a {
				return c, true
			}
		}
		return proof.Claim{}, false
	}
	var out []proof.Claim
	for a := range res.Version.Vector {
		if a == self {
			continue
		}
		if c, ok := find(inClaims, a); ok {
			if c2, ok := proof.Carry(in, res, c); ok {
				out = append(out, c2)
				continue
			}
		}
		if c, ok := find(heldClaims, a); ok && held != nil {
			if c2, ok := proof.Carry(held, res, c); ok {
				out = append(out, c2)
			}
		}
	}
	return out, nil
}

// coversStub reports whether rec has seen every change whose result the
// recall stub hs still holds — the stamps of its handling, candidates
// included — but this office's own (which the recall purged). A stub
// holds nothing else of the record: what its vector counts beyond those
// stamps it only purged.
func coversStub(rec *schema.Record, hs *store.Stored, self string) (bool, error) {
	stub, err := hs.Record()
	if err != nil {
		return false, err
	}
	seen := func(dot string) (bool, error) {
		a, n, err := schema.ParseDot(dot)
		if err != nil {
			return false, fmt.Errorf("store holds a malformed stamp %q: %w", dot, err)
		}
		return a == self || rec.Version.Vector[a] >= n, nil
	}
	for _, d := range stub.Version.Props {
		if ok, err := seen(d); !ok || err != nil {
			return false, err
		}
	}
	for _, alts := range stub.Version.Alts {
		for _, alt := range alts {
			if ok, err := seen(alt.Dot); !ok || err != nil {
				return false, err
			}
		}
	}
	return true, nil
}
