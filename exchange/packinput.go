package exchange

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
	"time"
	"valise/office"

	"valise/bundle"
	"valise/formats"
	"valise/merge"
	"valise/schema"
)

// PackInput is a record file that Pack packs instead of the store's
// records (valise pack --input): every record is validated, stamped with a
// first version by this office, and written in id order, whatever the
// order of the file. Memory stays bounded: records are sorted in runs of
// at most SortBuffer bytes, written to a temporary directory beside the
// output when there is more than one run, and merged from there.
type PackInput struct {
	Name   string    // the file's name, for messages and format detection
	R      io.Reader // its content
	Format string    // "" to detect it (formats.Detect)
	// Problem, when not nil, is told of every invalid item as it is read;
	// one or more make Pack fail after the whole file has been read.
	Problem func(*formats.Problem)
	// SortBuffer bounds the records held in memory at once, in bytes of
	// canonical JSON; 0 means DefaultSortBuffer.
	SortBuffer int
}

// DefaultSortBuffer is PackInput's default sort buffer: runs of 48 MiB keep
// pack --input well under its 200 MiB budget with the reader, the
// compressor and the encryption in flight.
const DefaultSortBuffer = 48 << 20

// sortedRun is a batch of canonical records held in memory: one arena and
// an index into it.
type sortedRun struct {
	arena []byte
	ents  []runEntry
}

type runEntry struct {
	line          int
	id, rec       int // offsets in arena
	idLen, recLen int
}

func (s *sortedRun) id(e *runEntry) []byte  { return s.arena[e.id : e.id+e.idLen] }
func (s *sortedRun) rec(e *runEntry) []byte { return s.arena[e.rec : e.rec+e.recLen] }

func (s *sortedRun) add(line int, id string, canon []byte) {
	e := runEntry{line: line, id: len(s.arena), idLen: len(id)}
	s.arena = append(s.arena, id...)
	e.rec, e.recLen = len(s.arena), len(canon)
	s.arena = append(s.arena, canon...)
	s.ents = append(s.ents, e)
}

func (s *sortedRun) sort() {
	slices.SortFunc(s.ents, func(a, b runEntry) int {
		return bytes.Compare(s.arena[a.id:a.id+a.idLen], s.arena[b.id:b.id+b.idLen])
	})
}

// spill writes the sorted run to a file of entries: uvarint line, uvarint
// id length, id, uvarint record length, record.
func (s *sortedRun) spill(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var tmp [3 * binary.MaxVarintLen64]byte
	for i := range s.ents {
		e := &s.ents[i]
		n := binary.PutUvarint(tmp[:], uint64(e.line))
		n += binary.PutUvarint(tmp[n:], uint64(e.idLen))
		bw.Write(tmp[:n])
		bw.Write(s.id(e))
		n = binary.PutUvarint(tmp[:], uint64(e.recLen))
		bw.Write(tmp[:n])
		bw.Write(s.rec(e))
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runReader reads back a spilled run.
type runReader struct {
	br   *bufio.Reader
	f    *os.File
	line int
	id   []byte
	rec  []byte
}

func (r *runReader) next() (bool, error) {
	line, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.line = int(line)
	if r.id, err = readChunk(r.br, r.id); err != nil {
		return false, err
	}
	if r.rec, err = readChunk(r.br, r.rec); err != nil {
		return false, err
	}
	return true, nil
}

func readChunk(br *bufio.Reader, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, unexpected(err)
	}
	if n > schema.MaxRecordBytes {
		return nil, errors.New("sort run damaged: entry too large")
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, unexpected(err)
	}
	return buf, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// runHeap orders the heads of the runs being merged by id.
type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].id, h[j].id) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// inputBatch is what the reading goroutine hands to the encoding one.
type inputBatch struct {
	lines []int
	recs  []*schema.Record
}

