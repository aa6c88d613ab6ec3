package exchange

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"valise/formats"
	"valise/handling"
	"valise/internal/spill"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// PackInput is a record file that Pack packs instead of the store's
// records (valise pack --input): every record is validated, stamped with a
// first version by this office, and written in key order, whatever the
// order of the file. Memory stays bounded: records are sorted in runs of
// at most SortBuffer bytes, spilled to the office home's temporary
// directory (never beside the output) and merged from there.
//
// An office packs only its own records from a file: a record whose origin
// is another office's is refused. A record whose key the store holds goes
// with the handling the store holds, whatever the file says: a file
// exported without the envelope must not widen it.
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

// inputBatch is what the reading goroutine hands to the encoding one.
type inputBatch struct {
	lines []int
	recs  []*schema.Record
}

// fileInput is the state of packing one file.
type fileInput struct {
	in       *PackInput
	problems int
	// restricted holds, for each record of the file that some recipient
	// may not receive, why not, per recipient: the records that name it
	// are kept from the same recipients. Memory grows with the restricted
	// records only.
	restricted map[string][]string
}

func (f *fileInput) problem(p *formats.Problem) {
	f.problems++
	if f.in.Problem != nil {
		f.in.Problem(p)
	}
}

// fromFile reads in, and sends its records in key order where they may
// go.
func (p *packer) fromFile(in *PackInput) error {
	f := &fileInput{in: in, restricted: map[string][]string{}}
	sorter := spill.New(p.tmp, in.SortBuffer)
	if in.SortBuffer <= 0 {
		sorter = spill.New(p.tmp, DefaultSortBuffer)
	}
	defer sorter.Close()
	batches := make(chan inputBatch, 4)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- p.readInput(f, batches, stop)
	}()
	defer func() {
		close(stop)
		for range batches {
		}
	}()
	stamp := p.at
	var canon, val []byte
	for b := range batches {
		if err := p.ownHandling(f, b); err != nil {
			return err
		}
		for i, r := range b.recs {
			if r == nil {
				continue
			}
			merge.Stamp(r, p.o.Agency(), stamp)
			may := p.may(r, nil)
			if slices.ContainsFunc(may, func(s string) bool { return s != "" }) {
				f.restricted[r.ID] = may
			}
			canon = r.AppendCanonical(canon[:0])
			if len(canon) > schema.MaxRecordBytes {
				return fmt.Errorf("%s:%d: record %s: canonical form larger than %d bytes", schema.Printable(in.Name), b.lines[i], r.ID, schema.MaxRecordBytes)
			}
			val = packValue(val[:0], b.lines[i], handling.Refs(r), canon)
			if err := sorter.Add(sentKey(r.Key()), val); err != nil {
				return fmt.Errorf("sorting the input: %w", err)
			}
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if f.problems > 0 {
		return fmt.Errorf("%s: %d invalid records; nothing packed: %w", schema.Printable(in.Name), f.problems, schema.ErrInvalid)
	}
	return p.sendSorted(f, sorter)
}

// readInput reads, decodes and validates the file, in its own goroutine.
func (p *packer) readInput(f *fileInput, batches chan<- inputBatch, stop <-chan struct{}) error {
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
	_, err := formats.Stream(f.in.Name, f.in.R, formats.Options{Format: f.in.Format, Origin: p.o.Agency(),
		Handling: schema.Handling{TLP: "amber"}}, func(it formats.Item) error {
		switch {
		case it.Problem != nil:
			f.problem(it.Problem)
		case it.Delete != "":
			f.problem(&formats.Problem{File: f.in.Name, Line: it.Line, ID: it.Delete,
				Rule: "a tombstone: pack --input packs records; delete a held record with valise delete"})
		case it.Record.Origin != p.o.Agency():
			f.problem(&formats.Problem{File: f.in.Name, Line: it.Line, ID: it.Record.ID, Property: "origin",
				Rule: fmt.Sprintf("origin %s: an office packs only its own records from a file (%s); another office's records it holds go with valise pack", it.Record.Origin, p.o.Agency())})
		case f.problems == 0:
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
	return err
}

// ownHandling gives the records of a batch whose key the store holds the
// handling the store holds.
func (p *packer) ownHandling(f *fileInput, b inputBatch) error {
	keys := make([]schema.Key, len(b.recs))
	for i, r := range b.recs {
		keys[i] = r.Key()
	}
	hr, err := p.o.Store.HeldReader()
	if err != nil {
		return err
	}
	held, err := hr.HeldMany(keys, nil)
	hr.Close()
	if err != nil {
		return err
	}
	for i, h := range held {
		if h == nil {
			continue
		}
		hr, err := h.Record()
		if err != nil {
			return err
		}
		b.recs[i].Handling = hr.Clone().Handling
	}
	return nil
}

// packValue encodes what the sort carries of a record: its line, the ids
// it names, its canonical encoding.
func packValue(dst []byte, line int, refs []string, canon []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(line))
	dst = binary.AppendUvarint(dst, uint64(len(refs)))
	for _, id := range refs {
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
	}
	return append(dst, canon...)
}

func unpackValue(v []byte) (line int, refs []string, canon []byte) {
	n, k := binary.Uvarint(v)
	line, v = int(n), v[k:]
	count, k := binary.Uvarint(v)
	v = v[k:]
	for range count {
		l, k := binary.Uvarint(v)
		refs = append(refs, string(v[k:k+int(l)]))
		v = v[k+int(l):]
	}
	return line, refs, v
}

// sendSorted sends the sorted records where they may go, refusing a key
// that comes twice, in batches that look up the records they name in the
// store.
func (p *packer) sendSorted(f *fileInput, sorter *spill.Sorter) error {
	type item struct {
		key  schema.Key
		line []byte
		refs []string
	}
	var (
		prev     []byte
		prevLine int
		have     bool
		batch    []item
	)
	need := make([]bool, len(p.to))
	for i := range need {
		need[i] = true
	}
	flush := func() error {
		var ids []string
		for _, it := range batch {
			ids = append(ids, it.refs...)
		}
		slices.Sort(ids)
		named, err := p.o.Store.Envelopes(slices.Compact(ids))
		if err != nil {
			return err
		}
		for _, it := range batch {
			may := make([]string, len(p.to))
			copy(may, f.restricted[it.key.ID])
			for _, id := range it.refs {
				for i, why := range f.restricted[id] {
					if why != "" && may[i] == "" {
						may[i] = handling.WithheldReference
					}
				}
				for _, t := range handling.Resolve(&schema.Record{Origin: it.key.Origin}, named[id]) {
					for i, a := range p.to {
						if ok, _ := handling.Releasable(t, p.o.Agency(), a, p.today); !ok && may[i] == "" {
							may[i] = handling.WithheldReference
						}
					}
				}
			}
			if err := p.route(nil, it.key, it.line, nil, may, need, nil, nil); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	err := sorter.Each(func(k, v []byte) error {
		line, refs, canon := unpackValue(v)
		if have && bytes.Equal(k, prev) {
			return fmt.Errorf("%s: record %s appears twice in the input (lines %d and %d): %w", schema.Printable(f.in.Name),
				schema.Printable(parseSentKey(k).String()), min(prevLine, line), max(prevLine, line), schema.ErrInvalid)
		}
		prev, prevLine, have = append(prev[:0], k...), line, true
		batch = append(batch, item{key: parseSentKey(k), line: bytes.Clone(canon), refs: refs})
		if len(batch) == store.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
