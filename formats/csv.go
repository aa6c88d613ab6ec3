package formats

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"valise/schema"
)

// csvReader reads RFC 4180 records (comma-separated, fields optionally in
// double quotes with "" for a quote, quoted fields may span lines) from a
// lineReader, so that one record never holds more than maxLine bytes and
// every record knows the line it starts on. A malformed record is reported
// and skipped, and reading resumes at the next line.
//
// encoding/csv is not used for reading because it cannot bound a record's
// size without failing the whole file, and cannot resume after one.
type csvReader struct {
	lr     *lineReader
	fields []string
	field  []byte
	// sub accepts a last line holding only the DOS end-of-file byte 0x1A,
	// as the OFAC files have.
	sub bool
}

func newCSVReader(br *bufio.Reader) *csvReader {
	return &csvReader{lr: newLineReader(br, maxLine)}
}

// record returns the next record's fields (valid until the next call) and
// the line it starts on. A malformed record gives a rule and no fields. At
// the end of the input it returns io.EOF.
func (p *csvReader) record() (fields []string, start int, rule string, err error) {
	var line []byte
	for {
		l, tooLong, err := p.lr.next()
		if err != nil {
			return nil, 0, "", err
		}
		start = p.lr.line
		if tooLong {
			return nil, start, fmt.Sprintf("line longer than %d bytes", maxLine), nil
		}
		if start == 1 {
			l = bytes.TrimPrefix(l, utf8BOM)
		}
		if p.sub && len(l) == 1 && l[0] == 0x1a {
			// No terminator: this is the last line of the file.
			return nil, 0, "", io.EOF
		}
		if len(trimEOL(l)) > 0 {
			line = l
			break
		}
	}
	p.fields = p.fields[:0]
	total := len(line)
	pos := 0
	for {
		if pos < len(line) && line[pos] == '"' {
			// Quoted field, perhaps over several lines.
			pos++
			p.field = p.field[:0]
			for {
				i := bytes.IndexByte(line[pos:], '"')
				if i < 0 {
					p.field = append(p.field, line[pos:]...)
					next, tooLong, err := p.lr.next()
					if err == io.EOF {
						return nil, start, "quoted field not closed at the end of the file", nil
					}
					if err != nil {
						return nil, 0, "", err
					}
					total += len(next)
					if tooLong || total > maxLine {
						return nil, start, fmt.Sprintf("record longer than %d bytes", maxLine), nil
					}
					line, pos = next, 0
					continue
				}
				p.field = append(p.field, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && line[pos] == '"' {
					p.field = append(p.field, '"')
					pos++
					continue
				}
				break
			}
			p.fields = append(p.fields, string(p.field))
			rest := line[pos:]
			if len(rest) > 0 && rest[0] == ',' {
				pos++
				continue
			}
			if len(trimEOL(rest)) != 0 {
				return nil, start, fmt.Sprintf("line %d: text after the closing quote of field %d", p.lr.line, len(p.fields)), nil
			}
			return p.fields, start, "", nil
		}
		i := bytes.IndexByte(line[pos:], ',')
		var f []byte
		last := i < 0
		if last {
			f = trimEOL(line[pos:])
		} else {
			f = line[pos : pos+i]
			pos += i + 1
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return nil, start, fmt.Sprintf("line %d: bare quote in unquoted field %d", p.lr.line, len(p.fields)+1), nil
		}
		p.fields = append(p.fields, string(f))
		if last {
			return p.fields, start, "", nil
		}
	}
}

// parseCSVLine parses one line as a CSV record.
func parseCSVLine(line []byte) ([]string, string) {
	p := newCSVReader(bufio.NewReader(bytes.NewReader(line)))
	f, _, rule, err := p.record()
	if err != nil {
		return nil, "empty"
	}
	return f, rule
}

// Envelope columns of CSV files; every other column but id and schema names
// a property.
const (
	colID              = "id"
	colSchema          = "schema"
	colOrigin          = "origin"
	colTLP             = "tlp"
	colHandlingCode    = "handling_code"
	colConditions      = "conditions"
	colReleasableTo    = "releasable_to"
	colNotReleasableTo = "not_releasable_to"
	colRetainUntil     = "retain_until"
	colReliability     = "reliability"
	colCredibility     = "credibility"
)

var envelopeColumns = []string{colOrigin, colTLP, colHandlingCode, colConditions, colReleasableTo, colNotReleasableTo,
	colRetainUntil, colReliability, colCredibility}

// readCSV reads a CSV file whose first record names the columns.
func readCSV(c *collector, br *bufio.Reader) error {
	p := newCSVReader(br)
	header, line, rule, err := p.record()
	if err == io.EOF {
		return fmt.Errorf("%w: empty CSV file: want a header row naming an id column and properties", ErrFormat)
	}
	if err != nil {
		return err
	}
	if rule != "" {
		return fmt.Errorf("%w: header on line %d: %s", ErrFormat, line, rule)
	}
	header = append([]string(nil), header...)
	col := map[string]int{}
	for i, h := range header {
		switch {
		case h == "":
			return fmt.Errorf("%w: header column %d has no name", ErrFormat, i+1)
		case badUTF8(h) >= 0:
			return fmt.Errorf("%w: header column %d: malformed UTF-8", ErrFormat, i+1)
		}
		if _, dup := col[h]; dup {
			return fmt.Errorf("%w: header names column %q twice", ErrFormat, h)
		}
		col[h] = i
	}
	idCol, ok := col[colID]
	if !ok {
		return fmt.Errorf("%w: header has no id column (columns: %s)", ErrFormat, schema.Printable(strings.Join(header, ",")))
	}
	schemaCol, hasSchema := col[colSchema]
	if !hasSchema && c.opts.Type == "" {
		return fmt.Errorf("%w: a CSV file without a schema column needs a type for its rows", ErrOptions)
	}
	for !c.stopped() {
		fields, n, rule, err := p.record()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if rule != "" {
			c.problem(n, "", "", rule)
			continue
		}
		id := ""
		if idCol < len(fields) {
			id = fields[idCol]
		}
		if len(fields) != len(header) {
			c.problemf(n, printableID(id), "", "row has %d fields, the header %d", len(fields), len(header))
			continue
		}
		bad := false
		for i, f := range fields {
			if at := badUTF8(f); at >= 0 {
				c.problemf(n, printableID(id), header[i], "malformed UTF-8 at byte %d of the cell", at+1)
				bad = true
				break
			}
			fields[i] = unneutralise(f)
		}
		if bad {
			continue
		}
		id = fields[idCol]
		r := &schema.Record{ID: id, Schema: c.opts.Type, Properties: map[string][]string{}}
		if hasSchema && fields[schemaCol] != "" {
			r.Schema = fields[schemaCol]
		}
		s, _ := schema.Get(r.Schema)
		for i, f := range fields {
			h := header[i]
			if f == "" || i == idCol || (hasSchema && i == schemaCol) {
				continue
			}
			switch h {
			case colOrigin:
				r.Origin = f
			case colTLP:
				r.Handling.TLP = strings.ToLower(f)
			case colHandlingCode:
				r.Handling.Code = strings.ToUpper(f)
			case colConditions:
				r.Handling.Conditions = splitValues(f)
				slices.Sort(r.Handling.Conditions)
			case colReleasableTo:
				r.Handling.ReleasableTo = splitValues(f)
			case colNotReleasableTo:
				r.Handling.NotReleasableTo = splitValues(f)
			case colRetainUntil:
				r.Handling.RetainUntil = f
			case colReliability, colCredibility:
				if r.Evaluation == nil {
					r.Evaluation = &schema.Evaluation{}
				}
				if h == colReliability {
					r.Evaluation.Reliability = f
				} else {
					r.Evaluation.Credibility = f
				}
			default:
				values := splitValues(f)
				if s != nil {
					if prop, ok := s.Prop(h); ok && prop.Type == schema.TypeCountry {
						for j, v := range values {
							if len(v) == 2 {
								values[j] = strings.ToLower(v)
							}
						}
					}
				}
				if len(values) > 0 {
					r.Properties[h] = values
				}
			}
		}
		c.add(n, r)
	}
	return nil
}

// unneutralise takes away the ' that the csv writer puts before a cell
// that a spreadsheet would take for a formula (see neutralise): a cell
// that starts with ' and then = + - @, a tab, a carriage return or ' is
// read without its first '.
func unneutralise(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && strings.IndexByte(csvFormulaStart, cell[1]) >= 0 {
		return cell[1:]
	}
	return cell
}

// printableID returns id when it is a valid record id, else "": a problem
// does not repeat garbage as an id.
func printableID(id string) string {
	if schema.CheckID(id) != nil {
		return ""
	}
	return id
}

// splitValues splits a cell into values at each ';'. A backslash escapes
// ';' and '\' ("a\;b" is one value "a;b", "a\\" is "a\"); any other
// backslash is kept as it is. Empty values are dropped.
func splitValues(cell string) []string {
	if !strings.ContainsAny(cell, `;\`) {
		return []string{cell}
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(cell); i++ {
		switch ch := cell[i]; {
		case ch == '\\' && i+1 < len(cell) && (cell[i+1] == ';' || cell[i+1] == '\\'):
			b.WriteByte(cell[i+1])
			i++
		case ch == ';':
			if b.Len() > 0 {
				out = append(out, b.String())
			}
			b.Reset()
		default:
			b.WriteByte(ch)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// joinValues is the inverse of splitValues.
func joinValues(values []string) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(';')
		}
		if !strings.ContainsAny(v, `;\`) {
			b.WriteString(v)
			continue
		}
		for j := 0; j < len(v); j++ {
			if v[j] == ';' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
	}
	return b.String()
}
