package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"valise/bundle"
	"valise/crypto"
	"valise/exchange"
	"valise/formats"
	"valise/merge"
	"valise/office"
	"valise/schema"
	"valise/store"
)

type packOptions struct {
	to     []string
	all    bool
	resend bool
	input  string
	format string
	output string
}

func (o *packOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.to, "to", nil, "recipient agency (repeat for several)")
	fs.BoolVar(&o.all, "all", false, "send every record the recipients may receive, not only what they lack")
	fs.BoolVar(&o.resend, "resend", false, "also send again what went in bundles the recipients have not acknowledged")
	fs.StringVar(&o.input, "input", "", "pack the records of FILE (valise JSON lines or FtM) instead of the store's")
	fs.StringVar(&o.format, "format", "", "format of --input (jsonl, ftm, csv; default: detect)")
	fs.StringVarP(&o.output, "output", "o", "", "bundle file to create (default AGENCY-DATE-ID.valise)")
}

func init() {
	o := &packOptions{}
	register(&command{name: "pack", short: "pack records into a signed, encrypted bundle for peers", maxArgs: 0, opts: o,
		example: "  valise pack --to CARICC --to KG-NCB -o /media/usb/kz-week48.valise",
		run: func(e *env, args []string) error {
			if len(o.to) == 0 {
				return usagef("--to is required")
			}
			if o.output != "" {
				if _, err := os.Lstat(o.output); err == nil {
					return &fs.PathError{Op: "create", Path: o.output, Err: errNoOverwrite}
				}
			}
			opts := exchange.PackOptions{To: o.to, All: o.all, Resend: o.resend, Output: o.output}
			if o.input != "" {
				f, err := os.Open(o.input)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.Input = &exchange.PackInput{Name: o.input, R: f, Format: o.format,
					Problem: func(p *formats.Problem) { fmt.Fprintf(e.stderr, "%s\n", schema.Sanitize(p.Error())) }}
			}
			rep, err := exchange.Pack(e.office, opts)
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.stdout, packJSON(rep))
			}
			for _, b := range rep.Bundles {
				fmt.Fprintf(e.stdout, "packed %d records into %s (%d bytes)\n", b.Records, b.File, b.Size)
				fmt.Fprintf(e.stdout, "  bundle     %s\n", b.Header.ID)
				for _, r := range b.Header.Recipients {
					fmt.Fprintf(e.stdout, "  to         %s (key %s), sequence %d\n", r.Agency, r.Fingerprint, r.Sequence)
				}
				fmt.Fprintf(e.stdout, "  payload    hash %s\n", b.PayloadSHA)
				if b.Recalls > 0 {
					fmt.Fprintf(e.stdout, "  recalls    %d records the recipient may no longer hold (recall stubs)\n", b.Recalls)
				}
			}
			if len(rep.Bundles) > 1 {
				fmt.Fprintf(e.stdout, "%d bundles: records that some recipients may receive and others not went in a bundle for each recipient that may\n", len(rep.Bundles))
			}
			for _, a := range o.to {
				if r := rep.Receipts[a]; r != "" {
					fmt.Fprintf(e.stdout, "  receipts   %s's bundles imported here: %s\n", a, r)
				}
			}
			for _, st := range rep.Statements {
				fmt.Fprintf(e.stdout, "  statement  %s (signed by key %s)\n", st, rep.Bundles[0].Header.SenderKey)
			}
			printWithheld(e, rep.Withheld)
			if rep.Note != "" {
				fmt.Fprintf(e.stdout, "note: %s\n", rep.Note)
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
			"records": b.Records, "recalls": b.Recalls, "bytes": b.Size, "payload_hash": b.PayloadSHA})
	}
	withheld := []map[string]any{}
	for _, w := range rep.WithheldList {
		withheld = append(withheld, map[string]any{"id": w.Key.ID, "origin": w.Key.Origin, "recipient": w.Recipient, "reason": w.Reason})
	}
	out := map[string]any{}
	for k, v := range bundles[0] {
		out[k] = v
	}
	out["bundles"] = bundles
	out["withheld"] = rep.Withheld
	out["withheld_records"] = withheld
	out["withheld_more"] = rep.MoreWithheld
	out["note"] = rep.Note
	out["statements"] = rep.Statements
	out["receipts"] = rep.Receipts
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
			fmt.Fprintf(e.stdout, "  withheld   %d records from %s: %s\n", w[p][r], p, r)
		}
	}
}

type verifyOptions struct{ cards, statements []string }

func (o *verifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.cards, "card", nil, "trust this card FILE (repeat); works without any office home")
	fs.StringArrayVar(&o.statements, "statement", nil, "apply the key rotations and revocations in FILE (written by valise key statements; repeat)")
}

type verifyJSON struct {
	File          string            `json:"file"`
	OK            bool              `json:"ok"`
	Check         string            `json:"check,omitempty"`
	Error         string            `json:"error,omitempty"`
	Bundle        string            `json:"bundle,omitempty"`
	Sender        string            `json:"sender,omitempty"`
	SenderKey     string            `json:"sender_key,omitempty"`
	Created       string            `json:"created,omitempty"`
	Recipients    []recipientJSON   `json:"recipients,omitempty"`
	Records       *uint64           `json:"records,omitempty"`
	PayloadOffset int64             `json:"payload_offset,omitempty"`
	PayloadLength int64             `json:"payload_length,omitempty"`
	PayloadSHA256 string            `json:"payload_hash,omitempty"`
	Schema        string            `json:"schema,omitempty"`
	Encryption    string            `json:"encryption,omitempty"`
	Extra         map[string]string `json:"-"`
}

