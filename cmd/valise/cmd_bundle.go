package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"valise/bundle"
	"valise/crypto"
	"valise/exchange"
	"valise/formats"
	"valise/merge"
	"valise/office"
	"valise/schema"
	"valise/store"
	"valise/volume"
)

type packOptions struct {
	to         []string
	all        bool
	resend     bool
	input      string
	format     string
	output     string
	volumeSize string
	parity     string
	report     string
}

func (o *packOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.to, "to", nil, "recipient agency (repeat, or separate with commas, for several)")
	fs.BoolVar(&o.all, "all", false, "send every record the recipients may receive, not only what they lack")
	fs.BoolVar(&o.resend, "resend", false, "also send again what went in bundles the recipients have not acknowledged")
	fs.StringVar(&o.input, "input", "", "pack the records of FILE (valise JSON lines or FtM) instead of the store's")
	fs.StringVar(&o.format, "format", "", "format of --input (jsonl, ftm, csv; default: detect)")
	fs.StringVarP(&o.output, "output", "o", "", "bundle file to create (default AGENCY-DATE-ID.valise)")
	fs.StringVar(&o.volumeSize, "volume-size", "", "split the bundle into volumes of at most SIZE (650M, 4GiB, bytes) with Reed-Solomon parity; automatic below 4 GiB on FAT")
	fs.StringVar(&o.parity, "parity", "10%", "parity volumes as a share of the data volumes (e.g. 10%, 50%, 0 for none)")
	fs.StringVar(&o.report, "report", "", "write what became of every record (sent, recall, withheld and why) to FILE, one JSON object a line")
}

// parseVolumeFlags reads --volume-size and --parity.
func (o *packOptions) parseVolumeFlags() (size int64, parity int, err error) {
	if o.volumeSize != "" {
		n, err := humanize.ParseBytes(o.volumeSize)
		if err != nil || n > 1<<62 {
			return 0, 0, usagef("--volume-size %q: not a size (650M, 4GiB, 1000000)", o.volumeSize)
		}
		size = int64(n)
	}
	p, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(o.parity), "%")))
	if err != nil || p < 0 || p > 100 {
		return 0, 0, usagef("--parity %q: a percentage from 0%% to 100%%", o.parity)
	}
	return size, p, nil
}

