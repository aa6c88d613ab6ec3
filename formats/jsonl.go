package formats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"valise/schema"
)

// maxLine bounds one line of a JSON lines or CSV file (and one CSV record
// over several lines): a longer one is a problem, skipped without being
// held in memory.
const maxLine = schema.MaxRecordBytes

// readJSONLines reads valise JSONL and FtM entity and delta files: one JSON
// object per line, blank lines ignored.
func readJSONLines(c *collector, br *bufio.Reader, format string) error {
	lr := newLineReader(br, maxLine)
	for !c.stopped() {
		raw, tooLong, err := lr.next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		n := lr.line
		if tooLong {
			c.problemf(n, "", "", "line longer than %d bytes", maxLine)
			continue
		}
		line := bytes.TrimSpace(raw)
		if n == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if len(line) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			utf8Problem(c, n, line, badUTF8(string(line)))
			continue
		}
		if format == FtM && bytes.Contains(line, []byte(`"op"`)) {
			if op, entity, ok := splitDelta(line); ok {
				readDelta(c, n, op, entity)
				continue
			}
		}
		r, err := schema.Decode(line)
		if err != nil {
			c.problemf(n, "", "", "bad JSON: %v", err)
			continue
		}
		if format == JSONL && r.Deleted {
			c.del(n, r.ID)
			continue
		}
		if format == FtM {
			// FtM has no tombstone key; a "deleted" key is an FtM-side extra
			// only when it is not ours, and Decode took it as ours.
			if r.Deleted {
				c.problem(n, r.ID, "deleted", "an FtM entity cannot be a tombstone; use a delta DEL line")
				continue
			}
			setAsideUnknown(r)
		}
		c.add(n, r)
	}
	return nil
}

// utf8Problem files a malformed UTF-8 line, naming the record and property
// when a repaired copy of the line tells them.
func utf8Problem(c *collector, n int, line []byte, at int) {
	rule := fmt.Sprintf("malformed UTF-8 at byte %d of the line", at+1)
	fixed := bytes.ToValidUTF8(line, []byte("\ufffd"))
	if _, entity, ok := splitDelta(fixed); ok {
		fixed = entity
	}
	r, err := schema.Decode(fixed)
	if err != nil {
		c.problem(n, "", "", rule)
		return
	}
	prop := ""
	for _, name := range sortedProps(r.Properties) {
		for _, v := range r.Properties[name] {
			if strings.Contains(v, "\ufffd") && prop == "" {
				prop = name
			}
		}
	}
	c.problem(n, r.ID, prop, rule)
}

// splitDelta recognises an FtM delta line {"op": "...", "entity": {...}}
// and returns its parts. Any other key, or a duplicate, makes it not a
// delta line.
func splitDelta(line []byte) (op string, entity []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, false
	}
	var haveOp, haveEntity bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", nil, false
		}
		switch t {
		case "op":
			if haveOp || dec.Decode(&op) != nil {
				return "", nil, false
			}
			haveOp = true
		case "entity":
			var raw json.RawMessage
			if haveEntity || dec.Decode(&raw) != nil {
				return "", nil, false
			}
			entity, haveEntity = raw, true
		default:
			return "", nil, false
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return "", nil, false
	}
	if len(bytes.TrimSpace(line[dec.InputOffset():])) != 0 || !haveOp || !haveEntity {
		return "", nil, false
	}
	return op, entity, true
}

func readDelta(c *collector, n int, op string, entity []byte) {
	r, err := schema.Decode(entity)
	if err != nil {
		c.problemf(n, "", "", "bad JSON in delta entity: %v", err)
		return
	}
	switch op {
	case "ADD", "MOD":
		if r.Deleted {
			c.problem(n, r.ID, "deleted", "an FtM entity cannot be a tombstone; use a delta DEL line")
			return
		}
		setAsideUnknown(r)
		c.add(n, r)
	case "DEL":
		c.del(n, r.ID)
	default:
		c.problemf(n, r.ID, "", "unknown delta op %q (want ADD, MOD or DEL)", op)
	}
}

// UnknownProperties is the extra key under which an FtM entity keeps the
// properties its schema does not define in the FollowTheMoney release
// valise's model comes from (data written by a newer FtM, such as
// Organization.abbreviation): FtM's own reader drops them silently; valise
// keeps them, as {"name": ["value", ...]}, and the ftm writer puts them
// back among the properties.
const UnknownProperties = "unknown_properties"

// setAsideUnknown moves the properties r's schema does not define to
// r.Extra[UnknownProperties]. A stub property (the reverse of another, such
// as Person.sanctions) is known and stays, for Validate to refuse as FtM
// does; so does everything when the schema is unknown or the key is
// taken.
func setAsideUnknown(r *schema.Record) {
	s, ok := schema.Get(r.Schema)
	if !ok || r.Extra[UnknownProperties] != nil {
		return
	}
	var names []string
	for name := range r.Properties {
		if _, ok := s.Prop(name); !ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	slices.SortFunc(names, schema.CompareKeys) // canonical order: the value is an extra
	b := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = schema.AppendString(b, name)
		b = append(b, ':', '[')
		for j, v := range r.Properties[name] {
			if j > 0 {
				b = append(b, ',')
			}
			b = schema.AppendString(b, v)
		}
		b = append(b, ']')
		delete(r.Properties, name)
	}
	if r.Extra == nil {
		r.Extra = map[string][]byte{}
	}
	r.Extra[UnknownProperties] = append(b, '}')
}
