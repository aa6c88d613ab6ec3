package exchange

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// sentLog keeps the ids and version hashes that went in a bundle being
// packed, in a temporary file in the office's home, until they are written
// to the peer state with the ledger entry.
type sentLog struct {
	f *os.File
	w *bufio.Writer
}

func newSentLog(dir string) (*sentLog, error) {
	f, err := os.CreateTemp(dir, ".valise-pack-*.sent")
	if err != nil {
		return nil, fmt.Errorf("creating the output: %w", err)
	}
	return &sentLog{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// add notes one record sent. Record ids hold neither spaces nor line
// breaks (schema.CheckID), and version hashes are hex.
func (s *sentLog) add(id, vhash string) error {
	s.w.WriteString(id)
	s.w.WriteByte(' ')
	s.w.WriteString(vhash)
	return s.fail(s.w.WriteByte('\n'))
}

// fail says which disk is full: the list lives in the office's home,
// beside the store.
func (s *sentLog) fail(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("the disk holding the store is full (%s): %w", filepath.Dir(s.f.Name()), err)
	}
	return err
}

// each hands the notes back in batches of at most n.
func (s *sentLog) each(n int, fn func(ids, vhashes []string) error) error {
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(s.f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ids, vhs := make([]string, 0, n), make([]string, 0, n)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := fn(ids, vhs)
		ids, vhs = ids[:0], vhs[:0]
		return err
	}
	for sc.Scan() {
		id, vh, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return fmt.Errorf("%s: damaged while packing", s.f.Name())
		}
		ids, vhs = append(ids, id), append(vhs, vh)
		if len(ids) == n {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

func (s *sentLog) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}
