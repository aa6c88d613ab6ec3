package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"valise/formats"
	"valise/schema"
)

// reportFile is a --report FILE of pack or import: what became of every
// record, one JSON object a line. It is written beside its name and
// appears under it only when complete; a command that fails leaves none.
// A nil reportFile writes nothing.
type reportFile struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	enc   *json.Encoder
	err   error
	lines int
}

// newReportFile starts the report at path; nil when path is "".
func newReportFile(path string) (*reportFile, error) {
	if path == "" {
		return nil, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: errNoOverwrite}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".valise-report-*.tmp")
	if err != nil {
		return nil, err
	}
	r := &reportFile{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	r.enc = json.NewEncoder(r.w)
	r.enc.SetEscapeHTML(false)
	return r, nil
}

// add writes one line; the first failure sticks and commit returns it.
func (r *reportFile) add(v map[string]any) {
	if r == nil || r.err != nil {
		return
	}
	v["format_version"] = jsonFormatVersion
	r.err = r.enc.Encode(v)
	r.lines++
}

// commit puts the complete report under its name.
func (r *reportFile) commit() error {
	if r == nil {
		return nil
	}
	if r.err == nil {
		r.err = r.w.Flush()
	}
	if r.err == nil {
		r.err = r.f.Sync()
	}
	if err := r.f.Close(); r.err == nil {
		r.err = err
	}
	if r.err == nil {
		if err := os.Link(r.f.Name(), r.path); err != nil {
			r.err = fmt.Errorf("%s: %w (valise does not overwrite files)", r.path, err)
		}
	}
	os.Remove(r.f.Name())
	if r.err != nil {
		return fmt.Errorf("writing the report %s: %w", r.path, r.err)
	}
	r.f = nil
	return nil
}

// abort removes an uncommitted report.
func (r *reportFile) abort() {
	if r == nil || r.f == nil {
		return
	}
	r.f.Close()
	os.Remove(r.f.Name())
	r.f = nil
	if r.err == nil {
		r.err = errors.New("aborted")
	}
}

// plural says "1 record", "2 records".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case noun == "entry":
		noun = "entries"
	case noun == "match":
		noun = "matches"
	default:
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// Values of the enumerated options, in the form valise writes them.
var (
	tlpLevels     = schema.TLPLevels
	ingestFormats = []string{formats.JSONL, formats.FtM, formats.CSV, formats.UNSC, formats.OFACSDN}
	exportFormats = []string{formats.JSONL, formats.FtM, formats.CSV}
)

// normalizeEnum returns the value of vals that v names, whatever its case
// (and, for a TLP level, with or without "TLP:"): --tlp RED is --tlp red,
// --type person is --type Person. Anything else is a usage error that
// lists the values.
func normalizeEnum(flag, v string, vals []string) (string, error) {
	w := strings.TrimSpace(v)
	if flag == "--tlp" {
		w = strings.TrimPrefix(strings.ToLower(w), "tlp:")
	}
	for _, x := range vals {
		if strings.EqualFold(x, w) {
			return x, nil
		}
	}
	return "", usagef("%s %q: want one of %s%s", flag, schema.Printable(v), strings.Join(vals, ", "), suggest(w, vals, ""))
}