type recipientJSON struct {
	Agency      string `json:"agency"`
	Fingerprint string `json:"fingerprint"`
	Sequence    uint64 `json:"sequence"`
	Card        string `json:"card"`
}

func init() {
	o := &verifyOptions{}
	register(&command{name: "verify", args: "FILE...", short: "auditor check of bundles with public cards only: signature, integrity, addressing",
		noHome: true, minArgs: 1, maxArgs: -1, opts: o,
		example: "  valise verify --card kz-ncb.card /media/usb/*.valise\n  valise verify --card kz-ncb.card --statement kz-ncb.statements /media/usb/*.valise   (the office's key rotations and revocations)",
		run: func(e *env, args []string) error {
			kr := crypto.NewKeyring()
			have := false
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
			var first error
			var out []verifyJSON
			for _, path := range args {
				v := exchange.Verify(path, kr)
				j := verdictJSON(v)
				out = append(out, j)
				if v.Err != nil && (first == nil || exitCode(v.Err) > exitCode(first)) {
					first = fmt.Errorf("%s: %w", path, v.Err)
				}
				if !e.json {
					printVerdict(e, v)
				}
			}
			if e.json {
				printJSON(e.stdout, out)
				if first != nil {
					return silent{first}
				}
			}
			return first
		}})
}

// silent is an error already reported on standard output.
type silent struct{ error }

func (s silent) Unwrap() error { return s.error }

func verdictJSON(v *exchange.Verdict) verifyJSON {
	j := verifyJSON{File: v.File, OK: v.OK()}
	if v.Err != nil {
		j.Error, j.Check = v.Err.Error(), checkOf(v.Err)
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

type importOptions struct{ dryRun bool }

func (o *importOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.dryRun, "dry-run", false, "check and merge, report, then roll back: the store is not changed")
}

type importJSON struct {
	File      string         `json:"file"`
	OK        bool           `json:"ok"`
	Error     string         `json:"error,omitempty"`
	Check     string         `json:"check,omitempty"`
	Bundle    string         `json:"bundle,omitempty"`
	Sender    string         `json:"sender,omitempty"`
	Sequence  uint64         `json:"sequence,omitempty"`
	Records   uint64         `json:"records"`
	Counts    map[string]int `json:"counts,omitempty"`
	Conflicts []any          `json:"conflicts,omitempty"`
	Unknown   []string       `json:"unknown_endpoints,omitempty"`
	// More* count what the lists above leave out (exchange.MaxListed).
	MoreConflicts int            `json:"more_conflicts,omitempty"`
	MoreUnknown   int            `json:"more_unknown_endpoints,omitempty"`
	Missing       []exchange.Gap `json:"missing,omitempty"`
	KeyNotes      []string       `json:"keyring,omitempty"`
	Recalled      int            `json:"recalled"`
	DryRun        bool           `json:"dry_run,omitempty"`
	// Duplicates counts the likely duplicates of the records imported;
	// null when the import did not look (valise duplicates lists them).
	Duplicates *int `json:"likely_duplicates"`
}

func init() {
	o := &importOptions{}
	register(&command{name: "import", args: "FILE|DIR...", short: "verify, decrypt, validate and merge bundles from peers",
		minArgs: 1, maxArgs: -1, opts: o,
		example: "  valise import /media/usb\n  valise import --dry-run kz-week48.valise",
		run: func(e *env, args []string) error {
			var files []string
			for _, a := range args {
				st, err := os.Stat(a)
				if err != nil {
					return err
				}
				if !st.IsDir() {
					files = append(files, a)
					continue
				}
				b, skipped, err := exchange.BundleFiles(e.office, a)
				if err != nil {
					return err
				}
				for _, s := range skipped {
					if !e.json {
						fmt.Fprintf(e.stdout, "%s: skipped, not a valise bundle\n", schema.Printable(s))
					}
				}
				files = append(files, b...)
			}
			var first error
			var out []importJSON
			for _, f := range files {
				rep, err := exchange.Import(e.office, f, o.dryRun)
				j := importJSON{File: f, OK: err == nil, DryRun: o.dryRun, Records: rep.Records}
				if h := rep.Header; h != nil {
					j.Bundle, j.Sender = h.ID.String(), h.Sender
					if r, ok := h.Recipient(e.office.Agency()); ok {
						j.Sequence = r.Sequence
					}
				}
				if err != nil {
					j.Error, j.Check = err.Error(), checkOf(err)
					if first == nil || exitCode(err) > exitCode(first) {
						first = fmt.Errorf("%s: %w", f, err)
					}
				} else {
					j.Counts = map[string]int{}
					for k := merge.Inserted; k <= merge.DeleteModify; k++ {
						j.Counts[k.String()] = rep.Counts[k]
					}
					for _, c := range rep.Conflicts {
						j.Conflicts = append(j.Conflicts, c)
					}
					j.Unknown, j.Missing, j.KeyNotes = rep.UnknownEndpoints, rep.Missing, rep.KeyNotes
					j.Recalled = rep.Recalled
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
			if e.json {
				printJSON(e.stdout, out)
				if first != nil {
					return silent{first}
				}
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