// agencies reads repeated and comma-separated agency ids, in capitals.
func agencies(flag string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, a := range strings.Split(v, ",") {
			a = strings.ToUpper(strings.TrimSpace(a))
			if a == "" {
				continue
			}
			if err := schema.CheckAgency(a); err != nil {
				return nil, usagef("%s %q: %v", flag, schema.Printable(a), err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func init() {
	o := &packOptions{}
	register(&command{name: "pack", args: "--to ID[,ID...] [-o FILE|DIR] [--all] [--resend] [--input FILE] [--report FILE]",
		short: "pack records into a signed, encrypted bundle for peers", maxArgs: 0, opts: o,
		example: "  valise pack --to CARICC --to KG-NCB -o /media/usb/kz-week48.valise\n  valise pack --to CARICC,KG-NCB --json --report week48-outcomes.jsonl",
		run: func(e *env, args []string) error {
			to, err := agencies("--to", o.to)
			if err != nil {
				return err
			}
			if len(to) == 0 {
				return usagef("--to is required: the agency (or agencies) to pack for")
			}
			if o.output != "" {
				if _, err := os.Lstat(o.output); err == nil {
					return &fs.PathError{Op: "create", Path: o.output, Err: errNoOverwrite}
				}
			}
			volSize, parity, err := o.parseVolumeFlags()
			if err != nil {
				return err
			}
			report, err := newReportFile(o.report)
			if err != nil {
				return err
			}
			defer report.abort()
			opts := exchange.PackOptions{To: to, All: o.all, Resend: o.resend, Output: o.output, VolumeSize: volSize, Parity: parity}
			if report != nil {
				opts.Withheld = func(w exchange.Withheld) {
					report.add(map[string]any{"id": w.Key.ID, "origin": w.Key.Origin, "outcome": "withheld",
						"recipient": w.Recipient, "reason": w.Reason})
				}
			}
			var bar *meter
			if o.input != "" {
				if o.format != "" {
					if o.format, err = normalizeEnum("--format", o.format, exportFormats); err != nil {
						return err
					}
				}
				f, err := os.Open(o.input)
				if err != nil {
					return err
				}
				defer f.Close()
				bar = e.progress(progressBytes, "pack "+o.input, fileSizes([]string{o.input}))
				opts.Input = &exchange.PackInput{Name: o.input, R: meteredReader{f, bar}, Format: o.format,
					Problem: func(p *formats.Problem) { fmt.Fprintf(e.stderr, "%s\n", schema.Sanitize(p.Error())) }}
			} else if e.interactive() {
				bar = e.progress(progressRecords, "pack", -1)
				opts.Progress = func(done, total int64) {
					bar.SetTotal(total)
					bar.Set(done)
				}
			}
			rep, err := exchange.Pack(e.office, opts)
			bar.Finish()
			if err != nil {
				return err
			}
			// What each record became: from the disclosure register, where
			// the pack's transaction put every record it sent.
			sent := []map[string]any{}
			more := 0
			for _, b := range rep.Bundles {
				if report == nil && !e.json {
					break
				}
				var to []string
				for _, r := range b.Header.Recipients {
					to = append(to, r.Agency)
				}
				err := e.office.Store.BundleDisclosures(b.Header.ID.String(), func(d store.Disclosure) error {
					item := map[string]any{"id": d.ID, "origin": d.Origin, "outcome": d.Outcome, "bundle": b.Header.ID.String(),
						"recipients": to, "version": d.Version, "version_hash": d.VHash}
					if report != nil {
						report.add(item)
						return nil
					}
					if len(sent) == exchange.MaxListed {
						return exchange.ErrStopOutcomes
					}
					sent = append(sent, item)
					return nil
				})
				if err != nil && !errors.Is(err, exchange.ErrStopOutcomes) {
					return err
				}
			}
			if err := report.commit(); err != nil {
				return err
			}
			if report == nil {
				total := 0
				for _, b := range rep.Bundles {
					total += int(b.Records)
				}
				more = max(0, total-len(sent))
			}
			if e.json {
				doc := packJSON(rep)
				doc["sent_records"], doc["more_sent"], doc["report"] = sent, more, o.report
				return printDoc(e, doc)
			}
			for _, b := range rep.Bundles {
				if len(b.Volumes) > 0 {
					fmt.Fprintf(e.stdout, "packed %s into a bundle of %d bytes in %d volumes\n", plural(int(b.Records), "record"), b.Size, len(b.Volumes))
					for _, v := range b.Volumes {
						fmt.Fprintf(e.stdout, "  volume     %s\n", v)
					}
				} else {
					fmt.Fprintf(e.stdout, "packed %s into %s (%d bytes)\n", plural(int(b.Records), "record"), b.File, b.Size)
				}
				fmt.Fprintf(e.stdout, "  bundle     %s\n", b.Header.ID)
				for _, r := range b.Header.Recipients {
					fmt.Fprintf(e.stdout, "  to         %s (key %s), sequence %d\n", r.Agency, r.Fingerprint, r.Sequence)
				}
				fmt.Fprintf(e.stdout, "  payload    hash %s\n", b.PayloadSHA)
				if b.Recalls > 0 {
					fmt.Fprintf(e.stdout, "  recalls    %s the recipient may no longer hold (recall stubs)\n", plural(b.Recalls, "record"))
				}
			}
			if len(rep.Bundles) > 1 {
				fmt.Fprintf(e.stdout, "%d bundles: records that some recipients may receive and others not went in a bundle for each recipient that may\n", len(rep.Bundles))
			}
			for _, a := range to {
				if r := rep.Receipts[a]; r != "" {
					fmt.Fprintf(e.stdout, "  receipts   %s's bundles imported here: %s\n", a, r)
				}
				if r := rep.Resent[a]; r != "" {
					fmt.Fprintf(e.stdout, "  re-sends   the records of our bundles to %s never acknowledged: %s\n", a, r)
				}
			}
			for _, st := range rep.Statements {
				fmt.Fprintf(e.stdout, "  statement  %s (signed by key %s)\n", st, rep.Bundles[0].Header.SenderKey)
			}
			printWithheld(e, rep.Withheld)
			if rep.Note != "" {
				fmt.Fprintf(e.stdout, "note: %s\n", rep.Note)
			}
			if o.report != "" {
				fmt.Fprintf(e.stdout, "wrote what became of every record to %s\n", o.report)
			}
			return nil
		}})
}

// packJSON is pack's --json output: the joint bundle's fields at the top
// (file, bundle, recipients, …), every bundle in "bundles", and the
// records withheld.
func packJSON(rep *exchange.PackReport) map[string]any {
	var bundles []map[string]any
	for _, b := range rep.Bundles {
		bundles = append(bundles, map[string]any{"file": b.File, "bundle": b.Header.ID.String(), "recipients": recipientsJSON(b.Header.Recipients),
			"records": b.Records, "recalls": b.Recalls, "bytes": b.Size, "payload_hash": b.PayloadSHA, "volumes": nonNil(b.Volumes)})
	}
	withheld := []map[string]any{}
	for _, w := range rep.WithheldList {
		withheld = append(withheld, map[string]any{"id": w.Key.ID, "origin": w.Key.Origin, "outcome": "withheld", "recipient": w.Recipient, "reason": w.Reason})
	}
	out := map[string]any{}
	for k, v := range bundles[0] {
		out[k] = v
	}
	receipts := map[string]string{}
	for k, v := range rep.Receipts {
		receipts[k] = v
	}
	out["bundles"] = bundles
	out["withheld"] = rep.Withheld
	out["withheld_records"] = withheld
	out["more_withheld"] = rep.MoreWithheld
	out["note"] = rep.Note
	out["statements"] = nonNil(rep.Statements)
	out["receipts"] = receipts
	out["resent"] = rep.Resent
	out["signer"] = rep.Bundles[0].Header.SenderKey
	return out
}

// recipientsJSON lists a header's recipients as objects.
func recipientsJSON(rs []bundle.Recipient) []map[string]any {
	out := []map[string]any{}
	for _, r := range rs {
		out = append(out, map[string]any{"agency": r.Agency, "fingerprint": r.Fingerprint, "sequence": r.Sequence})
	}
	return out
}

func printWithheld(e *env, w map[string]map[string]int) {
	var peers []string
	for p := range w {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	for _, p := range peers {
		var reasons []string
		for r := range w[p] {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(e.stdout, "  withheld   %s from %s: %s\n", plural(w[p][r], "record"), p, r)
		}
	}
}

type verifyOptions struct{ cards, statements []string }

func (o *verifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.cards, "card", nil, "trust this card FILE (repeat); works without any office home")
	fs.StringArrayVar(&o.statements, "statement", nil, "apply the key rotations and revocations in FILE (written by valise key statements; repeat)")
}

type verifyJSON struct {
	File          string          `json:"file"`
	OK            bool            `json:"ok"`
	Error         *errorObject    `json:"error,omitempty"`
	Bundle        string          `json:"bundle"`
	Sender        string          `json:"sender"`
	SenderKey     string          `json:"sender_key"`
	Created       string          `json:"created"`
	Recipients    []recipientJSON `json:"recipients"`
	Records       *uint64         `json:"records"`
	PayloadOffset int64           `json:"payload_offset"`
	PayloadLength int64           `json:"payload_length"`
	PayloadSHA256 string          `json:"payload_hash"`
	Schema        string          `json:"schema"`
	Encryption    string          `json:"encryption"`
	Volumes       *volumesJSON    `json:"volumes,omitempty"`
}

// volumesJSON tells what reading a bundle from volumes found and rebuilt.
type volumesJSON struct {
	Set           string           `json:"set"`
	Volumes       int              `json:"volumes"`
	Needed        int              `json:"needed"`
	Missing       []string         `json:"missing,omitempty"`
	Damaged       map[string][]int `json:"damaged_blocks,omitempty"`
	BlockSize     int              `json:"block_size"`
	RebuiltBlocks int64            `json:"rebuilt_blocks"`
	Problems      []string         `json:"problems,omitempty"`
}

func volumesOf(r *volume.Report) *volumesJSON {
	if r == nil {
		return nil
	}
	return &volumesJSON{Set: r.Set, Volumes: r.Volumes, Needed: r.Data, Missing: r.Missing, Damaged: r.Damaged,
		BlockSize: r.BlockSize, RebuiltBlocks: r.RebuiltBlocks, Problems: r.Problems}
}

// printVolumes says what a set of volumes lacked and what was rebuilt.
func printVolumes(w io.Writer, r *volume.Report) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "  volumes     %s\n", schema.Printable(r.String()))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  volumes     %s\n", schema.Printable(p))
	}
	if r.RebuiltBlocks > 0 {
		fmt.Fprintf(w, "  repaired    %d blocks of %d bytes rebuilt from parity\n", r.RebuiltBlocks, r.BlockSize)
	}
}

type recipientJSON struct {
	Agency      string `json:"agency"`
	Fingerprint string `json:"fingerprint"`
	Sequence    uint64 `json:"sequence"`
	Card        string `json:"card"`
}

func init() {
	o := &verifyOptions{}
	register(&command{name: "verify", args: "FILE|DIR... (--card CARD... | --home DIR)", short: "auditor check of bundles with public cards only: signature, integrity, addressing",
		noHome: true, minArgs: 1, maxArgs: -1, opts: o,
		example: "  valise verify --card kz-ncb.card /media/usb\n  valise verify --card kz-ncb.card --card caricc.card kz-week48.valise\n  valise verify --card kz-ncb.card --statement kz-ncb.statements /media/usb   (the office's key rotations and revocations)",
		run: func(e *env, args []string) error {
			kr := crypto.NewKeyring()
			have := false
			// The auditor's answer must not depend on the machine: the
			// cards given, and an office's keyring only when its home is
			// named (--home or $VALISE_HOME), never ~/.valise by default.
			if e.homeExplicit || len(o.cards) == 0 {
				if off, err := office.OpenWith(e.home, passphrase); err == nil {
					defer off.Close()
					k, err := off.Keyring()
					if err != nil {
						return err
					}
					kr, have = k, true
				} else if !errors.Is(err, office.ErrNoHome) {
					// A home that holds an office but cannot be read: the
					// auditor must learn it rather than get a verdict without
					// its keyring (and its revocations). A directory with no
					// office at all is an auditor's, who has only cards.
					return err
				}
			}
			for _, path := range o.cards {
				c, err := office.ReadCard(path)
				if err != nil {
					return err
				}
				kr.Add(c)
				have = true
			}
			if !have {
				return usagef("no cards to verify against: pass --card FILE (an auditor needs only the offices' public cards)")
			}
			for _, path := range o.statements {
				data, err := office.ReadLimited(path, crypto.MaxStatementFile)
				if err != nil {
					return err
				}
				sts, err := crypto.ParseStatements(data)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				notes, unchecked, err := kr.Apply(sts)
				for _, n := range notes {
					fmt.Fprintf(e.stderr, "%s: %s\n", path, schema.Sanitize(n))
				}
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				for _, st := range unchecked {
					fmt.Fprintf(e.stderr, "%s: statement of %s about key %s not checked: no card given for that key\n", path, st.Agency, st.Key)
				}
			}
			// A directory (a courier's stick) is every file in it: a line
			// for each, and a totals line.
			paths, skipped, err := expandDirs(args)
			if err != nil {
				return err
			}
			var first error
			out := []verifyJSON{}
			var t totals
			for _, path := range exchange.OneVolumePerSet(paths) {
				bar := e.progress(progressBytes, "verify "+path, fileSizes([]string{path}))
				v := exchange.Verify(path, kr, exchange.WithProgress(bar.SetMonotonic))
				bar.Finish()
				j := verdictJSON(v)
				out = append(out, j)
				t.add(v.Err)
				if v.Err != nil && moreSerious(v.Err, first) {
					first = fmt.Errorf("%s: %w", path, v.Err)
				}
				if !e.json {
					printVerdict(e, v)
				}
			}
			for _, s := range skipped {
				t.skipped++
				if !e.json {
					fmt.Fprintf(e.stdout, "%s: skipped, not a valise bundle\n", schema.Printable(s))
				}
			}
			if e.json {
				return printResult(e, map[string]any{"files": out, "skipped": nonNil(skipped), "totals": t.json(), "ok": first == nil}, first)
			}
			if len(args) > 1 || len(paths) > 1 || len(skipped) > 0 || len(paths) != len(args) {
				fmt.Fprintf(e.stdout, "%s\n", t.line("verified"))
			}
			return first
		}})
}

// silent is an error already reported on standard output.
type silent struct{ error }

func (s silent) Unwrap() error { return s.error }

func verdictJSON(v *exchange.Verdict) verifyJSON {
	j := verifyJSON{File: v.File, OK: v.OK(), Recipients: []recipientJSON{}, Volumes: volumesOf(v.Volumes)}
	if v.Err != nil {
		j.Error = newErrorObject(v.Err)
	}
	if h := v.Header; h != nil {
		j.Bundle, j.Sender, j.SenderKey, j.Created = h.ID.String(), h.Sender, h.SenderKey, h.Created.Format(time.RFC3339)
		j.Schema, j.Encryption, j.PayloadOffset = h.Schema, h.Encryption, v.PayloadOffset
		for _, r := range h.Recipients {
			j.Recipients = append(j.Recipients, recipientJSON{r.Agency, r.Fingerprint, r.Sequence, v.RecipientCards[r.Agency]})
		}
	}
	if t := v.Trailer; t != nil {
		n := t.Records
		j.Records, j.PayloadLength, j.PayloadSHA256 = &n, t.PayloadLength, v.PayloadSHA()
	}
	return j
}

func printVerdict(e *env, v *exchange.Verdict) {
	w := e.stdout
	fmt.Fprintf(w, "%s\n", schema.Printable(v.File))
	if h := v.Header; h != nil {
		fmt.Fprintf(w, "  bundle      %s\n  created     %s\n", h.ID, h.Created.Format(time.RFC3339))
		fmt.Fprintf(w, "  sender      %s (key %s)\n", h.Sender, h.SenderKey)
		for _, r := range h.Recipients {
			fmt.Fprintf(w, "  recipient   %s (key %s) sequence %d, card %s\n", r.Agency, r.Fingerprint, r.Sequence, v.RecipientCards[r.Agency])
		}
	}
	if t := v.Trailer; t != nil {
		fmt.Fprintf(w, "  records     %d\n  payload     %d bytes at offset %d, hash %s\n", t.Records, t.PayloadLength, v.PayloadOffset, v.PayloadSHA())
	}
	printVolumes(w, v.Volumes)
	if v.Err != nil {
		fmt.Fprintf(w, "  verdict     FAILED: %s\n", schema.Sanitize(v.Err.Error()))
		return
	}
	fmt.Fprintf(w, "  verdict     OK: signed by %s, intact, addressed to %s\n", v.Header.Sender, recipients(v))
}

func recipients(v *exchange.Verdict) string {
	var s []string
	for _, r := range v.Header.Recipients {
		s = append(s, r.Agency)
	}
	return strings.Join(s, ", ")
}

type importOptions struct {
	dryRun bool
	report string
}

func (o *importOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.dryRun, "dry-run", false, "check and merge, report, then roll back: the store is not changed")
	fs.StringVar(&o.report, "report", "", "write what became of every record (inserted, updated, conflict, stale, …) to FILE, one JSON object a line")
}

