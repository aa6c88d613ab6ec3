package bundle

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"valise/schema"
)

// Option configures a Reader.
type Option func(*options) error

type options struct {
	maxBytes int64
}

func defaultOptions() options { return options{maxBytes: DefaultMaxBytes} }

// WithMaxBytes caps the decompressed payload of a bundle at n bytes
// (default DefaultMaxBytes). A bundle that inflates beyond is refused.
func WithMaxBytes(n int64) Option {
	return func(o *options) error {
		if n < 1<<10 {
			return errors.New("bundle: max bytes must be at least 1 KiB")
		}
		o.maxBytes = n
		return nil
	}
}

// tailReader releases the bytes of its source except the trailer at the
// end, which it keeps: the footer names the trailer's length. It hashes and
// counts what it releases, which is exactly the payload.
type tailReader struct {
	src     io.Reader
	buf     []byte
	start   int // released up to here
	hold    int // bytes kept back until the end is known
	eof     bool
	trailer []byte
	n       int64
	h       *payloadHash
	noHash  bool // the caller hashes what it reads (hashStream)
	err     *Error
}

const tailChunk = 64 << 10

func newTailReader(src io.Reader) *tailReader {
	return &tailReader{src: src, hold: MaxTrailerSize + footerLen, h: newPayloadHash()}
}

// untouched reports whether nothing has been read through t yet.
func (t *tailReader) untouched() bool { return len(t.buf) == 0 && !t.eof && t.err == nil }

func (t *tailReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.buf == nil {
		// Not before: Verify on a file never reads through here.
		t.buf = make([]byte, 0, tailChunk+MaxTrailerSize+footerLen)
	}
	for !t.eof && len(t.buf)-t.start <= t.hold {
		if t.start > 0 {
			n := copy(t.buf, t.buf[t.start:])
			t.buf = t.buf[:n]
			t.start = 0
		}
		n, err := t.src.Read(t.buf[len(t.buf):cap(t.buf)])
		t.buf = t.buf[:len(t.buf)+n]
		if err == io.EOF {
			t.eof = true
			if e := t.atEOF(); e != nil {
				t.err = e
				return 0, e
			}
		} else if err != nil {
			t.err = wrapFail("read", ErrMalformed, err, "reading the bundle: %v", err)
			return 0, t.err
		}
	}
	avail := len(t.buf) - t.start - t.hold
	if avail <= 0 {
		return 0, io.EOF
	}
	n := copy(p, t.buf[t.start:t.start+avail])
	if !t.noHash {
		t.h.Write(p[:n])
	}
	t.n += int64(n)
	t.start += n
	return n, nil
}

// atEOF reads the footer and splits the held-back bytes into the end of the
// payload and the trailer.
func (t *tailReader) atEOF() *Error {
	tr, err := splitEnd(t.buf[t.start:])
	if err != nil {
		return err
	}
	t.trailer = append([]byte(nil), tr...)
	t.hold = len(tr) + footerLen
	return nil
}

// splitEnd reads the footer at the end of end, the last bytes of a bundle
// (all of them, or at least MaxTrailerSize+footerLen), and returns the
// trailer it names.
func splitEnd(end []byte) ([]byte, *Error) {
	if len(end) < footerLen {
		return nil, fail("trailer", ErrMalformed, "bundle is truncated: no footer")
	}
	foot := end[len(end)-footerLen:]
	if string(foot[:len(footerPrefix)]) != footerPrefix || foot[footerLen-1] != '\n' {
		return nil, fail("trailer", ErrMalformed, "bundle is truncated or has bytes after its end: no footer line")
	}
	digits := string(foot[len(footerPrefix) : footerLen-1])
	n, err := strconv.ParseUint(digits, 16, 16)
	if err != nil || fmt.Sprintf("%04x", n) != digits {
		return nil, fail("trailer", ErrMalformed, "malformed footer %q", schema.Printable(digits))
	}
	if int(n) > MaxTrailerSize || int(n)+footerLen > len(end) {
		return nil, fail("trailer", ErrMalformed, "footer declares a trailer of %d bytes, more than the bundle holds or %d", n, MaxTrailerSize)
	}
	return end[len(end)-footerLen-int(n) : len(end)-footerLen], nil
}

// Reader reads a bundle in one pass.
type Reader struct {
	src         *bufio.Reader
	opts        options
	Header      *Header
	HeaderBytes []byte
	tail        *tailReader
	trailer     *Trailer
	file        io.ReaderAt // the source, when it can be read at offsets
	base        int64       // where the bundle starts in file
	size        func() (int64, bool)
}

