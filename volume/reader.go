package volume

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Volume is one volume file of a set, opened.
type Volume struct {
	Path   string
	Header *Header
	f      *os.File
	size   int64
	table  []byte
}

// Open opens a volume file and checks its header, size and hash table.
// The file stays open until Close. When the header parses but a later
// check fails, Open returns the error and a closed Volume with its
// Header, so that the caller can tell which set lacks it.
func Open(path string) (*Volume, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	v, err := open(path, f)
	if err != nil {
		f.Close()
		if v != nil {
			v.f = nil
		}
		return v, err
	}
	return v, nil
}

func open(path string, f *os.File) (*Volume, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	hb := make([]byte, HeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil, fmt.Errorf("%w: %s: too short", ErrHeader, path)
	}
	h, err := ParseHeader(hb)
	if err != nil {
		return nil, err
	}
	v := &Volume{Path: path, Header: h, f: f, size: st.Size()}
	if v.size > h.FileSize() {
		return v, fmt.Errorf("%w: %d bytes, more than the %d its header declares", ErrHeader, v.size, h.FileSize())
	}
	if v.size < h.FileSize() {
		return v, fmt.Errorf("%w: truncated: %d bytes of %d (its block hashes are at the end)", ErrHeader, v.size, h.FileSize())
	}
	v.table = make([]byte, h.Blocks*HashSize) // bounded: Blocks ≤ MaxBlocks
	if _, err := f.ReadAt(v.table, HeaderSize+h.ShardSize()); err != nil {
		return v, fmt.Errorf("%w: reading the block hashes: %v", ErrHeader, err)
	}
	sum := make([]byte, HashSize)
	if _, err := f.ReadAt(sum, HeaderSize+h.ShardSize()+int64(len(v.table))); err != nil {
		return v, fmt.Errorf("%w: reading the check: %v", ErrHeader, err)
	}
	if !bytes.Equal(sum, check(hb, v.table)) {
		return v, fmt.Errorf("%w: header or block hashes damaged (check does not match)", ErrHeader)
	}
	return v, nil
}

// Close closes the file.
func (v *Volume) Close() error { return v.f.Close() }

// block reads block i into b and reports whether it is sound.
func (v *Volume) block(i int, b []byte) bool {
	bs := v.Header.BlockSize
	n, _ := v.f.ReadAt(b, HeaderSize+int64(i)*int64(bs))
	if n != bs {
		return false
	}
	sum := sha256.Sum256(b)
	return bytes.Equal(sum[:], v.table[i*HashSize:(i+1)*HashSize])
}

// IsVolume reports whether the file at path starts with the volume magic.
func IsVolume(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(Magic))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == Magic
}

// Set is the volumes of one set that were found. Vols[j] is nil for a
// volume that is missing or unusable (Problems says why).
type Set struct {
	Header   Header // as every volume says; Index is 0
	Vols     []*Volume
	Problems []string // volumes refused, duplicates
	names    []string // a name for each index, to say what is missing

	enc     reedsolomon.Encoder
	scanned bool
	bad     []map[int]bool // per volume, damaged blocks

	mu      sync.Mutex
	rebuilt map[int64]bool // data blocks rebuilt (shard·nb + block)
	last    int64          // the block in cache, -1 for none
	cache   []byte
}

// Gather opens the volume files in paths and groups them into sets. A
// file that is no volume at all is an error; a volume that fails its
// checks is noted in its set when its header names the set, else an
// error. Close the sets when done.
func Gather(paths []string) ([]*Set, error) {
	var sets []*Set
	var errs []error
	type refused struct {
		path string
		v    *Volume
		err  error
	}
	var bad []refused
	for _, p := range paths {
		v, err := Open(p)
		if err != nil {
			if v == nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
			} else {
				bad = append(bad, refused{p, v, err})
			}
			continue
		}
		var s *Set
		for _, c := range sets {
			if c.Header.SameSet(v.Header) {
				s = c
			}
		}
		if s == nil {
			s = &Set{Header: *v.Header}
			s.Header.Index = 0
			s.Vols = make([]*Volume, v.Header.Shards())
			s.names = make([]string, v.Header.Shards())
			sets = append(sets, s)
		}
		if old := s.Vols[v.Header.Index]; old != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("%s: same volume as %s, not used", p, old.Path))
			v.Close()
			continue
		}
		s.Vols[v.Header.Index] = v
	}
	// A volume that failed its checks but whose header names a set found
	// is noted there (and counts as missing); else it is an error.
	for _, r := range bad {
		found := false
		for _, s := range sets {
			if s.Header.SameSet(r.v.Header) {
				s.Problems = append(s.Problems, fmt.Sprintf("%s: %v; taken as missing", r.path, r.err))
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s: %w", r.path, r.err))
		}
	}
	for _, s := range sets {
		s.guessNames()
	}
	return sets, errors.Join(errs...)
}