type importJSON struct {
	File      string         `json:"file"`
	OK        bool           `json:"ok"`
	Error     *errorObject   `json:"error,omitempty"`
	Bundle    string         `json:"bundle"`
	Sender    string         `json:"sender"`
	Sequence  uint64         `json:"sequence"`
	Created   string         `json:"created"`
	Records   uint64         `json:"records"`
	Counts    map[string]int `json:"counts"`
	Conflicts []conflictJSON `json:"conflicts"`
	Unknown   []string       `json:"unknown_endpoints"`
	// More* count what the lists above leave out (exchange.MaxListed).
	MoreConflicts int       `json:"more_conflicts"`
	MoreUnknown   int       `json:"more_unknown_endpoints"`
	Missing       []gapJSON `json:"missing"`
	Resent        []uint64  `json:"resent"`
	KeyNotes      []string  `json:"keyring"`
	Acknowledged  int       `json:"acknowledged"`
	Recalled      int       `json:"recalled"`
	DryRun        bool      `json:"dry_run"`
	// Duplicates counts the likely duplicates of the records imported;
	// null when the import did not look (valise duplicates lists them).
	Duplicates *int         `json:"likely_duplicates"`
	Volumes    *volumesJSON `json:"volumes,omitempty"`
	// Outcomes says what became of each record, the first MaxListed
	// (all of them go to --report FILE instead).
	Outcomes     []outcomeJSON `json:"outcomes"`
	MoreOutcomes int           `json:"more_outcomes"`
}

