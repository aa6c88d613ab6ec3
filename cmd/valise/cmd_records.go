package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"valise/formats"
	"valise/handling"
	"valise/ingest"
	"valise/internal/publish"
	"valise/schema"
	"valise/store"
)

type ingestOptions struct {
	format      string
	typ         string
	tlp         string
	skipInvalid bool
}

func (o *ingestOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "", "input format: jsonl, ftm, csv, un-sc, ofac-sdn (default: detect)")
	fs.StringVar(&o.typ, "type", "", "schema of CSV rows, e.g. Person")
	fs.StringVar(&o.tlp, "tlp", "amber", "TLP level of records whose input carries no handling")
	fs.BoolVar(&o.skipInvalid, "skip-invalid", false, "ingest the valid records and report the invalid ones (default: an invalid file ingests nothing)")
}

func init() {
	o := &ingestOptions{}
	register(&command{name: "ingest", args: "FILE... [--format F] [--type T] [--tlp LEVEL] [--skip-invalid]", short: "add or update this office's records from JSON lines, FtM, CSV, UN or OFAC lists",
		minArgs: 1, maxArgs: -1, opts: o,
		example: "  valise ingest people.csv --type Person\n  valise ingest --format ofac-sdn sdn.csv\n  valise ingest entities.ftm.json",
		run: func(e *env, args []string) error {
			tlp, err := normalizeEnum("--tlp", o.tlp, tlpLevels)
			if err != nil {
				return err
			}
			format := o.format
			if format != "" {
				if format, err = normalizeEnum("--format", format, ingestFormats); err != nil {
					return err
				}
			}
			typ := o.typ
			if typ != "" {
				if typ, err = normalizeEnum("--type", typ, schema.Names()); err != nil {
					return err
				}
			}
			ingest.IngestDefaults = schema.Handling{TLP: tlp}
			var files []ingest.IngestFile
			bar := e.progress(progressBytes, "ingest", fileSizes(args))
			for _, path := range args {
				files = append(files, ingest.IngestFile{Name: path, Format: format, Type: typ,
					Open: func() (io.ReadCloser, error) {
						f, err := os.Open(path)
						if err != nil {
							return nil, err
						}
						bar.Describe("ingest " + path)
						return struct {
							io.Reader
							io.Closer
						}{meteredReader{f, bar}, f}, nil
					}})
			}
			rep, err := ingest.Ingest(e.office, files, o.skipInvalid)
			bar.Finish()
			if rep == nil {
				// A file unreadable as a whole: nothing was read into the store.
				if errors.Is(err, formats.ErrOptions) {
					return usagef("%v", err)
				}
				return err
			}
			if e.json {
				probs := []problemJSON{}
				for _, p := range rep.Problems {
					probs = append(probs, newProblemJSON(p))
				}
				return printResult(e, map[string]any{"files": len(files), "added": rep.Added, "updated": rep.Updated, "unchanged": rep.Unchanged,
					"deleted": rep.Deleted, "skipped": rep.Skipped, "problems": probs, "problem_count": rep.ProblemCount, "ingested": err == nil}, err)
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(e.stderr, "%s\n", schema.Sanitize(p.Error()))
			}
			if n := rep.ProblemCount - len(rep.Problems); n > 0 {
				fmt.Fprintf(e.stderr, "... and %d more %s, not shown (the first %d are)\n", n, strings.TrimPrefix(plural(n, "problem"), fmt.Sprint(n)+" "), len(rep.Problems))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "ingested %s: %d added, %d updated, %d unchanged, %d deleted", plural(len(files), "file"), rep.Added, rep.Updated, rep.Unchanged, rep.Deleted)
			if rep.Skipped > 0 {
				fmt.Fprintf(e.stdout, ", %d invalid skipped", rep.Skipped)
			}
			fmt.Fprintln(e.stdout)
			return nil
		}})
}

type showOptions struct{ history bool }

func (o *showOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.history, "history", false, "also list every version: who changed what, when, from which bundle")
}

