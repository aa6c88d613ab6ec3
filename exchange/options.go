package exchange

import (
	"errors"
	"io"
	"os"
	"sync/atomic"

	"valise/bundle"
	"valise/store"
)

// Option configures Verify and Import.
type Option func(*options)

type options struct {
	progress func(done int64)
	outcomes func(*bundle.Header, store.Disclosure) error
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithProgress has fn told how many bytes of the bundle file have been
// read so far, as the work goes on (from several goroutines: fn must be
// safe for that).
func WithProgress(fn func(done int64)) Option {
	return func(o *options) { o.progress = fn }
}

// ErrStopOutcomes, returned by a WithOutcomes function, ends the list
// without failing the import.
var ErrStopOutcomes = errors.New("enough outcomes")

// WithOutcomes has Import call fn for every record of the bundle h, in
// key order, with what the import made of it (the bundle's entries in the
// disclosure register). fn runs once every check of the bundle has
// passed, in the import's transaction, before it commits (or, for a dry
// run, rolls back); an error from fn fails the import.
func WithOutcomes(fn func(h *bundle.Header, d store.Disclosure) error) Option {
	return func(o *options) { o.outcomes = fn }
}

// meteredFile counts the bytes read from a bundle file for a progress
// meter. It keeps the file's ReadAt, Seek and Stat, so that a bundle
// reader still reads the file at offsets.
type meteredFile struct {
	*os.File
	n  atomic.Int64
	fn func(int64)
}

// metered returns r, counted when opts want progress: a file keeps its
// offsets (meteredFile), anything else (a bundle rebuilt from volumes) is
// counted as a stream.
func metered(r io.Reader, o options) io.Reader {
	if o.progress == nil {
		return r
	}
	if f, ok := r.(*os.File); ok {
		return &meteredFile{File: f, fn: o.progress}
	}
	return &meteredStream{r: r, fn: o.progress}
}

// meteredStream counts the bytes read from a stream.
type meteredStream struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (m *meteredStream) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.fn(m.n)
	return n, err
}

func (m *meteredFile) Read(p []byte) (int, error) {
	n, err := m.File.Read(p)
	m.fn(m.n.Add(int64(n)))
	return n, err
}

func (m *meteredFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.File.ReadAt(p, off)
	m.fn(m.n.Add(int64(n)))
	return n, err
}