// outcomeJSON is what an import made of one record of a bundle.
type outcomeJSON struct {
	ID          string `json:"id"`
	Origin      string `json:"origin"`
	Outcome     string `json:"outcome"`
	Version     string `json:"version"`
	VersionHash string `json:"version_hash"`
}

func init() {
	o := &importOptions{}
	register(&command{name: "import", args: "FILE|DIR... [--dry-run] [--report FILE]", short: "verify, decrypt, validate and merge bundles from peers",
		minArgs: 1, maxArgs: -1, opts: o,
		example: "  valise import /media/usb\n  valise import --dry-run kz-week48.valise\n  valise import --json --report week48-records.jsonl /media/usb",
		run: func(e *env, args []string) error {
			// A directory (a courier's stick): its bundles in import
			// order; this office's own outgoing bundles and those already
			// imported are skipped with a note, no refusal (a file named
			// on its own is imported, and a replay refused).
			var files []string
			skippedFiles := []map[string]string{}
			var t totals
			for _, a := range args {
				st, err := os.Stat(a)
				if err != nil {
					return err
				}
				if !st.IsDir() {
					files = append(files, a)
					continue
				}
				found, err := exchange.BundleFiles(e.office, a)
				if err != nil {
					return err
				}
				for _, sf := range found {
					if sf.Skip == "" {
						files = append(files, sf.Path)
						continue
					}
					t.skipped++
					skippedFiles = append(skippedFiles, map[string]string{"file": sf.Path, "reason": sf.Skip})
					if !e.json {
						fmt.Fprintf(e.stdout, "%s: skipped, %s\n", schema.Printable(sf.Path), sf.Skip)
					}
				}
			}
			files = exchange.OneVolumePerSet(files)
			report, err := newReportFile(o.report)
			if err != nil {
				return err
			}
			defer report.abort()
			var first error
			out := []importJSON{}
			for _, f := range files {
				j := importJSON{File: f, DryRun: o.dryRun, Counts: map[string]int{}, Conflicts: []conflictJSON{}, Unknown: []string{},
					Missing: []gapJSON{}, Resent: []uint64{}, KeyNotes: []string{}, Outcomes: []outcomeJSON{}}
				line := func(h *bundle.Header, d store.Disclosure) error {
					report.add(map[string]any{"file": f, "bundle": h.ID.String(), "sender": h.Sender, "id": d.ID, "origin": d.Origin,
						"outcome": d.Outcome, "version": d.Version, "version_hash": d.VHash, "dry_run": o.dryRun})
					return nil
				}
				// The outcomes come from the import's transaction once every
				// check has passed; the report of an import that commits is
				// read from the register after the commit (a dry run's
				// register is rolled back with the rest).
				bar := e.progress(progressBytes, "import "+f, fileSizes([]string{f}))
				opts := []exchange.Option{exchange.WithProgress(bar.SetMonotonic)}
				switch {
				case report != nil && o.dryRun:
					opts = append(opts, exchange.WithOutcomes(line))
				case report == nil && e.json:
					opts = append(opts, exchange.WithOutcomes(func(h *bundle.Header, d store.Disclosure) error {
						if len(j.Outcomes) == exchange.MaxListed {
							return exchange.ErrStopOutcomes
						}
						j.Outcomes = append(j.Outcomes, outcomeJSON{d.ID, d.Origin, d.Outcome, d.Version, d.VHash})
						return nil
					}))
				}
				rep, err := exchange.Import(e.office, f, o.dryRun, opts...)
				bar.Finish()
				j.OK, j.Records, j.Volumes = err == nil, rep.Records, volumesOf(rep.Volumes)
				if h := rep.Header; h != nil {
					j.Bundle, j.Sender, j.Created = h.ID.String(), h.Sender, h.Created.Format(time.RFC3339)
					if r, ok := h.Recipient(e.office.Agency()); ok {
						j.Sequence = r.Sequence
					}
				}
				t.add(err)
				if err != nil {
					j.Error = newErrorObject(err)
					j.Outcomes, j.MoreOutcomes = []outcomeJSON{}, 0
					if moreSerious(err, first) {
						first = fmt.Errorf("%s: %w", f, err)
					}
				} else {
					if report != nil && !o.dryRun {
						if err := e.office.Store.BundleDisclosures(j.Bundle, func(d store.Disclosure) error { return line(rep.Header, d) }); err != nil {
							return err
						}
					}
					for k := merge.Inserted; k <= merge.DeleteModify; k++ {
						j.Counts[k.String()] = rep.Counts[k]
					}
					j.Conflicts = conflictsJSON(rep.Conflicts)
					j.Unknown, j.Missing, j.KeyNotes = nonNil(rep.UnknownEndpoints), gapsJSON(rep.Missing), nonNil(rep.KeyNotes)
					j.Recalled, j.Acknowledged, j.Resent = rep.Recalled, rep.Acknowledged, nonNil(rep.Resent)
					if report == nil {
						j.MoreOutcomes = max(0, int(rep.Records)-rep.Skipped-len(j.Outcomes))
					}
					j.MoreConflicts, j.MoreUnknown = rep.MoreConflicts, rep.MoreUnknown
					if !rep.DuplicatesSkipped {
						j.Duplicates = &rep.Duplicates
					}
				}
				out = append(out, j)
				if !e.json {
					printImport(e, rep, err)
				}
			}
			if err := report.commit(); err != nil {
				if first == nil {
					first = err
				}
			}
			if e.json {
				return printResult(e, map[string]any{"bundles": out, "skipped": skippedFiles, "totals": t.json(), "ok": first == nil,
					"dry_run": o.dryRun, "report": o.report}, first)
			}
			if len(files) > 1 || t.skipped > 0 {
				fmt.Fprintf(e.stdout, "%s\n", t.line("imported"))
			}
			if o.report != "" && first == nil {
				fmt.Fprintf(e.stdout, "wrote what became of every record to %s\n", o.report)
			}
			return first
		}})
}

