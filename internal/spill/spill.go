// Package spill is valise's one way of keeping more than fits in memory:
// a Sorter takes (key, value) entries in any order and hands them back in
// key order, holding at most a set number of bytes in memory and writing
// the rest as sorted runs to files in a directory the caller gives (the
// office home's temporary directory: what spills is plaintext and never
// goes beside a bundle on a courier's stick). Pack uses it to sort the
// records of a file, to remember what went in a bundle, and import to
// check the ends of links named before their records arrive.
//
// Entries with equal keys come back in the order they were added.
package spill

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// ErrClosed is returned by a Sorter used after Each or Close.
var ErrClosed = errors.New("spill: sorter already read or closed")

// DefaultLimit is the memory a Sorter holds by default before it spills.
const DefaultLimit = 32 << 20

// MaxEntry bounds one entry (key and value) read back from a run: a run
// file is the Sorter's own, but a damaged one must not make it allocate
// without limit.
const MaxEntry = 64 << 20

// Sorter sorts entries by key, spilling to files in its directory.
type Sorter struct {
	dir   string
	limit int
	arena []byte
	ents  []entry
	runs  []string
	seq   int
	done  bool
	err   error // sticky: a sorter that failed stays failed
}

type entry struct {
	key, val       int // offsets in arena
	keyLen, valLen int
}

// New returns a Sorter that holds up to limit bytes of entries in memory
// (DefaultLimit when limit ≤ 0) and spills runs to files in dir, which must
// exist. Close removes them.
func New(dir string, limit int) *Sorter {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Sorter{dir: dir, limit: limit}
}

// Add adds an entry; key and val are copied.
func (s *Sorter) Add(key, val []byte) error {
	if s.err != nil {
		return s.err
	}
	if s.done {
		return ErrClosed
	}
	if len(key)+len(val) > MaxEntry {
		return fmt.Errorf("spill: entry of %d bytes, at most %d", len(key)+len(val), MaxEntry)
	}
	if s.arena == nil {
		s.arena = make([]byte, 0, min(s.limit, 1<<20))
	}
	e := entry{key: len(s.arena), keyLen: len(key)}
	s.arena = append(s.arena, key...)
	e.val, e.valLen = len(s.arena), len(val)
	s.arena = append(s.arena, val...)
	s.ents = append(s.ents, e)
	if len(s.arena) >= s.limit {
		if err := s.spill(); err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// Len returns the number of entries held in memory (not yet spilled).
func (s *Sorter) Len() int { return len(s.ents) }

// Spilled reports whether any run was written to a file.
func (s *Sorter) Spilled() bool { return len(s.runs) > 0 }

func (s *Sorter) sortMem() {
	slices.SortStableFunc(s.ents, func(a, b entry) int {
		return bytes.Compare(s.arena[a.key:a.key+a.keyLen], s.arena[b.key:b.key+b.keyLen])
	})
}

// spill writes the entries in memory as a sorted run: uvarint key length,
// key, uvarint value length, value, for each entry.
func (s *Sorter) spill() error {
	if len(s.ents) == 0 {
		return nil
	}
	s.sortMem()
	name := filepath.Join(s.dir, fmt.Sprintf("run-%d-%p.spill", s.seq, s))
	s.seq++
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs, name)
	bw := bufio.NewWriterSize(f, 1<<20)
	var tmp [binary.MaxVarintLen64]byte
	for _, e := range s.ents {
		bw.Write(tmp[:binary.PutUvarint(tmp[:], uint64(e.keyLen))])
		bw.Write(s.arena[e.key : e.key+e.keyLen])
		bw.Write(tmp[:binary.PutUvarint(tmp[:], uint64(e.valLen))])
		bw.Write(s.arena[e.val : e.val+e.valLen])
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("spill: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.arena, s.ents = s.arena[:0], s.ents[:0]
	return nil
}

// Each calls fn with every entry in key order (equal keys in the order
// added), then releases the memory; key and val are valid only during the
// call. A Sorter is read once.
func (s *Sorter) Each(fn func(key, val []byte) error) error {
	if s.err != nil {
		return s.err
	}
	if s.done {
		return ErrClosed
	}
	s.done = true
	if len(s.runs) == 0 {
		s.sortMem()
		for _, e := range s.ents {
			if err := fn(s.arena[e.key:e.key+e.keyLen], s.arena[e.val:e.val+e.valLen]); err != nil {
				return err
			}
		}
		s.arena, s.ents = nil, nil
		return nil
	}
	if err := s.spill(); err != nil {
		return err
	}
	s.arena, s.ents = nil, nil
	return s.merge(fn)
}

// Close removes the run files. It is safe to call more than once.
func (s *Sorter) Close() error {
	s.done = true
	s.arena, s.ents = nil, nil
	var first error
	for _, name := range s.runs {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = err
		}
	}
	s.runs = nil
	return first
}

// run reads back one run file.
type run struct {
	i        int // its place in the order of runs: ties go to the earlier
	f        *os.File
	br       *bufio.Reader
	key, val []byte
}

func (r *run) next() (bool, error) {
	var err error
	if r.key, err = chunk(r.br, r.key, true); err == io.EOF {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if r.val, err = chunk(r.br, r.val, false); err != nil {
		return false, err
	}
	return true, nil
}

// chunk reads a uvarint length and that many bytes into buf.
func chunk(br *bufio.Reader, buf []byte, first bool) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err == io.EOF && first {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("spill: damaged run: %w", noEOF(err))
	}
	if n > MaxEntry {
		return nil, fmt.Errorf("spill: damaged run: entry of %d bytes", n)
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("spill: damaged run: %w", noEOF(err))
	}
	return buf, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

type runHeap []*run

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].i < h[j].i
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (s *Sorter) merge(fn func(key, val []byte) error) error {
	h := make(runHeap, 0, len(s.runs))
	defer func() {
		for _, r := range h {
			r.f.Close()
		}
	}()
	bufSize := max(64<<10, min(1<<20, (32<<20)/len(s.runs)))
	for i, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		r := &run{i: i, f: f, br: bufio.NewReaderSize(f, bufSize)}
		ok, err := r.next()
		if err != nil || !ok {
			f.Close()
			if err != nil {
				return err
			}
			continue
		}
		h = append(h, r)
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := fn(r.key, r.val); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			r.f.Close()
			heap.Pop(&h)
		}
	}
	return nil
}
