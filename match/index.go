package match

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"valise/schema"
)

// MaxEntities is how many entity records one Index holds.
const MaxEntities = 1<<24 - 1

// ErrTooMany is returned by Add past MaxEntities records.
var ErrTooMany = errors.New("too many records for one duplicate search")

// DefaultMaxBlock is the largest block compared pair by pair: a name key
// or identifier more common than that tells nothing apart and is skipped
// (the keys that add a birth year still pair such records).
const DefaultMaxBlock = 40

// DefaultMinScore is the score from which a pair is reported by default.
const DefaultMinScore = 0.7

// Index holds the features of records and finds likely duplicates among
// them. Add every record (links and identification documents too: a
// Passport adds its number to its holder, a judgement marks a pair), then
// call Pairs. An Index is not safe for concurrent use; Pairs uses several
// goroutines itself.
type Index struct {
	tokens    *tokenTable
	schemas   []string
	schemaIdx map[string]uint8
	chunks    [][]byte // encoded entities, one after the other, in chunks of chunkSize
	offs      []uint64 // where each entity starts: chunk<<chunkBits | position
	focus     []uint64 // bit set of entities added with AddIncoming
	scratch   []byte
	pending   []attachment
	extra     map[uint32][]ident
	judged    map[[2]string]Judgement
	maxBlock  int
	workers   int

	built    bool
	postings []uint64 // key<<idBits | entity, sorted
	stats    Stats
}

// Stats tell how much work a search did.
type Stats struct {
	Entities      int // records compared (persons, organisations, vehicles)
	Keys          int // blocking keys
	Blocks        int // distinct keys shared by two or more records
	SkippedBlocks int // of those, skipped as more common than the maximum block
	Compared      int // pairs scored
	Pairs         int // pairs at or above the minimum score
}

// Option configures an Index.
type Option func(*Index) error

// MaxBlock sets the largest block compared pair by pair (DefaultMaxBlock).
func MaxBlock(n int) Option {
	return func(ix *Index) error {
		if n < 2 {
			return fmt.Errorf("maximum block must be at least 2, not %d", n)
		}
		ix.maxBlock = n
		return nil
	}
}

// Workers sets how many goroutines score pairs (default GOMAXPROCS).
func Workers(n int) Option {
	return func(ix *Index) error {
		if n < 1 {
			return fmt.Errorf("workers must be at least 1, not %d", n)
		}
		ix.workers = n
		return nil
	}
}