func printImport(e *env, rep *exchange.ImportReport, err error) {
	w := e.stdout
	what := "import"
	if rep.DryRun {
		what = "import --dry-run"
	}
	fmt.Fprintf(w, "%s %s\n", what, schema.Printable(rep.File))
	if h := rep.Header; h != nil {
		seq := uint64(0)
		if r, ok := h.Recipient(e.office.Agency()); ok {
			seq = r.Sequence
		}
		fmt.Fprintf(w, "  bundle      %s from %s, sequence %d, created %s\n", h.ID, h.Sender, seq, h.Created.Format(time.RFC3339))
	}
	printVolumes(w, rep.Volumes)
	if err != nil {
		fmt.Fprintf(w, "  REFUSED     %s\n  store unchanged\n", schema.Sanitize(err.Error()))
		return
	}
	fmt.Fprintf(w, "  records     %d: %s\n", rep.Records, exchange.CountsLine(rep.Counts))
	if rep.Recalled > 0 {
		fmt.Fprintf(w, "  recalled    %d records this office may no longer hold: their content is purged, a stub says who recalled them (valise show ID)\n", rep.Recalled)
	}
	if rep.RecallsIgnored > 0 {
		fmt.Fprintf(w, "  note        %d recalls of records this office may still hold under their handling: ignored\n", rep.RecallsIgnored)
	}
	for _, c := range rep.Conflicts {
		printConflict(w, "  ", c)
	}
	if rep.MoreConflicts > 0 {
		fmt.Fprintf(w, "  note        %d more conflicts, not shown (valise conflicts lists them all)\n", rep.MoreConflicts)
	}
	for _, n := range rep.KeyNotes {
		fmt.Fprintf(w, "  KEYRING     %s\n", schema.Printable(n))
	}
	if rep.Skipped > 0 {
		fmt.Fprintf(w, "  note        %d records not imported: the bundle is signed by the key its own statement revokes\n", rep.Skipped)
	}
	if rep.Acknowledged > 0 {
		fmt.Fprintf(w, "  receipts    %d of our bundles to %s acknowledged\n", rep.Acknowledged, rep.Header.Sender)
	}
	for _, seq := range rep.Resent {
		fmt.Fprintf(w, "  gap closed  bundle %d from %s never arrived; its records came again in this one\n", seq, rep.Header.Sender)
	}
	for _, g := range rep.Missing {
		fmt.Fprintf(w, "  MISSING     %s\n", g)
	}
	for i, u := range rep.UnknownEndpoints {
		if i == 20 {
			fmt.Fprintf(w, "  note        %d more links to unknown records\n", len(rep.UnknownEndpoints)-20+rep.MoreUnknown)
			break
		}
		fmt.Fprintf(w, "  note        link %s: endpoint not held here\n", schema.Printable(u))
	}
	switch {
	case rep.DuplicatesSkipped && !rep.DryRun:
		fmt.Fprintf(w, "  duplicates  not looked for (more than %d records changed): run valise duplicates\n", exchange.MaxImportDuplicateCheck)
	case rep.Duplicates > 0:
		fmt.Fprintf(w, "  duplicates  %d likely duplicates of the records imported: run valise duplicates\n", rep.Duplicates)
	}
	if rep.DryRun {
		fmt.Fprintf(w, "  dry run: nothing was changed\n")
	}
}