// Open reads and parses the header of the bundle in src. Nothing else is
// read until Verify or Decrypt. When src is a regular file (or any
// io.ReaderAt and io.Seeker that knows its size), Verify reads the rest
// with parallel reads at offsets instead of through src.
func Open(src io.Reader, opts ...Option) (*Reader, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	r := &Reader{opts: o}
	r.file, r.base, r.size = readerAt(src)
	br := bufio.NewReaderSize(src, 64<<10)
	raw, err := readBlock(br, MaxHeaderSize)
	if err != nil {
		return nil, wrapFail("header", ErrMalformed, err, "%v", err)
	}
	h, err := ParseHeader(raw)
	if err != nil {
		return nil, wrapFail("header", ErrMalformed, err, "%v", err)
	}
	r.src, r.Header, r.HeaderBytes, r.tail = br, h, raw, newTailReader(br)
	return r, nil
}

// readerAt returns src as an io.ReaderAt, the offset src is at and a
// function that tells src's size, when src is an *os.File on a regular
// file, a *bytes.Reader or alike. Pipes and terminals fail here (their
// Seek fails, or they are not regular) and are read as streams.
func readerAt(src io.Reader) (io.ReaderAt, int64, func() (int64, bool)) {
	ra, ok := src.(io.ReaderAt)
	if !ok {
		return nil, 0, nil
	}
	sk, ok := src.(io.Seeker)
	if !ok {
		return nil, 0, nil
	}
	var size func() (int64, bool)
	switch s := src.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		size = func() (int64, bool) {
			fi, err := s.Stat()
			if err != nil || !fi.Mode().IsRegular() {
				return 0, false
			}
			return fi.Size(), true
		}
	case interface{ Size() int64 }:
		size = func() (int64, bool) { return s.Size(), true }
	default:
		return nil, 0, nil
	}
	base, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, nil
	}
	return ra, base, size
}

// readBlock reads lines up to and including a "---" line, at most max bytes.
func readBlock(r *bufio.Reader, max int) ([]byte, error) {
	var out []byte
	for {
		line, err := r.ReadSlice('\n')
		if len(out)+len(line) > max || err == bufio.ErrBufferFull {
			return nil, fmt.Errorf("larger than %d bytes or a line too long", max)
		}
		out = append(out, line...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("truncated: no %q line", endMark)
		}
		if err != nil {
			return nil, err
		}
		if string(line) == endMark+"\n" {
			return out, nil
		}
		if len(out) == len(line) && len(out) > 0 && !bytes.HasPrefix(out, []byte("valise-")) {
			return nil, fmt.Errorf("not a valise bundle")
		}
	}
}

// finish checks the trailer once the payload has been read to its end.
func (r *Reader) finish(pub ed25519.PublicKey) (*Trailer, error) {
	if r.tail.err != nil {
		return nil, r.tail.err
	}
	if !r.tail.eof {
		return nil, fail("payload", ErrMalformed, "payload not read to its end")
	}
	t, err := parseTrailer(r.tail.trailer)
	if err != nil {
		return nil, wrapFail("trailer", ErrMalformed, err, "%v", err)
	}
	if t.PayloadLength != r.tail.n {
		return nil, fail("payload length", ErrMalformed, "trailer declares %d payload bytes, the bundle holds %d", t.PayloadLength, r.tail.n)
	}
	if sum := r.tail.h.Sum(); sum != t.PayloadHash {
		return nil, fail("payload hash", ErrAuth, "payload hash %s does not match the signed %s", hex.EncodeToString(sum[:8]), hex.EncodeToString(t.PayloadHash[:8]))
	}
	if !ed25519.Verify(pub, signedMessage(r.HeaderBytes, t.body()), t.Signature) {
		return nil, fail("signature", ErrAuth, "signature does not match sender %s key %s", r.Header.Sender, r.Header.SenderKey)
	}
	r.trailer = t
	return t, nil
}

// Verify reads the rest of the bundle without decrypting it and checks
// the trailer, the payload hash and the sender's signature with pub. The
// payload's chunks are hashed on up to GOMAXPROCS goroutines (at most
// eight), with a few chunks in flight.
func (r *Reader) Verify(pub ed25519.PublicKey) (*Trailer, error) {
	if err := r.hashRest(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, wrapFail("read", ErrMalformed, err, "reading the bundle: %v", err)
	}
	return r.finish(pub)
}