// Siblings returns the volume files in the directory of path (path
// included) whose headers name the same set as path's, for a reader given
// one volume of a set: the others are usually beside it.
func Siblings(path string) ([]string, error) {
	v, err := Open(path)
	if v == nil {
		return nil, err
	}
	h := *v.Header
	if err == nil {
		v.Close()
	}
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := []string{path}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() || sameFile(p, path) {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		hb := make([]byte, HeaderSize)
		_, err = io.ReadFull(f, hb)
		f.Close()
		if err != nil {
			continue
		}
		if o, err := ParseHeader(hb); err == nil && o.SameSet(&h) {
			out = append(out, p)
		}
	}
	return out, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// guessNames names every index after the name of a volume found:
// b.vol2of3.valvol says the others are b.vol1of3.valvol and b.vol3of3.valvol.
func (s *Set) guessNames() {
	n := len(s.Vols)
	for j, v := range s.Vols {
		if v == nil {
			continue
		}
		base := filepath.Base(v.Path)
		mid := fmt.Sprintf(".vol%dof%d", j+1, n)
		if i := strings.LastIndex(base, mid); i >= 0 {
			for k := range s.names {
				s.names[k] = filepath.Join(filepath.Dir(v.Path), base[:i]+fmt.Sprintf(".vol%dof%d", k+1, n)+base[i+len(mid):])
			}
			return
		}
	}
	for k := range s.names {
		s.names[k] = fmt.Sprintf("volume %d of %d", k+1, n)
	}
}

// ID returns the set id in hex, shortened for people.
func (s *Set) ID() string { return fmt.Sprintf("%x", s.Header.Set[:4]) }

// Close closes every volume.
func (s *Set) Close() {
	for _, v := range s.Vols {
		if v != nil {
			v.Close()
		}
	}
}

// Report is what a scan of a set found and what a read repaired.
type Report struct {
	Set             string
	Volumes, Data   int      // n and k
	Missing         []string // volumes not found or refused, by name
	Damaged         map[string][]int
	DamagedBlocks   int
	Unrecoverable   int // stripes with fewer than k sound blocks
	Repairable      bool
	RebuiltBlocks   int64 // data blocks rebuilt from parity while reading
	Problems        []string
	BlockSize       int
	BlocksPerVolume int
}

// Scan reads every block of every volume found and checks its hash.
func (s *Set) Scan() *Report {
	h := &s.Header
	s.bad = make([]map[int]bool, len(s.Vols))
	buf := make([]byte, h.BlockSize)
	for j, v := range s.Vols {
		if v == nil {
			continue
		}
		s.bad[j] = map[int]bool{}
		for i := 0; i < h.Blocks; i++ {
			if !v.block(i, buf) {
				s.bad[j][i] = true
			}
		}
	}
	s.scanned = true
	return s.Report()
}

// Report returns what is known of the set: after Scan, the damage found,
// and the blocks rebuilt by reads so far.
func (s *Set) Report() *Report {
	h := &s.Header
	r := &Report{Set: s.ID(), Volumes: len(s.Vols), Data: h.Data, Damaged: map[string][]int{},
		Problems: s.Problems, BlockSize: h.BlockSize, BlocksPerVolume: h.Blocks, RebuiltBlocks: s.rebuiltCount()}
	for j, v := range s.Vols {
		if v == nil {
			r.Missing = append(r.Missing, s.names[j])
			continue
		}
		if s.scanned && len(s.bad[j]) > 0 {
			var bl []int
			for i := range s.bad[j] {
				bl = append(bl, i)
			}
			sort.Ints(bl)
			r.Damaged[v.Path] = bl
			r.DamagedBlocks += len(bl)
		}
	}
	if s.scanned {
		for i := 0; i < h.Blocks; i++ {
			sound := 0
			for j, v := range s.Vols {
				if v != nil && !s.bad[j][i] {
					sound++
				}
			}
			if sound < h.Data {
				r.Unrecoverable++
			}
		}
		r.Repairable = r.Unrecoverable == 0
	} else {
		r.Repairable = len(s.Vols)-len(r.Missing) >= h.Data
	}
	return r
}

func (s *Set) rebuiltCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.rebuilt))
}

// String says in one line what is missing or damaged.
func (r *Report) String() string {
	var parts []string
	if len(r.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(r.Missing, ", "))
	}
	paths := make([]string, 0, len(r.Damaged))
	for p := range r.Damaged {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		parts = append(parts, fmt.Sprintf("%d damaged blocks of %d bytes in %s", len(r.Damaged[p]), r.BlockSize, p))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("set %s: %d volumes, all sound", r.Set, r.Volumes)
	}
	return fmt.Sprintf("set %s: %s", r.Set, strings.Join(parts, "; "))
}

// ErrInsufficient is wrapped by the error of a set that cannot be rebuilt.
var ErrInsufficient = errors.New("not enough sound volumes to rebuild the bundle")

