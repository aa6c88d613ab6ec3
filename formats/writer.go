package formats

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"valise/schema"
)

// Writer writes records to a file of one format. Errors are sticky: once a
// Write or Close has failed, every later call returns the same error.
// Close flushes; it does not close the underlying io.Writer.
type Writer interface {
	Write(*schema.Record) error
	Close() error
}

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("formats: writer is closed")

// WriterOption changes how a Writer writes; see WithBOM and
// WithUnsafeRawCSV.
type WriterOption func(*writerOptions) error

type writerOptions struct {
	format string
	bom    bool // csv: a UTF-8 byte order mark first
	raw    bool // csv: cells as they are, formula triggers included
}

// WithBOM starts a csv file with a UTF-8 byte order mark, without which
// Excel reads UTF-8 as the local code page ("Ãœmit" for "Ümit"). Reading
// skips it.
func WithBOM() WriterOption {
	return func(o *writerOptions) error {
		if o.format != CSV {
			return fmt.Errorf("%w: a byte order mark is for csv, not %s", ErrOptions, o.format)
		}
		o.bom = true
		return nil
	}
}

// WithUnsafeRawCSV writes csv cells as they are: a cell that starts with
// = + - @, a tab or a carriage return is a formula to a spreadsheet
// (=HYPERLINK(…) sends whoever clicks it anywhere), and a list record can
// hold any of them. Only for files no spreadsheet opens.
func WithUnsafeRawCSV() WriterOption {
	return func(o *writerOptions) error {
		if o.format != CSV {
			return fmt.Errorf("%w: raw cells are for csv, not %s", ErrOptions, o.format)
		}
		o.raw = true
		return nil
	}
}

// NewWriter returns a Writer of format jsonl, ftm or csv:
//
//   - jsonl: each record in its canonical encoding, envelope and version
//     included, one per line; tombstones too.
//   - ftm: FollowTheMoney entity lines: id, schema, properties and the kept
//     extra keys; no envelope. Tombstones are left out.
//   - csv: one record type per file. The header is id, schema, every
//     property of the type sorted by name (reverse properties aside: they
//     hold no values), then origin, tlp, handling_code, conditions,
//     releasable_to, not_releasable_to, retain_until, reliability,
//     credibility. Multiple values are joined by ';' with '\;' and '\\'
//     escapes (see splitValues), so that Stream gives back the same values.
//     A cell that a spreadsheet would take for a formula (it starts with =
//   - - @, a tab or a carriage return) is neutralised as OWASP
//     recommends, with a ' in front, and so is one that starts with '
//     (Stream takes that ' away again); WithUnsafeRawCSV writes cells as
//     they are. Writing a record of another type than the first is an
//     error. Tombstones and extra keys are left out.
func NewWriter(w io.Writer, format string, opts ...WriterOption) (Writer, error) {
	o := writerOptions{format: format}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	switch format {
	case JSONL:
		return &jsonlWriter{w: bufio.NewWriterSize(w, 64<<10)}, nil
	case FtM:
		return &ftmWriter{jsonlWriter{w: bufio.NewWriterSize(w, 64<<10)}, false}, nil
	case CSV:
		return &csvWriter{out: w, w: csv.NewWriter(w), bom: o.bom, raw: o.raw}, nil
	}
	return nil, fmt.Errorf("%w: cannot write format %q (want jsonl, ftm or csv)", ErrOptions, format)
}

type jsonlWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (j *jsonlWriter) Write(r *schema.Record) error {
	if j.err != nil {
		return j.err
	}
	j.buf = append(r.AppendCanonical(j.buf[:0]), '\n')
	if _, err := j.w.Write(j.buf); err != nil {
		j.err = fmt.Errorf("writing record %s: %w", schema.Printable(r.ID), err)
	}
	return j.err
}

func (j *jsonlWriter) Close() error {
	if j.err != nil {
		return j.err
	}
	if err := j.w.Flush(); err != nil {
		j.err = fmt.Errorf("writing records: %w", err)
		return j.err
	}
	j.err = ErrClosed
	return nil
}

type ftmWriter struct {
	jsonlWriter
	envelope bool
}

// NewFtMEnvelopeWriter returns an ftm Writer that also writes each
// record's origin and handling as the top-level keys "origin" and
// "handling" (valise's spelling): FtM tools ignore them, valise reads them
// back. It is how restricted records leave in FtM (export
// --include-restricted), their handling beside them.
func NewFtMEnvelopeWriter(w io.Writer) Writer {
	return &ftmWriter{jsonlWriter{w: bufio.NewWriterSize(w, 64<<10)}, true}
}

func (f *ftmWriter) Write(r *schema.Record) error {
	if f.err != nil {
		return f.err
	}
	if r.Deleted {
		return nil
	}
	if f.envelope {
		e := &schema.Record{ID: r.ID, Schema: r.Schema, Properties: r.Properties, Extra: map[string][]byte{}}
		for k, v := range r.Extra {
			e.Extra[k] = v
		}
		e.Extra["origin"] = schema.AppendString(nil, r.Origin)
		e.Extra["handling"] = []byte(schema.HandlingString(r.Handling))
		r = e
	}
	f.buf = appendFtM(f.buf[:0], r)
	if _, err := f.w.Write(f.buf); err != nil {
		f.err = fmt.Errorf("writing record %s: %w", schema.Printable(r.ID), err)
	}
	return f.err
}