func quoteValues(v []string) string {
	if len(v) == 0 {
		return "(none)"
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", schema.Printable(s))
	}
	return strings.Join(q, ", ")
}

// printConflict prints one open conflict as a readable block: every
// candidate value with the change that wrote it.
func printConflict(w io.Writer, indent string, c store.Conflict) {
	what := "CONFLICT"
	if c.Property == merge.KeyDeleted {
		what = "DELETE/MODIFY CONFLICT"
	}
	fmt.Fprintf(w, "%s%s  record %s, property %s", indent, what, schema.Printable(c.ID), schema.Printable(c.Property))
	if c.Bundle != "" {
		fmt.Fprintf(w, " (from bundle %s)", c.Bundle)
	}
	fmt.Fprintln(w)
	for i, cand := range c.Candidates {
		note := ""
		if i == 0 {
			note = "   <- shown until resolved"
		}
		agency, _, _ := strings.Cut(cand.Dot, ":")
		fmt.Fprintf(w, "%s    %-12s change %-14s %s%s\n", indent, agency, cand.Dot, quoteValues(cand.Values), note)
	}
}

var errNoOverwrite = errors.New("file exists; valise never overwrites a file")

// totals counts the files of a verify or import of several files.
type totals struct {
	ok, skipped int
	failed      map[int]int // exit code → files
}