// NewIndex returns an empty index.
func NewIndex(opts ...Option) (*Index, error) {
	ix := &Index{tokens: newTokenTable(), schemaIdx: map[string]uint8{},
		extra: map[uint32][]ident{}, judged: map[[2]string]Judgement{}, maxBlock: DefaultMaxBlock,
		workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		if err := o(ix); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// Len returns the number of entity records held.
func (ix *Index) Len() int { return len(ix.offs) }

// Add takes one record: an entity to compare, an identification document
// of one, or a judgement; other records are ignored. Records must not be
// added after Pairs was called.
func (ix *Index) Add(r *schema.Record) error { return ix.add(r, false) }

// AddIncoming takes a record like Add and marks it incoming: with
// PairOptions.OnlyIncoming, Pairs reports only pairs that hold one.
func (ix *Index) AddIncoming(r *schema.Record) error { return ix.add(r, true) }

func (ix *Index) add(r *schema.Record, incoming bool) error {
	if ix.built {
		return errors.New("match: record added after Pairs")
	}
	if j, ok := judgementOf(r); ok {
		ix.judged[j.pair] = j.Judgement
		return nil
	}
	if at := attachments(r); len(at) > 0 {
		ix.pending = append(ix.pending, at...)
		return nil
	}
	f, ok := extract(r)
	if !ok {
		return nil
	}
	if len(ix.offs) >= MaxEntities {
		return fmt.Errorf("%w: more than %d", ErrTooMany, MaxEntities)
	}
	n := uint32(len(ix.offs))
	ix.scratch = ix.encode(ix.scratch[:0], f)
	ix.offs = append(ix.offs, ix.store(ix.scratch))
	if incoming {
		for len(ix.focus) <= int(n/64) {
			ix.focus = append(ix.focus, 0)
		}
		ix.focus[n/64] |= 1 << (n % 64)
	}
	return nil
}

// The arena grows by chunks, never by copying: its peak is what it holds.
const (
	chunkBits = 22
	chunkSize = 1 << chunkBits
)

// store appends an encoded entity to the arena and returns its offset.
func (ix *Index) store(b []byte) uint64 {
	last := len(ix.chunks) - 1
	if last < 0 || len(ix.chunks[last])+len(b) > chunkSize {
		ix.chunks = append(ix.chunks, make([]byte, 0, max(chunkSize, len(b))))
		last++
	}
	off := uint64(last)<<chunkBits | uint64(len(ix.chunks[last]))
	ix.chunks[last] = append(ix.chunks[last], b...)
	return off
}

func (ix *Index) incoming(n uint32) bool {
	return int(n/64) < len(ix.focus) && ix.focus[n/64]&(1<<(n%64)) != 0
}

// lookup decodes the entity whose id is id into e. Every entity is in
// the block of its id (see keys), so no map of ids is needed.
func (ix *Index) lookup(id string, e *entity) bool {
	for _, p := range ix.block(hashString('r', id)) {
		ix.decode(uint32(p&idMask), e)
		if e.id == id {
			return true
		}
	}
	return false
}

func (ix *Index) encode(dst []byte, f *features) []byte {
	si, ok := ix.schemaIdx[f.schema]
	if !ok {
		si = uint8(len(ix.schemas))
		ix.schemaIdx[f.schema] = si
		ix.schemas = append(ix.schemas, f.schema)
	}
	dst = putString(dst, f.id)
	dst = append(dst, si, byte(f.class), f.gender)
	dst = binary.AppendUvarint(dst, uint64(len(f.names)))
	for _, n := range f.names {
		dst = append(dst, n.flags)
		dst = putString(dst, n.raw)
		dst = binary.AppendUvarint(dst, uint64(len(n.toks)))
		for _, t := range n.toks {
			dst = binary.AppendUvarint(dst, uint64(ix.tokens.intern(t)))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.dates)))
	for _, d := range f.dates {
		dst = binary.AppendUvarint(dst, uint64(d.lo))
		dst = binary.AppendUvarint(dst, uint64(d.hi))
		dst = append(dst, byte(d.prec))
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.ids)))
	for _, x := range f.ids {
		dst = append(dst, byte(x.kind))
		dst = putString(dst, x.number)
		dst = putString(dst, x.country)
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.countries)))
	for _, c := range f.countries {
		dst = putString(dst, c)
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.refs)))
	for _, r := range f.refs {
		dst = putString(dst, r)
	}
	return dst
}

func putString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// entity is one decoded entity. Its strings point into the index's arena,
// which is never written again once encoded; its slices are reused by the
// next decode.
type entity struct {
	n         uint32
	id        string
	schema    string
	class     Class
	gender    byte
	names     []dname
	toks      []uint32
	dates     []span
	ids       []ident
	countries []string
	refs      []string
}

type dname struct {
	raw   []byte
	toks  []uint32
	flags byte
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[d.i:])
	d.i += n
	return v
}

func (d *decoder) byte() byte {
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) bytes() []byte {
	n := int(d.uvarint())
	s := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return s
}

