package exchange

import (
	"encoding/hex"
	"errors"
	"io"
	"os"

	"valise/bundle"
	"valise/volume"
)

// openBundle opens path to read a bundle from: the file itself, or, when
// path is a volume (package volume), the bundle rebuilt from the volumes
// of its set found beside it. With scan, every block of every volume is
// checked first and the report says what is missing and damaged; the
// report's RebuiltBlocks grows as the bundle is read. A set that cannot
// be rebuilt is a malformed bundle (check "volumes") naming the missing
// volumes.
func openBundle(path string, scan bool) (io.Reader, *volume.Set, func(), error) {
	f, err := openRegular(path) // never a FIFO, a device or a directory
	if err != nil {
		return nil, nil, nil, err
	}
	magic := make([]byte, len(volume.Magic))
	if n, _ := f.ReadAt(magic, 0); n < len(magic) || string(magic) != volume.Magic {
		return f, nil, func() { f.Close() }, nil
	}
	f.Close()
	fail := func(err error) error {
		return &bundle.Error{Check: "volumes", Kind: bundle.ErrMalformed, Msg: err.Error(), Err: err}
	}
	paths, err := volume.Siblings(path)
	if err != nil {
		return nil, nil, nil, fail(err)
	}
	sets, err := volume.Gather(paths)
	if len(sets) != 1 {
		if err == nil {
			err = errors.New("no usable volume")
		}
		for _, s := range sets {
			s.Close()
		}
		return nil, nil, nil, fail(err)
	}
	s := sets[0]
	var rep *volume.Report
	if scan {
		rep = s.Scan()
	} else {
		rep = s.Report()
	}
	if err := rep.Check(); err != nil {
		s.Close()
		return nil, nil, nil, fail(err)
	}
	r, err := s.Reader()
	if err != nil {
		s.Close()
		return nil, nil, nil, fail(err)
	}
	return r, s, s.Close, nil
}

// VolumeSet returns the id of the set whose volume path is ("" when path
// is no volume): a command given several volumes of one set reads the
// set once.
func VolumeSet(path string) string {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "" // opening a FIFO would wait
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, volume.HeaderSize)
	if _, err := io.ReadFull(f, b); err != nil {
		return ""
	}
	h, err := volume.ParseHeader(b)
	if err != nil {
		return ""
	}
	h.Index = 0
	return hex.EncodeToString(h.Marshal())
}

// OneVolumePerSet keeps, of the volume files in paths, the first of each
// set; other paths are kept as they are.
func OneVolumePerSet(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if id := VolumeSet(p); id != "" {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		out = append(out, p)
	}
	return out
}

// volumeNote says what a read of a set repaired, for reports.
func volumeNote(s *volume.Set) *volume.Report {
	if s == nil {
		return nil
	}
	return s.Report()
}