// Check returns an error wrapping ErrInsufficient, naming what is
// missing, when the set cannot be rebuilt.
func (r *Report) Check() error {
	if r.Repairable {
		return nil
	}
	have := r.Volumes - len(r.Missing)
	msg := fmt.Sprintf("set %s has %d of %d volumes and needs %d", r.Set, have, r.Volumes, r.Data)
	if len(r.Missing) > 0 {
		msg += "; missing: " + strings.Join(r.Missing, ", ")
	}
	if r.Unrecoverable > 0 && have >= r.Data {
		msg += fmt.Sprintf("; %d stripes of blocks are damaged in too many volumes", r.Unrecoverable)
	}
	return fmt.Errorf("%w: %s", ErrInsufficient, msg)
}

// Reader returns the rebuilt bundle: an io.Reader that is also an
// io.ReaderAt and io.Seeker with a Size, which the bundle reader reads
// with parallel reads at offsets. A block that fails its hash, or whose
// volume is missing, is rebuilt from its stripe; a read that cannot be
// rebuilt fails with ErrInsufficient.
func (s *Set) Reader() (*Bundle, error) {
	h := &s.Header
	if h.Parity > 0 {
		enc, err := reedsolomon.New(h.Data, h.Parity)
		if err != nil {
			return nil, err
		}
		s.enc = enc
	}
	s.rebuilt, s.last = map[int64]bool{}, -1
	return &Bundle{s: s, size: h.BundleLength}, nil
}

// Bundle reads the bundle a set carries.
type Bundle struct {
	s    *Set
	size int64
	off  int64
	pool sync.Pool
}

// Size returns the bundle's length.
func (b *Bundle) Size() int64 { return b.size }

// Read reads sequentially.
func (b *Bundle) Read(p []byte) (int, error) {
	n, err := b.ReadAt(p, b.off)
	b.off += int64(n)
	return n, err
}

// Seek sets the offset for Read.
func (b *Bundle) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += b.off
	case io.SeekEnd:
		off += b.size
	default:
		return 0, errors.New("volume: bad whence")
	}
	if off < 0 {
		return 0, errors.New("volume: negative offset")
	}
	b.off = off
	return off, nil
}

// ReadAt reads len(p) bytes of the bundle at off, block by block.
func (b *Bundle) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.size {
		return 0, io.EOF
	}
	h := &b.s.Header
	bs := int64(h.BlockSize)
	shard := h.ShardSize()
	n := 0
	for n < len(p) && off < b.size {
		d, in := int(off/shard), off%shard
		i, within := int(in/bs), in%bs
		blk, err := b.block(d, i)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], blk[within:min(bs, within+b.size-off)])
		b.put(blk)
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b *Bundle) get() []byte {
	if v := b.pool.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, b.s.Header.BlockSize)
}

func (b *Bundle) put(blk []byte) {
	blk = blk[:cap(blk)]
	b.pool.Put(&blk)
}

// block returns block i of data shard d, rebuilt when it must be.
func (b *Bundle) block(d, i int) ([]byte, error) {
	s := b.s
	buf := b.get()
	if v := s.Vols[d]; v != nil && v.block(i, buf) {
		return buf, nil
	}
	// Reads are smaller than a block: keep the last rebuilt one.
	key := int64(d)*int64(s.Header.Blocks) + int64(i)
	s.mu.Lock()
	if s.last == key {
		copy(buf, s.cache)
		s.mu.Unlock()
		return buf, nil
	}
	s.mu.Unlock()
	b.put(buf)
	if s.enc == nil {
		return nil, b.insufficient(d, i)
	}
	shards := make([][]byte, len(s.Vols))
	sound := 0
	for j, v := range s.Vols {
		if v == nil || sound == s.Header.Data {
			continue
		}
		blk := b.get()
		if v.block(i, blk) {
			shards[j] = blk
			sound++
		} else {
			b.put(blk)
		}
	}
	defer func() {
		for j, sh := range shards {
			if sh != nil && j != d {
				b.put(sh)
			}
		}
	}()
	if sound < s.Header.Data {
		return nil, b.insufficient(d, i)
	}
	shards[d] = b.get()[:0] // capacity for the rebuilt block
	if err := s.enc.ReconstructSome(shards, dataOnly(len(s.Vols), d)); err != nil {
		return nil, fmt.Errorf("volume: rebuilding block %d of %s: %w", i, s.names[d], err)
	}
	out := shards[d]
	shards[d] = nil
	s.mu.Lock()
	s.rebuilt[key] = true
	s.last = key
	s.cache = append(s.cache[:0], out...)
	s.mu.Unlock()
	return out, nil
}

func dataOnly(n, d int) []bool {
	req := make([]bool, n)
	req[d] = true
	return req
}

func (b *Bundle) insufficient(d, i int) error {
	s := b.s
	var missing []string
	for j, v := range s.Vols {
		if v == nil {
			missing = append(missing, s.names[j])
		}
	}
	msg := fmt.Sprintf("block %d of %s is damaged or missing and set %s cannot rebuild it", i, s.names[d], s.ID())
	if len(missing) > 0 {
		msg += "; missing: " + strings.Join(slices.Clip(missing), ", ")
	}
	return fmt.Errorf("%w: %s", ErrInsufficient, msg)
}