func (d *decoder) string() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (ix *Index) decode(n uint32, e *entity) {
	o := ix.offs[n]
	d := decoder{b: ix.chunks[o>>chunkBits][o&(chunkSize-1):]}
	e.n = n
	e.id = d.string()
	e.schema = ix.schemas[d.byte()]
	e.class = Class(d.byte())
	e.gender = d.byte()
	e.names, e.toks = e.names[:0], e.toks[:0]
	type span2 struct{ lo, hi int }
	var starts [maxNames]span2
	nn := int(d.uvarint())
	for k := 0; k < nn; k++ {
		flags := d.byte()
		raw := d.bytes()
		nt := int(d.uvarint())
		lo := len(e.toks)
		for t := 0; t < nt; t++ {
			e.toks = append(e.toks, uint32(d.uvarint()))
		}
		starts[k] = span2{lo, len(e.toks)}
		e.names = append(e.names, dname{raw: raw, flags: flags})
	}
	for k := range e.names {
		e.names[k].toks = e.toks[starts[k].lo:starts[k].hi:starts[k].hi]
	}
	e.dates = e.dates[:0]
	for k, nd := 0, int(d.uvarint()); k < nd; k++ {
		lo, hi := int32(d.uvarint()), int32(d.uvarint())
		e.dates = append(e.dates, span{lo, hi, precision(d.byte())})
	}
	e.ids = e.ids[:0]
	for k, ni := 0, int(d.uvarint()); k < ni; k++ {
		kind := idKind(d.byte())
		num := d.string()
		e.ids = append(e.ids, ident{kind, num, d.string()})
	}
	if x, ok := ix.extra[n]; ok {
		e.ids = append(e.ids, x...)
	}
	e.countries = e.countries[:0]
	for k, nc := 0, int(d.uvarint()); k < nc; k++ {
		e.countries = append(e.countries, d.string())
	}
	e.refs = e.refs[:0]
	for k, nr := 0, int(d.uvarint()); k < nr; k++ {
		e.refs = append(e.refs, d.string())
	}
}

// Blocking keys are 64-bit FNV-1a hashes of what two records must share
// to be compared; postings keep keyBits of them beside a 24-bit entity
// number.
const (
	idBits  = 24
	keyBits = 64 - idBits
	idMask  = 1<<idBits - 1
)