// hashRest reads the rest of the payload and the trailer, hashing the
// chunks on every core: from the file at offsets when nothing has been
// read yet and the source allows it, else through the tail reader.
func (r *Reader) hashRest() error {
	t := r.tail
	if t.err != nil {
		return t.err
	}
	if r.file != nil && t.untouched() {
		if size, ok := r.size(); ok {
			return r.hashFile(size)
		}
	}
	if t.h.n > 0 {
		// Decrypt stopped in the middle of a chunk: finish that one the
		// way it was begun, the rest goes to the workers in whole chunks.
		if _, err := io.CopyN(io.Discard, t, int64(chunkSize-t.h.n)); err != nil && err != io.EOF {
			return err
		}
	}
	t.noHash = true
	defer func() { t.noHash = false }()
	return hashStream(t.h, t)
}

// hashFile is hashRest on a file of size bytes read at offsets: the footer
// and trailer first, then the payload's chunks in parallel.
func (r *Reader) hashFile(size int64) error {
	t := r.tail
	start := r.base + int64(len(r.HeaderBytes))
	rest := size - start
	if rest < 0 {
		return fail("read", ErrMalformed, "the bundle file shrank while it was read")
	}
	end := make([]byte, min(rest, int64(MaxTrailerSize+footerLen)))
	if n, err := r.file.ReadAt(end, size-int64(len(end))); n < len(end) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return wrapFail("read", ErrMalformed, err, "reading the end of the bundle: %v", err)
	}
	tr, ferr := splitEnd(end)
	if ferr != nil {
		t.err = ferr
		return ferr
	}
	n := rest - int64(len(tr)) - footerLen
	if err := hashAt(t.h, r.file, start, n); err != nil {
		return err
	}
	t.trailer, t.n, t.eof, t.buf = tr, n, true, t.buf[:0]
	return nil
}

// PayloadOffset is the byte offset where the age payload starts.
func (r *Reader) PayloadOffset() int64 { return int64(len(r.HeaderBytes)) }

// capReader fails once more than max bytes have been read through it.
type capReader struct {
	r   io.Reader
	n   int64
	max int64
}

var errCap = errors.New("size cap exceeded")