// appendFtM appends r as one FtM entity line: {"id", "schema",
// "properties", extras in key order}. Properties keep their value order
// (and an empty list when the record has one), so that an FtM file read
// and written again gives the same entities; the properties set aside
// under UnknownProperties go back among them.
func appendFtM(dst []byte, r *schema.Record) []byte {
	dst = append(dst, `{"id":`...)
	dst = schema.AppendString(dst, r.ID)
	dst = append(dst, `,"schema":`...)
	dst = schema.AppendString(dst, r.Schema)
	dst = append(dst, `,"properties":{`...)
	props := r.Properties
	if raw := r.Extra[UnknownProperties]; raw != nil {
		var unknown map[string][]string
		if json.Unmarshal(raw, &unknown) == nil {
			props = make(map[string][]string, len(r.Properties)+len(unknown))
			for k, v := range unknown {
				props[k] = v
			}
			for k, v := range r.Properties {
				props[k] = v
			}
		}
	}
	for i, name := range sortedProps(props) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = schema.AppendString(dst, name)
		dst = append(dst, ":["...)
		for j, v := range props[name] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = schema.AppendString(dst, v)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '}')
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		if k != UnknownProperties || len(props) == len(r.Properties) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		dst = append(dst, ',')
		dst = schema.AppendString(dst, k)
		dst = append(dst, ':')
		dst = append(dst, r.Extra[k]...)
	}
	return append(dst, '}', '\n')
}

type csvWriter struct {
	out      io.Writer
	w        *csv.Writer
	bom, raw bool
	schema   *schema.Schema
	props    []string
	row      []string
	err      error
}

// neutralise puts a ' before a cell that a spreadsheet would take for a
// formula, and before one that starts with ' (so that reading can take one
// ' away from every cell that starts with it and one of these).
func neutralise(cell string) string {
	if cell != "" && strings.IndexByte(csvFormulaStart, cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// csvFormulaStart are the first bytes of a cell that neutralise guards:
// OWASP's formula triggers (= + - @ tab carriage return) and the quote.
const csvFormulaStart = "=+-@\t\r'"

func (c *csvWriter) Write(r *schema.Record) error {
	if c.err != nil {
		return c.err
	}
	if r.Deleted {
		return nil
	}
	if c.schema == nil {
		if c.bom {
			if _, err := io.WriteString(c.out, "\ufeff"); err != nil {
				c.err = fmt.Errorf("writing CSV byte order mark: %w", err)
				return c.err
			}
		}
		s, ok := schema.Get(r.Schema)
		if !ok {
			c.err = fmt.Errorf("writing record %s: unknown schema %q", schema.Printable(r.ID), r.Schema)
			return c.err
		}
		c.schema = s
		header := []string{colID, colSchema}
		for _, p := range s.Props() {
			if !p.Stub { // a reverse property holds no values
				c.props = append(c.props, p.Name)
			}
		}
		header = append(header, c.props...)
		header = append(header, envelopeColumns...)
		if err := c.w.Write(header); err != nil {
			c.err = fmt.Errorf("writing CSV header: %w", err)
			return c.err
		}
	}
	if r.Schema != c.schema.Name {
		c.err = fmt.Errorf("writing record %s: a CSV file holds one record type: this one is %s, the file %s; export one type at a time",
			schema.Printable(r.ID), schema.Printable(r.Schema), c.schema.Name)
		return c.err
	}
	for name := range r.Properties {
		if _, ok := c.schema.Prop(name); !ok && len(r.Properties[name]) > 0 {
			c.err = fmt.Errorf("writing record %s: property %s is not a property of %s", schema.Printable(r.ID),
				schema.Printable(name), c.schema.Name)
			return c.err
		}
	}
	c.row = append(c.row[:0], r.ID, r.Schema)
	for _, p := range c.props {
		c.row = append(c.row, joinValues(r.Properties[p]))
	}
	var rel, cred string
	if r.Evaluation != nil {
		rel, cred = r.Evaluation.Reliability, r.Evaluation.Credibility
	}
	h := r.Handling
	c.row = append(c.row, r.Origin, h.TLP, h.Code, joinValues(h.Conditions), joinValues(h.ReleasableTo), joinValues(h.NotReleasableTo),
		h.RetainUntil, rel, cred)
	if !c.raw {
		for i, cell := range c.row {
			c.row[i] = neutralise(cell)
		}
	}
	if err := c.w.Write(c.row); err != nil {
		c.err = fmt.Errorf("writing record %s: %w", schema.Printable(r.ID), err)
	}
	return c.err
}

func (c *csvWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		c.err = fmt.Errorf("writing records: %w", err)
		return c.err
	}
	c.err = ErrClosed
	return nil
}
