package bundle

import (
	"crypto/sha256"
	"hash"
	"io"
	"runtime"
	"sync"
)

// The payload hash signed in the trailer (FORMAT.md §4.1) is SHA-256 over
// a prefix line and the SHA-256 of each 1 MiB chunk of the payload, in
// order. One SHA-256 over the whole payload would be a chain that one core
// must walk from start to end; the chunks can be hashed on every core at
// once, while a writer still needs only two running hashes.
const (
	chunkSize         = 1 << 20
	payloadHashPrefix = "valise payload chunks v1 1048576\n"
)

// payloadHash computes the payload hash of the bytes written to it, one
// chunk at a time: memory does not grow with the payload.
type payloadHash struct {
	outer hash.Hash // over the prefix and the chunk digests so far
	chunk hash.Hash // over the bytes of the current chunk
	n     int       // bytes in the current chunk
}

func newPayloadHash() *payloadHash {
	h := &payloadHash{outer: sha256.New(), chunk: sha256.New()}
	h.outer.Write([]byte(payloadHashPrefix))
	return h
}

func (h *payloadHash) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		k := min(len(p), chunkSize-h.n)
		h.chunk.Write(p[:k])
		h.n += k
		p = p[k:]
		if h.n == chunkSize {
			var d [sha256.Size]byte
			h.outer.Write(h.chunk.Sum(d[:0]))
			h.chunk.Reset()
			h.n = 0
		}
	}
	return written, nil
}

// addChunk appends the digest of a whole chunk hashed elsewhere. It must
// only be called at a chunk boundary.
func (h *payloadHash) addChunk(sum *[sha256.Size]byte) {
	if h.n != 0 {
		panic("bundle: chunk digest added in the middle of a chunk")
	}
	h.outer.Write(sum[:])
}

// Sum returns the payload hash of what has been written so far, the
// current (shorter) chunk as the last one. It does not change the state.
func (h *payloadHash) Sum() [sha256.Size]byte {
	outer := h.outer
	if h.n > 0 {
		c, err := h.outer.(hash.Cloner).Clone()
		if err != nil {
			panic(err) // crypto/sha256 always clones
		}
		var d [sha256.Size]byte
		c.Write(h.chunk.Sum(d[:0]))
		outer = c
	}
	var sum [sha256.Size]byte
	outer.Sum(sum[:0])
	return sum
}

// maxHashWorkers caps the goroutines of a parallel payload hash, and so
// its buffers (two chunks per worker for a stream): past a few cores,
// reading the bundle is the limit, not SHA-256.
const maxHashWorkers = 8

// chunkSlot is one chunk in flight in a chunkHasher.
type chunkSlot struct {
	buf  []byte // the chunk, when the caller reads it (a stream)
	n    int    // bytes in the chunk
	off  int64  // where the chunk starts in the source, when workers read it
	sum  [sha256.Size]byte
	err  error
	done chan struct{} // one token per chunk hashed
}

// chunkHasher hashes whole chunks on several goroutines and adds their
// digests to a payloadHash in order. The caller submits chunk after chunk
// into slots it takes with next: either filled (a stream is read by one
// goroutine) or as an offset that the worker reads itself from an
// io.ReaderAt (a file can be read by all at once). A slot is reused once
// its digest has been added, so at most len(slots) chunks are in flight.
type chunkHasher struct {
	out   *payloadHash
	src   io.ReaderAt // nil when slots are submitted filled
	slots []*chunkSlot
	jobs  chan *chunkSlot
	sent  int // chunks submitted
	taken int // chunks whose digest was added to out
	wg    sync.WaitGroup
}

// readPiece is how much a worker reads at a time from an io.ReaderAt: a
// small buffer stays in the core's cache between the read and the hash,
// and a fresh process does not fault in megabytes of buffers (a quarter
// of the time of verify at 1M records).
const readPiece = 256 << 10

// Buffers are kept between payloads: a reader that checks many small
// bundles should not allocate megabytes for each.
var (
	chunkBufs = sync.Pool{New: func() any { return new([chunkSize]byte) }}
	pieceBufs = sync.Pool{New: func() any { return new([readPiece]byte) }}
)