func (c *capReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.max-c.n+1 {
		p = p[:c.max-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, errCap
	}
	return n, err
}

// RecordReader returns the records of a bundle being decrypted.
type RecordReader struct {
	r        *Reader
	pub      ed25519.PublicKey
	age      *errReader // the age plaintext
	zr       *zstd.Decoder
	zerr     *errReader // the decompressed stream
	out      *capReader
	br       *bufio.Reader
	Manifest *Manifest
	proof    []byte   // the proof line of the record returned last
	trees    [][]byte // the tree section, once read
	treeSize int
	count    uint64
	last     schema.Key
	err      error
}

// Decrypt starts decrypting the payload with ids and checks the inner
// manifest against the header. pub is the sender's signing key, checked at
// the end.
//
// Records returned by Next come from age-authenticated chunks, but the
// bundle as a whole — its signature, payload hash, record count — is only
// proven when Next returns io.EOF. A caller must not commit, display or
// act on any record before that; on any other error it must discard them
// all.
func (r *Reader) Decrypt(pub ed25519.PublicKey, ids ...age.Identity) (*RecordReader, error) {
	ar, err := age.Decrypt(r.tail, ids...)
	if err != nil {
		return nil, r.diagnose(pub, r.classify(err, "decryption", ErrAuth))
	}
	aer := &errReader{r: ar}
	zr, err := zstd.NewReader(aer, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20),
		zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	rr := &RecordReader{r: r, pub: pub, age: aer, zr: zr, zerr: &errReader{r: zr}}
	rr.out = &capReader{r: rr.zerr, max: r.opts.maxBytes}
	rr.br = bufio.NewReaderSize(rr.out, 64<<10)
	raw, err := readBlock(rr.br, MaxHeaderSize)
	if err != nil {
		zr.Close()
		return nil, r.diagnose(pub, rr.classify(err, "manifest", ErrAuth))
	}
	m, err := parseManifest(raw)
	if err != nil {
		zr.Close()
		return nil, r.diagnose(pub, wrapFail("manifest", ErrAuth, err, "%v", err))
	}
	if err := checkManifest(m, r.Header, r.HeaderBytes); err != nil {
		zr.Close()
		return nil, r.diagnose(pub, err)
	}
	rr.Manifest = m
	return rr, nil
}

func checkManifest(m *Manifest, h *Header, raw []byte) error {
	if m.Sender != h.Sender || m.SenderKey != h.SenderKey {
		return fail("manifest", ErrAuth, "payload was sealed by %s (%s) but the header names %s (%s): the bundle was re-signed", m.Sender, m.SenderKey, h.Sender, h.SenderKey)
	}
	if m.ID != h.ID {
		return fail("manifest", ErrAuth, "payload belongs to bundle %s, the header says %s", m.ID, h.ID)
	}
	same := len(m.Recipients) == len(h.Recipients)
	for i := 0; same && i < len(m.Recipients); i++ {
		same = m.Recipients[i] == h.Recipients[i]
	}
	if !same {
		return fail("manifest", ErrAuth, "payload was addressed to other recipients than the header names: the bundle was re-addressed")
	}
	if m.HeaderHash != sha256.Sum256(raw) {
		return fail("manifest", ErrAuth, "payload is bound to another header: header fields were changed or swapped")
	}
	for _, r := range m.Resent {
		to, ok := h.Recipient(r.Agency)
		if !ok || r.Sequence >= to.Sequence {
			return fail("manifest", ErrMalformed, "resent bundle %d to %s: not an earlier bundle to a recipient of this one", r.Sequence, r.Agency)
		}
	}
	return nil
}

// diagnose runs after a failure while decrypting: it reads the rest of the
// bundle and checks the signature. Anyone who knows a recipient's public
// key can produce a payload that age accepts, so only the sender's
// signature says who made it; when that check fails too, it is the one
// reported, as the more fundamental finding.
func (r *Reader) diagnose(pub ed25519.PublicKey, err error) error {
	if r.tail.err != nil {
		return r.tail.err
	}
	if r.trailer != nil {
		return err
	}
	if _, verr := r.Verify(pub); verr != nil {
		return verr
	}
	return err
}

// classify turns an error from the decryption pipeline into an *Error,
// preferring the tail reader's own finding (truncation, bad footer).
func (r *Reader) classify(err error, check string, kind error) error {
	if r.tail.err != nil {
		return r.tail.err
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, errCap) {
		return fail("decompressed size", ErrMalformed, "payload inflates beyond the cap of %d bytes", r.opts.maxBytes)
	}
	return wrapFail(check, kind, err, "%v", err)
}

func (rr *RecordReader) classify(err error, check string, kind error) error {
	if errors.Is(err, errCap) {
		return fail("decompressed size", ErrMalformed, "payload inflates beyond the cap of %d bytes", rr.r.opts.maxBytes)
	}
	if _, ok := err.(*Error); !ok && rr.r.tail.err == nil {
		// Whatever the decompressor made of it, a failure of age's
		// authentication is a failed decryption; a failure of the
		// decompressor over authenticated plaintext is a malformed
		// payload, not an authentication failure.
		switch {
		case rr.age.err != nil:
			return wrapFail("decryption", ErrAuth, rr.age.err, "%v", rr.age.err)
		case errors.Is(err, zstd.ErrWindowSizeExceeded):
			return wrapFail("decompression", ErrMalformed, err, "zstd window larger than allowed")
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return wrapFail("decompressed size", ErrMalformed, err, "a zstd frame declares more content than the decoder holds")
		case rr.zerr.err != nil:
			return wrapFail("decompression", ErrMalformed, rr.zerr.err, "zstd: %v", rr.zerr.err)
		}
	}
	return rr.r.classify(err, check, kind)
}

// errReader remembers the first error other than io.EOF its source
// returned, so that a failure can be traced to the stage that caused it.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Next returns the next record, or io.EOF once every record has been read
// and every check of the bundle has passed. Proof returns the record's
// authorship claims, Trees the tree section (FORMAT.md §3.4).
func (rr *RecordReader) Next() (*schema.Record, []byte, error) {
	if rr.err != nil {
		return nil, nil, rr.err
	}
	rr.proof = nil
	line, err := rr.readLine()
	for err == nil && len(rr.trees) > 0 || err == nil && (bytes.HasPrefix(line, []byte("tree ")) || bytes.HasPrefix(line, []byte("node "))) {
		// The tree section: only tree lines up to the end.
		if !bytes.HasPrefix(line, []byte("tree ")) && !bytes.HasPrefix(line, []byte("node ")) {
			rr.err = rr.r.diagnose(rr.pub, fail("tree section", ErrContent, "a line that is no tree line after the tree section began"))
			return nil, nil, rr.err
		}
		rr.treeSize += len(line)
		if rr.treeSize > MaxTreeSection {
			rr.err = rr.r.diagnose(rr.pub, fail("tree section", ErrMalformed, "tree section longer than %d bytes", MaxTreeSection))
			return nil, nil, rr.err
		}
		rr.trees = append(rr.trees, bytes.Clone(line))
		line, err = rr.readLine()
	}
	if err == nil && bytes.HasPrefix(line, []byte("proof ")) {
		rr.err = rr.r.diagnose(rr.pub, fail("proof", ErrContent, "a proof line without its record"))
		return nil, nil, rr.err
	}
	if err == io.EOF {
		rr.err = rr.end()
		if rr.err == nil {
			rr.err = io.EOF
		}
		return nil, nil, rr.err
	}
	if err != nil {
		rr.err = rr.r.diagnose(rr.pub, err)
		return nil, nil, rr.err
	}
	rr.count++
	rec, derr := schema.DecodeCanonical(line)
	if derr != nil {
		rr.err = rr.r.diagnose(rr.pub, wrapFail("record", ErrContent, derr, "record %d: %v", rr.count, derr))
		return nil, nil, rr.err
	}
	if probs := rec.Validate(); len(probs) > 0 {
		rr.err = rr.r.diagnose(rr.pub, wrapFail("record", ErrContent, probs[0], "record %d: %v", rr.count, probs[0]))
		return nil, nil, rr.err
	}
	if c := rec.Key().Compare(rr.last); rr.count > 1 && c <= 0 {
		if c == 0 {
			rr.err = fail("record order", ErrContent, "record %d: duplicate record %s", rr.count, schema.Printable(rec.Key().String()))
		} else {
			rr.err = fail("record order", ErrContent, "record %d: %s after %s: records must be in increasing order of id and origin", rr.count,
				schema.Printable(rec.Key().String()), schema.Printable(rr.last.String()))
		}
		rr.err = rr.r.diagnose(rr.pub, rr.err)
		return nil, nil, rr.err
	}
	rr.last = rec.Key()
	// The record's proof line, when it has one, comes right after it.
	// Peek reads more only when too little is buffered, and reading more
	// may move the buffer that line points into: copied first then.
	if rr.br.Buffered() < len("proof ") {
		line = bytes.Clone(line)
	}
	if next, _ := rr.br.Peek(len("proof ")); string(next) == "proof " {
		line = bytes.Clone(line)
		p, err := rr.readLine()
		if err != nil {
			rr.err = rr.r.diagnose(rr.pub, err)
			return nil, nil, rr.err
		}
		rr.proof = bytes.Clone(p[len("proof "):])
	}
	return rec, line, nil
}

// Proof returns the authorship claims that came with the record Next
// returned last (nil when none did).
func (rr *RecordReader) Proof() []byte { return rr.proof }

// Trees returns the lines of the tree section (each "tree …" or
// "node …"), complete once Next has returned io.EOF.
func (rr *RecordReader) Trees() [][]byte { return rr.trees }

func (rr *RecordReader) readLine() ([]byte, error) {
	line, err := rr.br.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for {
			line, err = rr.br.ReadSlice('\n')
			buf = append(buf, line...)
			if len(buf) > schema.MaxRecordBytes+1 {
				return nil, fail("record", ErrMalformed, "record %d is longer than %d bytes", rr.count+1, schema.MaxRecordBytes)
			}
			if err == nil {
				return buf[:len(buf)-1], nil
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	if err == io.EOF {
		return nil, fail("record", ErrMalformed, "payload ends inside record %d", rr.count+1)
	}
	return nil, rr.classify(err, "decryption", ErrAuth)
}

// end runs once the decompressed stream has ended: the age stream must end
// there too, then the trailer, hash, signature and count are checked.
func (rr *RecordReader) end() error {
	defer rr.zr.Close()
	var one [1]byte
	if n, err := rr.age.Read(one[:]); n > 0 || err != io.EOF {
		if n > 0 {
			return rr.r.diagnose(rr.pub, fail("payload", ErrMalformed, "data after the end of the compressed stream"))
		}
		return rr.r.diagnose(rr.pub, rr.classify(err, "decryption", ErrAuth))
	}
	t, err := rr.r.finish(rr.pub)
	if err != nil {
		return err
	}
	if t.Records != rr.count {
		return fail("record count", ErrAuth, "trailer declares %d records, the payload holds %d", t.Records, rr.count)
	}
	return nil
}

// Trailer returns the verified trailer once Next has returned io.EOF.
func (rr *RecordReader) Trailer() *Trailer { return rr.r.trailer }

// Close releases the decoder. It is safe to call more than once.
func (rr *RecordReader) Close() { rr.zr.Close() }
