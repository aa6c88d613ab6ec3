package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"valise/schema"
	"valise/store"
)

// Progress bars: on standard error, only when it is a terminal and the
// output is not --json, for the long jobs (ingest, pack, import, verify,
// export). A bar counts bytes of a file or records, with the rate and,
// when the total is known, the time left; when the job is done the bar
// stays, full, on a line of its own, and the job's output follows.
// (schollz/progressbar: maintained, no cgo, and its terminal handling
// is golang.org/x/term, which valise already uses.)

const (
	progressBytes   = "bytes"
	progressRecords = "records"
)

// meter is one progress bar; a nil meter shows nothing.
type meter struct {
	bar       *progressbar.ProgressBar
	mu        sync.Mutex
	done, max int64
}

// progress starts a bar of unit (progressBytes or progressRecords) for a
// job of total units (-1 when not known), or returns a nil meter when no
// bar is to be shown.
func (e *env) progress(unit, label string, total int64) *meter {
	if !e.interactive() {
		return nil
	}
	f := e.stderr.(*os.File)
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(schema.Printable(label)),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) }),
		progressbar.OptionSetRenderBlankState(true),
		// No goroutine of its own: the bar is drawn when work is added.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
	if unit == progressBytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return &meter{bar: progressbar.NewOptions64(total, opts...), max: total}
}

// Add counts n more units done.
func (m *meter) Add(n int64) {
	if m != nil {
		m.set(m.done + n)
	}
}

// Set says that done units are done.
func (m *meter) Set(done int64) {
	if m != nil {
		m.set(done)
	}
}

// SetMonotonic says that done units are done, from any goroutine; a
// report that comes late (smaller than one already made) is ignored.
func (m *meter) SetMonotonic(done int64) {
	if m != nil {
		m.set(done)
	}
}

// SetTotal changes the total.
func (m *meter) SetTotal(total int64) {
	if m == nil || total == m.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.max = total
	m.bar.ChangeMax64(total)
}

func (m *meter) set(done int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max >= 0 {
		// Some bytes are read twice (a header read ahead, then read at
		// its offset): the bar stops at its total.
		done = min(done, m.max)
	}
	if done <= m.done {
		return
	}
	m.done = done
	m.bar.Set64(done)
}

// Describe changes the label (the file being read).
func (m *meter) Describe(label string) {
	if m != nil {
		m.bar.Describe(schema.Printable(label))
	}
}

// Finish ends the bar: full when the work is all done, else where it
// stopped.
func (m *meter) Finish() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max >= 0 && m.done >= m.max {
		m.bar.Finish()
		return
	}
	m.bar.Exit()
}

// meteredReader counts what is read through it.
type meteredReader struct {
	r io.Reader
	m *meter
}

func (r meteredReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.m.Add(int64(n))
	return n, err
}

// fileSizes is the total size of files, -1 when one cannot be read.
func fileSizes(paths []string) int64 {
	var n int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		n += st.Size()
	}
	return n
}

// total counts the records an export will write, for its bar; -1 when
// no bar is shown.
func total(e *env, f store.Filter) int64 {
	if !e.interactive() {
		return -1
	}
	n, err := e.office.Store.CountFilter(f)
	if err != nil {
		return -1
	}
	return n
}

// interactive tells whether progress is shown: standard error is a
// terminal and the output is not --json.
func (e *env) interactive() bool {
	if e.json {
		return false
	}
	f, ok := e.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