// packInput reads in, and writes its records to w in id order, skipping
// those a recipient may not receive (counted in rep.Withheld).
func packInput(o *office.Office, in *PackInput, w *bundle.Writer, dir string, to []string, today time.Time, rep *PackReport) error {
	limit := in.SortBuffer
	if limit <= 0 {
		limit = DefaultSortBuffer
	}
	stamp := today.UTC().Format("2006-01-02T15:04:05Z")

	// Stage 1, in its own goroutine: read, decode and validate.
	batches := make(chan inputBatch, 4)
	var problems int
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		defer close(batches)
		var b inputBatch
		send := func() bool {
			select {
			case batches <- b:
				b = inputBatch{lines: make([]int, 0, 256), recs: make([]*schema.Record, 0, 256)}
				return true
			case <-stop:
				return false
			}
		}
		errStopped := errors.New("stopped")
		_, err := formats.Stream(in.Name, in.R, formats.Options{Format: in.Format, Origin: o.Agency(),
			Handling: schema.Handling{TLP: "amber"}}, func(it formats.Item) error {
			switch {
			case it.Problem != nil:
				problems++
				if in.Problem != nil {
					in.Problem(it.Problem)
				}
			case it.Delete != "":
				problems++
				if in.Problem != nil {
					in.Problem(&formats.Problem{File: in.Name, Line: it.Line, ID: it.Delete,
						Rule: "a tombstone: pack --input packs records; delete a held record with valise delete"})
				}
			case problems == 0:
				b.lines = append(b.lines, it.Line)
				b.recs = append(b.recs, it.Record)
				if len(b.recs) == cap(b.recs) && !send() {
					return errStopped
				}
			}
			return nil
		})
		if err == nil && len(b.recs) > 0 {
			send()
		}
		if err == errStopped {
			err = nil
		}
		readErr <- err
	}()
	defer func() {
		close(stop)
		for range batches {
		}
	}()

	// Stage 2, here: stamp, check the handling, encode, sort in runs.
	run := sortedRun{arena: make([]byte, 0, limit+schema.MaxRecordBytes+64)}
	var (
		runFiles []string
		sortDir  string
		canon    []byte
	)
	defer func() {
		if sortDir != "" {
			os.RemoveAll(sortDir)
		}
	}()
	for b := range batches {
		for i, r := range b.recs {
			merge.Stamp(r, o.Agency(), stamp)
			if !rep.releasable(r, o.Agency(), to, today) {
				continue
			}
			canon = r.AppendCanonical(canon[:0])
			if len(canon) > schema.MaxRecordBytes {
				return fmt.Errorf("%s:%d: record %s: canonical form larger than %d bytes", schema.Printable(in.Name), b.lines[i], r.ID, schema.MaxRecordBytes)
			}
			run.add(b.lines[i], r.ID, canon)
			if len(run.arena) >= limit {
				run.sort()
				if sortDir == "" {
					var err error
					if sortDir, err = os.MkdirTemp(dir, ".valise-pack-*.sort"); err != nil {
						return fmt.Errorf("sorting the input: %w", err)
					}
				}
				name := filepath.Join(sortDir, fmt.Sprintf("run-%04d", len(runFiles)))
				if err := run.spill(name); err != nil {
					return fmt.Errorf("sorting the input: %w", err)
				}
				runFiles = append(runFiles, name)
				run.arena, run.ents = run.arena[:0], run.ents[:0]
			}
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if problems > 0 {
		return fmt.Errorf("%s: %d invalid records; nothing packed: %w", schema.Printable(in.Name), problems, schema.ErrInvalid)
	}
	run.sort()

	// Stage 3: merge the runs into the bundle, refusing duplicate ids.
	var (
		prevID   []byte
		prevLine int
		have     bool
	)
	write := func(line int, id, rec []byte) error {
		if have && bytes.Equal(id, prevID) {
			return fmt.Errorf("%s: record %s appears twice in the input (lines %d and %d): %w", schema.Printable(in.Name),
				schema.Printable(string(id)), min(prevLine, line), max(prevLine, line), schema.ErrInvalid)
		}
		prevID, prevLine, have = append(prevID[:0], id...), line, true
		return w.WriteCanonical(rec)
	}
	if len(runFiles) == 0 {
		for i := range run.ents {
			e := &run.ents[i]
			if err := write(e.line, run.id(e), run.rec(e)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(run.ents) > 0 {
		name := filepath.Join(sortDir, fmt.Sprintf("run-%04d", len(runFiles)))
		if err := run.spill(name); err != nil {
			return fmt.Errorf("sorting the input: %w", err)
		}
		runFiles = append(runFiles, name)
	}
	run = sortedRun{} // let the buffer go before merging
	return mergeRuns(runFiles, w, func(line int, id []byte) error {
		if have && bytes.Equal(id, prevID) {
			return fmt.Errorf("%s: record %s appears twice in the input (lines %d and %d): %w", schema.Printable(in.Name),
				schema.Printable(string(id)), min(prevLine, line), max(prevLine, line), schema.ErrInvalid)
		}
		prevID, prevLine, have = append(prevID[:0], id...), line, true
		return nil
	})
}

// lineBlock carries merged records from mergeRuns' reading goroutine to
// the writer: canonical lines back to back, and where each ends.
type lineBlock struct {
	data []byte
	ends []int
}

const lineBlockSize = 1 << 20

// mergeRuns merges the sorted run files into w in id order. One goroutine
// reads the runs and picks the next record (check approves each id first),
// the caller's writes it (compression, encryption): the two overlap.
func mergeRuns(runFiles []string, w *bundle.Writer, check func(line int, id []byte) error) error {
	blocks := make(chan lineBlock, 2)
	free := make(chan lineBlock, 3)
	for range 3 {
		free <- lineBlock{data: make([]byte, 0, lineBlockSize+schema.MaxRecordBytes), ends: make([]int, 0, 4096)}
	}
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(blocks)
		errc <- func() error {
			h := make(runHeap, 0, len(runFiles))
			defer func() {
				for _, r := range h {
					r.f.Close()
				}
			}()
			bufSize := max(64<<10, min(1<<20, (32<<20)/len(runFiles)))
			for _, name := range runFiles {
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("sorting the input: %w", err)
				}
				r := &runReader{f: f, br: bufio.NewReaderSize(f, bufSize)}
				ok, err := r.next()
				if err != nil {
					f.Close()
					return fmt.Errorf("sorting the input: %s: %w", name, err)
				}
				if !ok {
					f.Close()
					continue
				}
				h = append(h, r)
			}
			heap.Init(&h)
			blk := <-free
			for len(h) > 0 {
				r := h[0]
				if err := check(r.line, r.id); err != nil {
					return err
				}
				blk.data = append(blk.data, r.rec...)
				blk.ends = append(blk.ends, len(blk.data))
				if len(blk.data) >= lineBlockSize {
					select {
					case blocks <- blk:
					case <-stop:
						return nil
					}
					select {
					case blk = <-free:
					case <-stop:
						return nil
					}
					blk.data, blk.ends = blk.data[:0], blk.ends[:0]
				}
				ok, err := r.next()
				if err != nil {
					return fmt.Errorf("sorting the input: %w", err)
				}
				if ok {
					heap.Fix(&h, 0)
				} else {
					r.f.Close()
					heap.Pop(&h)
				}
			}
			if len(blk.ends) > 0 {
				select {
				case blocks <- blk:
				case <-stop:
				}
			}
			return nil
		}()
	}()
	var werr error
	for blk := range blocks {
		if werr == nil {
			start := 0
			for _, end := range blk.ends {
				if werr = w.WriteCanonical(blk.data[start:end]); werr != nil {
					close(stop)
					break
				}
				start = end
			}
		}
		free <- blk
	}
	if err := <-errc; err != nil {
		return err
	}
	return werr
}
