package bundle

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"valise/schema"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != n || b64(b) != s {
		return nil, fmt.Errorf("want canonical base64 of %d bytes", n)
	}
	return b, nil
}

// WriterOption configures a Writer.
type WriterOption func(*writerOptions) error

type writerOptions struct {
	treeSecret []byte
	receipts   []Receipt
	resent     []Resent
	statements [][]byte
}

// WithReceipts puts receipts in the manifest: for each recipient, the
// sequence numbers of its bundles this office has imported.
func WithReceipts(rs []Receipt) WriterOption {
	return func(o *writerOptions) error {
		for i, r := range rs {
			if i > 0 && rs[i-1].Agency >= r.Agency {
				return errors.New("bundle: receipts must be sorted by agency, one each")
			}
			if len(r.Ranges) == 0 || len(r.Ranges) > MaxReceiptRanges {
				return errors.New("bundle: a receipt needs 1 to 256 ranges")
			}
		}
		o.receipts = rs
		return nil
	}
}

// WithResent names, in the manifest, the bundles to the recipients whose
// records this bundle carries again (sorted by agency and sequence, each
// recipient's sequences below the one of this bundle).
func WithResent(rs []Resent) WriterOption {
	return func(o *writerOptions) error {
		if len(rs) > MaxResent {
			return fmt.Errorf("bundle: at most %d resent bundles", MaxResent)
		}
		for i, r := range rs {
			if i > 0 && !resentLess(rs[i-1], r) {
				return errors.New("bundle: resent bundles must be sorted by agency and sequence, one each")
			}
		}
		o.resent = rs
		return nil
	}
}

// WithTreeSecret sets the secret of the sender's authorship tree (else a
// random one).
func WithTreeSecret(secret []byte) WriterOption {
	return func(o *writerOptions) error {
		if len(secret) != TreeSecretSize {
			return fmt.Errorf("bundle: a tree secret of %d bytes, want %d", len(secret), TreeSecretSize)
		}
		o.treeSecret = secret
		return nil
	}
}

// WithStatements puts signed keyring statements in the manifest.
func WithStatements(sts [][]byte) WriterOption {
	return func(o *writerOptions) error {
		if len(sts) > MaxStatements {
			return fmt.Errorf("bundle: at most %d statements", MaxStatements)
		}
		for _, s := range sts {
			if len(s) > MaxStatementSize {
				return errors.New("bundle: statement too large")
			}
		}
		o.statements = sts
		return nil
	}
}

// ErrBroken is returned by every call on a Writer after one failed.
var ErrBroken = errors.New("bundle writer failed earlier")