func (t *totals) add(err error) {
	if err == nil {
		t.ok++
		return
	}
	if t.failed == nil {
		t.failed = map[int]int{}
	}
	t.failed[exitCode(err)]++
}

// line is the totals line: "5 files: 2 verified, 3 failed (1 authentication failed, 2 replay or ordering), 1 skipped".
func (t *totals) line(ok string) string {
	n, bad := t.ok+t.skipped, 0
	var parts []string
	for _, c := range exitOrder {
		if k := t.failed[c]; k > 0 {
			bad += k
			parts = append(parts, fmt.Sprintf("%d %s", k, exitPhrases[c]))
		}
	}
	n += bad
	s := fmt.Sprintf("%s: %d %s, %d failed", plural(n, "file"), t.ok, ok, bad)
	if bad > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if t.skipped > 0 {
		s += fmt.Sprintf(", %d skipped", t.skipped)
	}
	return s
}

func (t *totals) json() map[string]any {
	failed := map[string]int{}
	for c, k := range t.failed {
		failed[strconv.Itoa(c)] = k
	}
	return map[string]any{"ok": t.ok, "skipped": t.skipped, "failed": failed}
}

// expandDirs replaces each directory of args by the regular files in it,
// in name order, and returns, apart, the files that are no bundle (nor
// volume).
func expandDirs(args []string) (paths, skipped []string, err error) {
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			paths = append(paths, a) // Verify says what is wrong with it
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(a, e.Name())
			if isBundleFile(p) {
				paths = append(paths, p)
			} else {
				skipped = append(skipped, p)
			}
		}
	}
	return paths, skipped, nil
}

// isBundleFile reports whether a file starts like a bundle or a volume.
func isBundleFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 32)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	return bytes.HasPrefix(head, []byte("valise-bundle/")) || bytes.HasPrefix(head, []byte(volume.Magic))
}