func init() {
	o := &showOptions{}
	register(&command{name: "show", args: "ID [--history]", short: "show one record, its open conflicts and its history", minArgs: 1, maxArgs: 1, opts: o,
		example: "  valise show ofac-36 --history",
		run: func(e *env, args []string) error {
			k, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			r, err := e.office.Store.Get(k)
			if err != nil {
				return err
			}
			cs, err := e.office.Store.Conflicts(k)
			if err != nil {
				return err
			}
			var hist []store.VersionEntry
			if o.history {
				if hist, err = e.office.Store.History(k); err != nil {
					return err
				}
			}
			if e.json {
				type ver struct {
					N       int64    `json:"n"`
					At      string   `json:"at"`
					Action  string   `json:"action"`
					Agency  string   `json:"agency"`
					Bundle  string   `json:"bundle"`
					Hash    string   `json:"content_hash"`
					Changed []string `json:"changed"`
				}
				vs := []ver{}
				for i, v := range hist {
					vs = append(vs, ver{v.N, v.At, v.Action, v.Agency, v.Bundle, v.Hash, nonNil(changedProps(hist, i))})
				}
				return printDoc(e, map[string]any{"record": recordJSON(r), "content_hash": contentHash(r),
					"conflicts": conflictsJSON(cs), "history": vs})
			}
			printRecord(e, r)
			for _, c := range cs {
				printConflict(e.stdout, "", c)
			}
			if o.history {
				fmt.Fprintf(e.stdout, "history:\n")
				for i, v := range hist {
					from := ""
					if v.Bundle != "" {
						from = " from bundle " + v.Bundle
					}
					fmt.Fprintf(e.stdout, "  %d  %s  %-7s by %s%s  hash %s\n", v.N, v.At, v.Action, v.Agency, from, v.Hash[:16])
					if ch := changedProps(hist, i); len(ch) > 0 {
						fmt.Fprintf(e.stdout, "      changed: %s\n", schema.Printable(strings.Join(ch, ", ")))
					}
				}
			}
			return nil
		}})
}

