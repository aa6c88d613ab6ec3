package exchange

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"valise/bundle"
	"valise/internal/publish"
	"valise/office"
	"valise/volume"
)

// fatLimit is the largest file Pack writes on FAT; tests lower it to see
// the split without writing 4 GiB.
var fatLimit int64 = publish.FATMaxFileSize

// DefaultParity is the share of parity volumes when a bundle is split
// without --parity: 10% of the data volumes, at least one.
const DefaultParity = 10

// packOutput is where Pack writes a bundle: straight into one published
// file, or into a work file in the home that becomes volumes (or one file
// on a FAT stick) once complete.
type packOutput interface {
	io.Writer
	// finish completes the output files after the bundle's last byte.
	finish() error
	// publish gives them their final names (inside the ledger transaction).
	publish() error
	done()
	abort()
	size() int64
	files() []string
}

// newPackOutput chooses the output: volumes when opts.VolumeSize is set;
// on a FAT destination (4 GiB files at most) the bundle is written to the
// home first and split only when it turns out larger.
func newPackOutput(o *office.Office, out string, h *bundle.Header, opts PackOptions) (packOutput, error) {
	note := packNote(h)
	volSize, parity := opts.VolumeSize, opts.Parity
	if parity < 0 {
		parity = DefaultParity
	}
	fsys, err := publish.Stat(filepath.Dir(out))
	fat := err == nil && fsys.FAT
	switch {
	case opts.VolumeSize == 0 && !fat:
		p, err := publish.Create(out, publish.Options{Mode: 0o644, WorkDir: o.Home, Note: note})
		if err != nil {
			return nil, err
		}
		return &singleOutput{p}, nil
	case opts.VolumeSize == 0:
		volSize = fatLimit
	case fat:
		volSize = min(volSize, fatLimit) // --volume-size 4GiB onto FAT32
	}
	if _, err := os.Lstat(out); err == nil {
		return nil, &os.PathError{Op: "create", Path: out, Err: publish.ErrExist}
	}
	tmp, err := os.CreateTemp(o.Home, ".valise-pack-*.bundle")
	if err != nil {
		return nil, fmt.Errorf("creating the work file: %w", err)
	}
	return &stagedOutput{tmp: tmp, out: out, work: o.Home, note: note, volSize: volSize, parity: parity,
		always: opts.VolumeSize > 0}, nil
}

type singleOutput struct{ *publish.File }

func (s *singleOutput) finish() error   { return nil }
func (s *singleOutput) publish() error  { return s.Publish() }
func (s *singleOutput) done()           { s.Done() }
func (s *singleOutput) abort()          { s.Abort() }
func (s *singleOutput) size() int64     { return s.Size() }
func (s *singleOutput) files() []string { return nil }

type stagedOutput struct {
	tmp     *os.File
	out     string
	work    string
	note    []byte
	volSize int64
	parity  int
	always  bool // split even when the bundle fits in one file
	n       int64
	pubs    []*publish.File
	names   []string
}

func (s *stagedOutput) Write(p []byte) (int, error) {
	n, err := s.tmp.Write(p)
	s.n += int64(n)
	if err != nil {
		err = fmt.Errorf("writing the work file in the home: %w", err)
	}
	return n, err
}

func (s *stagedOutput) size() int64     { return s.n }
func (s *stagedOutput) files() []string { return s.names }

func (s *stagedOutput) finish() error {
	opts := publish.Options{Mode: 0o644, WorkDir: s.work, Note: s.note}
	if !s.always && s.n <= s.volSize {
		p, err := publish.Create(s.out, opts)
		if err != nil {
			return err
		}
		s.pubs = append(s.pubs, p)
		if _, err := io.Copy(p, io.NewSectionReader(s.tmp, 0, s.n)); err != nil {
			return err
		}
		return nil
	}
	plan, err := volume.NewPlan(s.n, s.volSize, s.parity)
	if err != nil {
		return err
	}
	n := plan.Data + plan.Parity
	dst := make([]io.Writer, n)
	for j := 0; j < n; j++ {
		name := filepath.Join(filepath.Dir(s.out), volume.Name(filepath.Base(s.out), j, n))
		p, err := publish.Create(name, opts)
		if err != nil {
			return err
		}
		s.pubs = append(s.pubs, p)
		s.names = append(s.names, name)
		dst[j] = p
	}
	if _, err := volume.Write(s.tmp, s.n, plan, dst); err != nil {
		return err
	}
	return nil
}

func (s *stagedOutput) publish() error {
	if len(s.pubs) == 0 {
		return errors.New("pack: nothing to publish")
	}
	for _, p := range s.pubs {
		if err := p.Publish(); err != nil {
			s.abort()
			return err
		}
	}
	return nil
}

func (s *stagedOutput) done() {
	for _, p := range s.pubs {
		p.Done()
	}
	s.removeTmp()
}

func (s *stagedOutput) abort() {
	for _, p := range s.pubs {
		p.Abort()
	}
	s.removeTmp()
}

func (s *stagedOutput) removeTmp() {
	if s.tmp != nil {
		s.tmp.Close()
		os.Remove(s.tmp.Name())
		s.tmp = nil
	}
}