// countWriter counts and hashes what passes through it.
type countWriter struct {
	w io.Writer
	h *payloadHash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Writer writes one bundle in a single pass: the header at once, records
// as they come, and the signed trailer on Close.
type Writer struct {
	dst     io.Writer
	key     ed25519.PrivateKey
	header  []byte
	payload *countWriter
	age     io.WriteCloser
	zw      *zstd.Encoder
	buf     *bufio.Writer
	// TreeSecret is the secret of the sender's authorship tree, written in
	// the manifest (package proof derives the leaf salts from it).
	TreeSecret []byte
	trees      bool // the tree section has begun: no more records
	records    uint64
	last       schema.Key
	line       []byte
	err        error
	closed     bool
}

// NewWriter writes h to dst and returns a Writer for the records. The
// payload is encrypted to recipients, which must all be of the kind h
// declares (h.Encryption). key signs header and trailer; h.SenderKey must be
// the fingerprint of the card holding its public half.
func NewWriter(dst io.Writer, h *Header, key ed25519.PrivateKey, recipients []age.Recipient, opts ...WriterOption) (*Writer, error) {
	var wo writerOptions
	for _, o := range opts {
		if err := o(&wo); err != nil {
			return nil, err
		}
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("bundle header: %w", err)
	}
	for _, r := range wo.resent {
		if to, ok := h.Recipient(r.Agency); !ok || r.Sequence >= to.Sequence {
			return nil, fmt.Errorf("bundle: resent bundle %d to %s is not an earlier bundle to a recipient", r.Sequence, r.Agency)
		}
	}
	if len(recipients) == 0 {
		return nil, errors.New("bundle: no age recipients")
	}
	w := &Writer{dst: dst, key: key, header: h.Marshal()}
	if _, err := dst.Write(w.header); err != nil {
		return nil, err
	}
	w.payload = &countWriter{w: dst, h: newPayloadHash()}
	aw, err := age.Encrypt(w.payload, recipients...)
	if err != nil {
		return nil, fmt.Errorf("bundle: encrypting: %w", err)
	}
	w.age = aw
	zw, err := zstd.NewWriter(aw, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(4<<20))
	if err != nil {
		return nil, err
	}
	w.zw = zw
	w.buf = bufio.NewWriterSize(zw, 256<<10)
	secret := wo.treeSecret
	if secret == nil {
		secret = make([]byte, TreeSecretSize)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	w.TreeSecret = secret
	m := &Manifest{ID: h.ID, Sender: h.Sender, SenderKey: h.SenderKey, Recipients: h.Recipients,
		Receipts: wo.receipts, Resent: wo.resent, Statements: wo.statements, TreeSecret: secret, HeaderHash: sha256.Sum256(w.header)}
	if _, err := w.buf.Write(m.marshal()); err != nil {
		return nil, err
	}
	return w, nil
}

// Write adds one record. It is validated and written in canonical form.
func (w *Writer) Write(r *schema.Record) error {
	if w.err != nil {
		return w.err
	}
	if probs := r.Validate(); len(probs) > 0 {
		return fmt.Errorf("bundle: %w", probs[0])
	}
	if w.records > 0 && r.Key().Compare(w.last) <= 0 {
		return fmt.Errorf("bundle: record %s written after %s: records must be in strictly increasing order of id and origin", r.Key(), w.last)
	}
	w.last = r.Key()
	w.line = r.AppendCanonical(w.line[:0])
	if len(w.line) > schema.MaxRecordBytes {
		return fmt.Errorf("bundle: record %s: canonical form larger than %d bytes", r.ID, schema.MaxRecordBytes)
	}
	return w.WriteCanonical(w.line)
}

// WriteCanonical adds one record already in canonical form, validated and
// in order of id and origin (see Write).
func (w *Writer) WriteCanonical(line []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.trees {
		return w.broken(errors.New("bundle: a record after the tree section"))
	}
	if _, err := w.buf.Write(line); err != nil {
		return w.broken(err)
	}
	if err := w.buf.WriteByte('\n'); err != nil {
		return w.broken(err)
	}
	w.records++
	return nil
}

func (w *Writer) broken(err error) error {
	w.err = fmt.Errorf("%w: %v", ErrBroken, err)
	return err
}

// WriteProof adds the authorship claims of the record written last
// (FORMAT.md §3.4): a line "proof " + claims.
func (w *Writer) WriteProof(claims []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.trees || w.records == 0 {
		return w.broken(errors.New("bundle: a proof line without its record"))
	}
	return w.writeLine("proof ", claims)
}

// WriteTree adds a line of the tree section, after the records: kind is
// "tree" (a signed tree head) or "node" (a multiproof node).
func (w *Writer) WriteTree(kind string, body []byte) error {
	if w.err != nil {
		return w.err
	}
	if kind != "tree" && kind != "node" {
		return w.broken(fmt.Errorf("bundle: unknown tree line %q", kind))
	}
	w.trees = true
	return w.writeLine(kind+" ", body)
}

func (w *Writer) writeLine(prefix string, body []byte) error {
	if len(prefix)+len(body) > MaxProofLine {
		return w.broken(fmt.Errorf("bundle: a %s line of %d bytes, at most %d", strings.TrimSpace(prefix), len(body), MaxProofLine))
	}
	if _, err := w.buf.WriteString(prefix); err != nil {
		return w.broken(err)
	}
	if _, err := w.buf.Write(body); err != nil {
		return w.broken(err)
	}
	if err := w.buf.WriteByte('\n'); err != nil {
		return w.broken(err)
	}
	return nil
}

// Close finishes the payload and writes the signed trailer. It does not
// close dst.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		w.zw.Close()
		return w.err
	}
	if err := w.buf.Flush(); err != nil {
		w.zw.Close()
		return w.broken(err)
	}
	if err := w.zw.Close(); err != nil {
		return w.broken(err)
	}
	if err := w.age.Close(); err != nil {
		return w.broken(err)
	}
	t := &Trailer{PayloadLength: w.payload.n, PayloadHash: w.payload.h.Sum(), Records: w.records}
	t.Signature = ed25519.Sign(w.key, signedMessage(w.header, t.body()))
	tb := t.marshal()
	tb = append(tb, fmt.Sprintf("%s%04x\n", footerPrefix, len(tb))...)
	if _, err := w.dst.Write(tb); err != nil {
		return w.broken(err)
	}
	return nil
}

// Records returns the number of records written so far.
func (w *Writer) Records() uint64 { return w.records }

func signedMessage(header, trailerBody []byte) []byte {
	msg := make([]byte, 0, len(sigContext)+len(header)+len(trailerBody))
	msg = append(msg, sigContext...)
	msg = append(msg, header...)
	return append(msg, trailerBody...)
}

// PayloadHash returns the payload hash signed in the trailer (FORMAT.md
// §4.1) once Close has returned.
func (w *Writer) PayloadHash() []byte {
	sum := w.payload.h.Sum()
	return sum[:]
}