func hashString(kind byte, s string) uint64 {
	h := uint64(14695981039346656037)
	h = (h ^ uint64(kind)) * 1099511628211
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func hashMore(h uint64, s string) uint64 {
	h = (h ^ 0xff) * 1099511628211
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func hashInt(h uint64, v int) uint64 {
	for i := 0; i < 4; i++ {
		h = (h ^ uint64(byte(v>>(8*i)))) * 1099511628211
	}
	return h
}

// maxBlockWords is how many words of one name make pair keys.
const maxBlockWords = 6

// keys returns the blocking keys of e: every pair of words of each name
// (by skeleton, in any order; the word itself for a one-word name), each
// also with every birth year the record allows; every identifier number;
// the record's id and its referents.
func (ix *Index) keys(e *entity, out []uint64) []uint64 {
	out = out[:0]
	for _, x := range e.ids {
		out = append(out, hashString('i', x.number))
	}
	out = append(out, hashString('r', e.id))
	for _, r := range e.refs {
		out = append(out, hashString('r', r))
	}
	var years [8]int
	ny := 0
	for _, d := range e.dates {
		lo, hi := int(d.lo/10000), int(d.hi/10000)
		if hi-lo > 6 {
			continue
		}
		for y := lo; y <= hi && ny < len(years); y++ {
			if !slices.Contains(years[:ny], y) {
				years[ny] = y
				ny++
			}
		}
	}
	var words [maxBlockWords]string
	for _, nm := range e.names {
		nw := 0
		for _, t := range nm.toks {
			k, ok := ix.tokens.blockKey(t)
			if !ok || slices.Contains(words[:nw], k) {
				continue
			}
			words[nw] = k
			nw++
			if nw == maxBlockWords {
				break
			}
		}
		add := func(h uint64) {
			out = append(out, h)
			for _, y := range years[:ny] {
				out = append(out, hashInt(h, y))
			}
		}
		if nw == 1 {
			add(hashString('s', words[0]))
		}
		for i := 0; i < nw; i++ {
			for j := i + 1; j < nw; j++ {
				a, b := words[i], words[j]
				if b < a {
					a, b = b, a
				}
				add(hashMore(hashString('p', a), b))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// build sorts the postings and resolves attachments. The postings are
// counted first and allocated once.
func (ix *Index) build() {
	if ix.built {
		return
	}
	ix.built = true
	var e entity
	var ks []uint64
	total := 0
	for n := range ix.offs {
		ix.decode(uint32(n), &e)
		total += len(ix.keys(&e, ks))
	}
	ix.postings = make([]uint64, 0, total+len(ix.pending))
	for n := range ix.offs {
		ix.decode(uint32(n), &e)
		ks = ix.keys(&e, ks)
		for _, k := range ks {
			ix.postings = append(ix.postings, k>>idBits<<idBits|uint64(n))
		}
	}
	slices.Sort(ix.postings)
	// A Passport or Identification adds its number to its holder, and a
	// key for it.
	added := false
	for _, a := range ix.pending {
		if ix.lookup(a.holder, &e) {
			ix.extra[e.n] = uniqueIdents(append(ix.extra[e.n], a.id))
			ix.postings = append(ix.postings, hashString('i', a.id.number)>>idBits<<idBits|uint64(e.n))
			added = true
		}
	}
	ix.pending = nil
	if added {
		slices.Sort(ix.postings)
		ix.postings = slices.Compact(ix.postings)
	}
	ix.stats.Entities = len(ix.offs)
	ix.stats.Keys = len(ix.postings)
	for i := 0; i < len(ix.postings); {
		j := i + 1
		for j < len(ix.postings) && ix.postings[j]>>idBits == ix.postings[i]>>idBits {
			j++
		}
		if j-i >= 2 {
			ix.stats.Blocks++
			if j-i > ix.maxBlock {
				ix.stats.SkippedBlocks++
			}
		}
		i = j
	}
}

// block returns the postings of key k.
func (ix *Index) block(k uint64) []uint64 {
	p := k >> idBits << idBits
	lo := sort.Search(len(ix.postings), func(i int) bool { return ix.postings[i] >= p })
	hi := lo
	for hi < len(ix.postings) && ix.postings[hi]>>idBits == k>>idBits {
		hi++
	}
	return ix.postings[lo:hi]
}

// PairOptions select the pairs Pairs reports.
type PairOptions struct {
	MinScore     float64 // report pairs scoring at least this (0 means DefaultMinScore)
	OnlyIncoming bool    // only pairs with a record added by AddIncoming
	// WithRejected also reports the pairs judged "not same".
	WithRejected bool
}

// found is a pair that scored at or above the minimum.
type found struct {
	a, b  uint32
	score float32
}

// Pairs finds the likely duplicates and calls fn for each, best first
// (then by the order in which the records were added). It returns what
// the search did.
func (ix *Index) Pairs(o PairOptions, fn func(*Pair) error) (Stats, error) {
	if o.MinScore == 0 {
		o.MinScore = DefaultMinScore
	}
	ix.build()
	stats := ix.stats
	results := make([][]found, ix.workers)
	compared := make([]int, ix.workers)
	var wg sync.WaitGroup
	for w := 0; w < ix.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results[w], compared[w] = ix.search(w, o)
		}(w)
	}
	wg.Wait()
	var all []found
	for w := range results {
		all = append(all, results[w]...)
		stats.Compared += compared[w]
		results[w] = nil
	}
	all = ix.addJudged(all, o)
	slices.SortFunc(all, func(x, y found) int {
		switch {
		case x.score != y.score:
			if x.score > y.score {
				return -1
			}
			return 1
		case x.a != y.a:
			return int(x.a) - int(y.a)
		}
		return int(x.b) - int(y.b)
	})
	stats.Pairs = len(all)
	s := &scorer{ix: ix}
	var ea, eb entity
	for _, f := range all {
		ix.decode(f.a, &ea)
		ix.decode(f.b, &eb)
		p := ix.pair(s, &ea, &eb)
		if err := fn(p); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// search scores the candidates of every workers-th entity, starting at w.
func (ix *Index) search(w int, o PairOptions) ([]found, int) {
	s := &scorer{ix: ix}
	var ea, eb entity
	var ks []uint64
	var cands []uint32
	var out []found
	compared := 0
	for n := uint32(w); int(n) < len(ix.offs); n += uint32(ix.workers) {
		inc := ix.incoming(n)
		if o.OnlyIncoming && !inc {
			continue
		}
		ix.decode(n, &ea)
		ks = ix.keys(&ea, ks)
		cands = cands[:0]
		for _, k := range ks {
			b := ix.block(k)
			if len(b) > ix.maxBlock {
				continue
			}
			for _, p := range b {
				m := uint32(p & idMask)
				// Each pair once: from its first record, or, when only
				// incoming records search, from its incoming one (the
				// first if both are).
				if m == n || (m < n && (!o.OnlyIncoming || ix.incoming(m))) {
					continue
				}
				cands = append(cands, m)
			}
		}
		slices.Sort(cands)
		cands = slices.Compact(cands)
		for _, m := range cands {
			ix.decode(m, &eb)
			if !compatible(ea.class, eb.class) {
				continue
			}
			compared++
			score, _ := s.compare(&ea, &eb, false)
			if len(ix.judged) > 0 {
				if j, ok := ix.judged[pairKey(ea.id, eb.id)]; ok {
					switch j.Verdict {
					case Same:
						score = 1
					case NotSame:
						if !o.WithRejected {
							continue
						}
					}
				}
			}
			if score >= o.MinScore {
				a, b := n, m
				if b < a {
					a, b = b, a
				}
				out = append(out, found{a, b, float32(score)})
			}
		}
	}
	return out, compared
}

// addJudged adds the pairs judged "same" that blocking did not find.
func (ix *Index) addJudged(all []found, o PairOptions) []found {
	if len(ix.judged) == 0 {
		return all
	}
	have := map[[2]uint32]bool{}
	for _, f := range all {
		have[[2]uint32{f.a, f.b}] = true
	}
	var ea, eb entity
	for pk, j := range ix.judged {
		if j.Verdict != Same || !ix.lookup(pk[0], &ea) || !ix.lookup(pk[1], &eb) {
			continue
		}
		if o.OnlyIncoming && !ix.incoming(ea.n) && !ix.incoming(eb.n) {
			continue
		}
		a, b := ea.n, eb.n
		if b < a {
			a, b = b, a
		}
		if !have[[2]uint32{a, b}] {
			all = append(all, found{a, b, 1})
		}
	}
	return all
}

// Party is one record of a pair, as the analyst sees it.
type Party struct {
	ID     string
	Schema string
	Name   string // the record's first name
}

// Pair is a likely duplicate: two records, a score from 0 to 1, and the
// evidence for and against.
type Pair struct {
	A, B      Party
	Score     float64
	Evidence  []Evidence
	Judgement *Judgement // nil when nobody judged the pair
}

func (ix *Index) pair(s *scorer, a, b *entity) *Pair {
	score, ev := s.compare(a, b, true)
	p := &Pair{A: party(a), B: party(b), Score: score, Evidence: ev}
	if j, ok := ix.judged[pairKey(a.id, b.id)]; ok {
		p.Judgement = &j
		w := 0.0
		if j.Verdict == Same {
			p.Score, w = 1, 1
		}
		text := fmt.Sprintf("judged %s by %s", j.Verdict, j.By)
		if j.Disputed {
			text += " (disputed: an open conflict holds another judgement)"
		}
		p.Evidence = append([]Evidence{{Kind: "judgement", Weight: w, Text: text}}, p.Evidence...)
	}
	if p.B.ID < p.A.ID {
		p.A, p.B = p.B, p.A
	}
	return p
}

func party(e *entity) Party {
	p := Party{ID: strings.Clone(e.id), Schema: e.schema}
	switch {
	case len(e.names) > 0:
		p.Name = string(e.names[0].raw)
	case len(e.ids) > 0:
		p.Name = e.ids[0].kind.String() + " " + e.ids[0].number
	}
	return p
}

// CountIncoming counts the likely duplicates (at DefaultMinScore, pairs
// judged "not same" left out) that hold a record whose id is in incoming,
// among every record each hands over: what an import reports of the
// records it brought.
func CountIncoming(each func(add func(*schema.Record) error) error, incoming map[string]bool) (int, error) {
	ix, err := NewIndex()
	if err != nil {
		return 0, err
	}
	err = each(func(r *schema.Record) error {
		if incoming[r.ID] {
			return ix.AddIncoming(r)
		}
		return ix.Add(r)
	})
	if err != nil {
		return 0, fmt.Errorf("reading records for the duplicate search: %w", err)
	}
	st, err := ix.Pairs(PairOptions{OnlyIncoming: true}, func(*Pair) error { return nil })
	return st.Pairs, err
}