// changedProps lists the keys whose stamp version i of hist changed,
// compared with the version before it.
func changedProps(hist []store.VersionEntry, i int) []string {
	cur := hist[i].Record.Version
	var prev schema.Version
	if i > 0 {
		prev = hist[i-1].Record.Version
	}
	var out []string
	for k, d := range cur.Props {
		if prev.Props[k] != d || len(prev.Alts[k]) != len(cur.Alts[k]) {
			out = append(out, k)
		}
	}
	for k := range prev.Props {
		if _, ok := cur.Props[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func printRecord(e *env, r *schema.Record) {
	w := e.stdout
	state := ""
	if r.Deleted {
		state = " (DELETED)"
	}
	if r.Recalled != nil {
		state = " (RECALLED)"
	}
	fmt.Fprintf(w, "%s  %s%s\n", schema.Printable(r.ID), r.Schema, state)
	fmt.Fprintf(w, "  origin      %s\n", r.Origin)
	if rc := r.Recalled; rc != nil {
		fmt.Fprintf(w, "  recalled    by %s at %s: this office may no longer hold the record; only this stub is kept\n", rc.By, rc.At)
	}
	fmt.Fprintf(w, "  handling    %s\n", handlingLine(r.Handling))
	for _, c := range r.Handling.Conditions {
		fmt.Fprintf(w, "  condition   %s\n", schema.Printable(c))
	}
	if r.Handling.Has("H1") {
		fmt.Fprintf(w, "  H1          not to be disclosed in judicial proceedings without %s's permission\n", r.Origin)
	}
	if ev := r.Evaluation; ev != nil {
		fmt.Fprintf(w, "  evaluation  %s%s\n", ev.Reliability, ev.Credibility)
	}
	var vv []string
	for a, n := range r.Version.Vector {
		vv = append(vv, fmt.Sprintf("%s:%d", a, n))
	}
	sort.Strings(vv)
	fmt.Fprintf(w, "  version     %s, last by %s at %s\n", strings.Join(vv, " "), r.Version.By, r.Version.At)
	fmt.Fprintf(w, "  hash        %s\n", contentHash(r))
	var props []string
	for p := range r.Properties {
		props = append(props, p)
	}
	sort.Strings(props)
	for _, p := range props {
		fmt.Fprintf(w, "  %-20s %s\n", schema.Printable(p), quoteValues(r.Properties[p]))
	}
	var extra []string
	for k := range r.Extra {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, k := range extra {
		fmt.Fprintf(w, "  [%s] %s\n", schema.Printable(k), schema.Printable(string(r.Extra[k])))
	}
}

type exportOptions struct {
	format     string
	typ        string
	deleted    bool
	output     string
	restricted bool
	raw, bom   bool
}

func (o *exportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "jsonl", "jsonl (valise form, envelope included), ftm or csv")
	fs.StringVar(&o.typ, "type", "", "only records of this schema")
	fs.BoolVar(&o.deleted, "deleted", false, "include tombstones")
	fs.StringVarP(&o.output, "output", "o", "", "write to FILE (default: standard output); csv of several types: one file per type into DIRECTORY/")
	fs.BoolVar(&o.restricted, "include-restricted", false, "ftm and csv: also write records above TLP:GREEN or with H1-H3, releasable_to or not_releasable_to, their handling beside them")
	fs.BoolVar(&o.raw, "raw", false, "csv: write cells as they are, even those a spreadsheet runs as formulas (= + - @); unsafe to open in a spreadsheet")
	fs.BoolVar(&o.bom, "bom", false, "csv: begin with a UTF-8 byte order mark, for Excel")
}

func (o *exportOptions) writerOptions() []formats.WriterOption {
	var opts []formats.WriterOption
	if o.raw {
		opts = append(opts, formats.WithUnsafeRawCSV())
	}
	if o.bom {
		opts = append(opts, formats.WithBOM())
	}
	return opts
}

// errRestricted: an export without the envelope would carry restricted
// records.
var errRestricted = errors.New("restricted records")

func init() {
	o := &exportOptions{}
	register(&command{name: "export", args: "[--format jsonl|ftm|csv] [--type T] [-o FILE|DIR/]", short: "dump records as JSON lines, FollowTheMoney or CSV", maxArgs: 0, opts: o,
		example: "  valise export --format ftm > entities.ftm.json\n  valise export --format csv --type Person -o people.csv\n" +
			"  valise export --format csv --bom -o sheets/",
		run: func(e *env, args []string) error {
			var err error
			if o.format, err = normalizeEnum("--format", o.format, exportFormats); err != nil {
				return err
			}
			if o.typ != "" {
				if o.typ, err = normalizeEnum("--type", o.typ, schema.Names()); err != nil {
					return err
				}
			}
			if e.json && o.output == "" && o.format == formats.CSV {
				return usagef("--json writes records as JSON objects: give --format jsonl or ftm, or write the CSV to a file with -o FILE")
			}
			if _, err := formats.NewWriter(io.Discard, o.format, o.writerOptions()...); err != nil {
				return usagef("%v", err)
			}
			if o.typ != "" {
				if _, ok := schema.Get(o.typ); !ok {
					return usagef("unknown type %q", schema.Printable(o.typ))
				}
			}
			var counts map[string]int // csv of all types: records by type
			if o.format == formats.CSV && o.typ == "" {
				var err error
				if counts, err = typeCounts(e, o); err != nil {
					return err
				}
				if !isDir(o.output) {
					switch len(counts) {
					case 0:
					case 1:
						for t := range counts {
							o.typ = t
						}
					default:
						return usagef("the records are of %d types: a CSV file holds one; give --type TYPE, or -o DIRECTORY/ for one file per type", len(counts))
					}
					counts = nil
				}
			}
			if o.format != formats.JSONL {
				if err := checkRestricted(e, o); err != nil {
					return err
				}
			}
			if counts != nil {
				return exportCSVDir(e, o, counts)
			}
			return exportFile(e, o, o.typ, o.output)
		}})
}

// checkRestricted refuses, before anything is written, an export in a
// format without the envelope that would carry restricted records
// without --include-restricted: formats without the envelope do not
// launder handling.
func checkRestricted(e *env, o *exportOptions) error {
	n := 0
	if err := e.office.Store.Each(store.Filter{Type: o.typ, IncludeDeleted: o.deleted}, func(r *schema.Record) error {
		if handling.Restricted(r.Handling) {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	if n > 0 && !o.restricted {
		return fmt.Errorf("%w: %d of the records are above TLP:GREEN or carry H1-H3, releasable_to or not_releasable_to, which --format %s cannot carry; nothing written. Give --include-restricted to write them with their handling (the handling columns in csv, the origin and handling keys in ftm), or export --format jsonl",
			errRestricted, n, o.format)
	}
	return nil
}

// exportFile writes the records of type typ ("" for all) to path, or to
// standard output when path is "". A file is written under a temporary
// name and linked into place once complete: never half-written, never
// replacing another.
func exportFile(e *env, o *exportOptions, typ, path string) error {
	out := e.stdout
	var arr *jsonArrayWriter
	if e.json && path == "" {
		// The records themselves are the document: an object with the
		// records as a list of objects.
		arr = &jsonArrayWriter{w: e.stdout}
		out = arr
	}
	var f *publish.File
	if path != "" {
		// Record content: 0600, published whole or not at all, never over
		// a file (internal/publish: FAT-safe).
		var err error
		if f, err = publish.Create(path, publish.Options{Mode: 0o600, WorkDir: e.office.Home}); err != nil {
			return err
		}
		defer f.Abort()
		out = f
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w, err := formats.NewWriter(bw, o.format, o.writerOptions()...)
	if err != nil {
		return usagef("%v", err)
	}
	if o.format == formats.FtM {
		// Restricted records leave in FtM with their handling beside them.
		w = formats.NewFtMEnvelopeWriter(bw)
	}
	if arr != nil {
		fmt.Fprintf(e.stdout, "{\n  \"format_version\": %d,\n  \"format\": %q,\n  \"records\": [", jsonFormatVersion, o.format)
	}
	filter := store.Filter{Type: typ, IncludeDeleted: o.deleted}
	count := 0
	bar := e.progress(progressRecords, "export", total(e, filter))
	if err := e.office.Store.Each(filter, func(r *schema.Record) error {
		count++
		bar.Add(1)
		return w.Write(r)
	}); err != nil {
		return err
	}
	bar.Finish()
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if arr != nil {
		if err := arr.close(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "],\n  \"count\": %d\n}\n", count)
		return err
	}
	if f != nil {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	if e.json {
		return printDoc(e, map[string]any{"file": path, "format": o.format, "count": count})
	}
	return nil
}

// isDir reports whether path names a directory: one that exists, or one
// to make, written with a final separator ("sheets/").
func isDir(path string) bool {
	if path == "" {
		return false
	}
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator)) {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// typeCounts counts the records export writes, by type.
func typeCounts(e *env, o *exportOptions) (map[string]int, error) {
	counts := map[string]int{}
	err := e.office.Store.Each(store.Filter{IncludeDeleted: o.deleted}, func(r *schema.Record) error {
		if !r.Deleted {
			counts[r.Schema]++
		}
		return nil
	})
	return counts, err
}

// exportCSVDir writes one CSV file per record type held, TYPE.csv, into
// the directory o.output (made if it does not exist). It refuses before
// writing anything when one of the files exists already.
func exportCSVDir(e *env, o *exportOptions, counts map[string]int) error {
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if _, err := os.Lstat(filepath.Join(o.output, t+".csv")); err == nil {
			return fmt.Errorf("%s: file exists (valise does not overwrite files); nothing written", filepath.Join(o.output, t+".csv"))
		}
	}
	if err := os.MkdirAll(o.output, 0o700); err != nil {
		return err
	}
	for _, t := range types {
		path := filepath.Join(o.output, t+".csv")
		if err := exportFile(e, o, t, path); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %d %s records to %s\n", counts[t], t, path)
	}
	return nil
}

// contentHash is r's content hash in hex, as the store keeps it.
func contentHash(r *schema.Record) string {
	sum := r.ContentHash()
	return hex.EncodeToString(sum[:])
}

// handlingLine renders a handling envelope on one line: TLP, the handling
// codes with their meaning, and who may and may not receive it.
func handlingLine(h schema.Handling) string {
	hs := "TLP:" + strings.ToUpper(h.TLP)
	if h.Code != "" {
		hs += " " + h.Code
	}
	if len(h.ReleasableTo) > 0 {
		hs += " releasable to " + strings.Join(h.ReleasableTo, ",")
	}
	if len(h.NotReleasableTo) > 0 {
		hs += " not releasable to " + strings.Join(h.NotReleasableTo, ",")
	}
	if h.RetainUntil != "" {
		hs += " retain until " + h.RetainUntil
	}
	return hs
}

// jsonArrayWriter turns the JSON lines written to it into the elements of
// a JSON list: a comma between lines, the newlines dropped.
type jsonArrayWriter struct {
	w       io.Writer
	n       int
	pending []byte // the line begun and not ended yet
}

func (a *jsonArrayWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			a.pending = append(a.pending, p...)
			break
		}
		line := p[:i]
		if len(a.pending) > 0 {
			line = append(a.pending, line...)
		}
		if err := a.element(line); err != nil {
			return 0, err
		}
		a.pending = a.pending[:0]
		p = p[i+1:]
	}
	return total, nil
}

func (a *jsonArrayWriter) element(line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	sep := ",\n    "
	if a.n == 0 {
		sep = "\n    "
	}
	a.n++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err := a.w.Write(line)
	return err
}

// close writes the last line, if it had no newline, and ends the list's
// last line.
func (a *jsonArrayWriter) close() error {
	if err := a.element(a.pending); err != nil {
		return err
	}
	if a.n > 0 {
		_, err := io.WriteString(a.w, "\n  ")
		return err
	}
	return nil
}