// newChunkHasher starts the workers for n bytes (-1: not known). out must
// be at a chunk boundary. Stop must be called, on success or failure.
func newChunkHasher(out *payloadHash, src io.ReaderAt, n int64) *chunkHasher {
	workers := min(runtime.GOMAXPROCS(0), maxHashWorkers)
	if n >= 0 {
		workers = int(max(1, min(int64(workers), (n+chunkSize-1)/chunkSize)))
	}
	c := &chunkHasher{out: out, src: src, slots: make([]*chunkSlot, 2*workers), jobs: make(chan *chunkSlot, 2*workers)}
	for i := range c.slots {
		c.slots[i] = &chunkSlot{done: make(chan struct{}, 1)}
	}
	c.wg.Add(workers)
	for range workers {
		go c.work()
	}
	return c
}

func (c *chunkHasher) work() {
	defer c.wg.Done()
	if c.src == nil {
		for s := range c.jobs {
			s.sum = sha256.Sum256(s.buf[:s.n])
			s.done <- struct{}{}
		}
		return
	}
	piece := pieceBufs.Get().(*[readPiece]byte)
	defer pieceBufs.Put(piece)
	h := sha256.New()
	for s := range c.jobs {
		h.Reset()
		for done := 0; done < s.n; {
			k := min(readPiece, s.n-done)
			n, err := c.src.ReadAt(piece[:k], s.off+int64(done))
			if n < k {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				s.err = err
				break
			}
			h.Write(piece[:k])
			done += k
		}
		h.Sum(s.sum[:0])
		s.done <- struct{}{}
	}
}

// next returns the slot for the next chunk, after adding the digest of
// the chunk it held before.
func (c *chunkHasher) next() (*chunkSlot, error) {
	if c.sent-c.taken == len(c.slots) {
		if err := c.take(); err != nil {
			return nil, err
		}
	}
	s := c.slots[c.sent%len(c.slots)]
	if s.buf == nil && c.src == nil {
		s.buf = chunkBufs.Get().(*[chunkSize]byte)[:]
	}
	s.n, s.off, s.err = 0, 0, nil
	return s, nil
}

// submit hands s, filled or with its offset and length set, to the workers.
func (c *chunkHasher) submit(s *chunkSlot) {
	c.sent++
	c.jobs <- s
}

// take waits for the oldest chunk in flight and adds its digest.
func (c *chunkHasher) take() error {
	s := c.slots[c.taken%len(c.slots)]
	<-s.done
	c.taken++
	if s.err != nil {
		return s.err
	}
	c.out.addChunk(&s.sum)
	return nil
}

// wait adds the digests of every chunk submitted.
func (c *chunkHasher) wait() error {
	for c.taken < c.sent {
		if err := c.take(); err != nil {
			return err
		}
	}
	return nil
}

// stop ends the workers once they have finished the chunks in hand.
func (c *chunkHasher) stop() {
	close(c.jobs)
	c.wg.Wait()
	for _, s := range c.slots {
		if s.buf != nil {
			chunkBufs.Put((*[chunkSize]byte)(s.buf))
			s.buf = nil
		}
	}
}

// hashAt adds to out the chunks of the n bytes of src from off, read
// and hashed on every core. out must be at a chunk boundary.
func hashAt(out *payloadHash, src io.ReaderAt, off, n int64) error {
	c := newChunkHasher(out, src, n)
	defer c.stop()
	for done := int64(0); done < n; {
		s, err := c.next()
		if err != nil {
			return err
		}
		s.off, s.n = off+done, int(min(n-done, chunkSize))
		done += int64(s.n)
		c.submit(s)
	}
	return c.wait()
}

// hashStream adds to out the chunks read from r to its end, read on this
// goroutine and hashed on every core. out must be at a chunk boundary.
func hashStream(out *payloadHash, r io.Reader) error {
	c := newChunkHasher(out, nil, -1)
	defer c.stop()
	for {
		s, err := c.next()
		if err != nil {
			return err
		}
		n, err := io.ReadFull(r, s.buf)
		if n > 0 {
			s.n = n
			c.submit(s)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return c.wait()
		}
		if err != nil {
			return err
		}
	}
}
