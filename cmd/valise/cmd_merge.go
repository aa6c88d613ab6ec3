package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"valise/change"
	"valise/internal/publish"
	"valise/match"
	"valise/merge"
	"valise/office"
	"valise/schema"
	"valise/store"
)

type editOptions struct{ set, add, remove []string }

func (o *editOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.set, "set", nil, "replace PROP's values with VALUE (repeat for several values; empty VALUE clears)")
	fs.StringArrayVar(&o.add, "add", nil, "add VALUE to PROP")
	fs.StringArrayVar(&o.remove, "remove", nil, "remove VALUE from PROP")
}

func (o *editOptions) ops() ([]change.Op, error) {
	var ops []change.Op
	for _, l := range []struct {
		kind string
		vals []string
	}{{"set", o.set}, {"add", o.add}, {"remove", o.remove}} {
		for _, v := range l.vals {
			op, err := change.ParseOp(l.kind, v)
			if err != nil {
				return nil, usagef("%v", err)
			}
			ops = append(ops, op)
		}
	}
	return ops, nil
}

func printEdit(e *env, what string, rep *change.EditReport) error {
	if e.json {
		return printDoc(e, map[string]any{"id": rep.Record.ID, "origin": rep.Record.Origin, "changed": !rep.Unchanged,
			"deleted": rep.Record.Deleted, "version": store.VectorString(rep.Record.Version.Vector), "content_hash": contentHash(rep.Record),
			"record": recordJSON(rep.Record)})
	}
	if rep.Unchanged {
		fmt.Fprintf(e.stdout, "%s: nothing changed\n", schema.Printable(rep.Record.ID))
		return nil
	}
	me := e.office.Agency()
	fmt.Fprintf(e.stdout, "%s %s: new version %s:%d, travels with the next pack\n", what, schema.Printable(rep.Record.ID),
		me, rep.Record.Version.Vector[me])
	return nil
}

func init() {
	o := &editOptions{}
	register(&command{name: "edit", args: "ID (--set|--add|--remove PROP=VALUE)...", short: "change a record held, own or received; the change travels with the next pack",
		minArgs: 1, maxArgs: 1, opts: o,
		example: "  valise edit kz-p-001 --add alias=\"N. Abenov\" --set birthDate=1979-04-12\n  valise edit kz-p-001 --set tlp=red --add releasable_to=CARICC",
		run: func(e *env, args []string) error {
			ops, err := o.ops()
			if err != nil {
				return err
			}
			if len(ops) == 0 {
				return usagef("nothing to change: give --set, --add or --remove PROP=VALUE")
			}
			k, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			rep, err := change.Edit(e.office, k, ops)
			if err != nil {
				return err
			}
			return printEdit(e, "edited", rep)
		}})
	register(&command{name: "delete", args: "ID", short: "tombstone a record held; the deletion travels with the next pack",
		minArgs: 1, maxArgs: 1, example: "  valise delete kz-p-003",
		run: func(e *env, args []string) error {
			k, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			rep, err := change.Delete(e.office, k)
			if err != nil {
				return err
			}
			return printEdit(e, "deleted", rep)
		}})
}

type resolveOptions struct {
	ours, theirs, keep, del bool
	take                    string
	set                     []string
	property                string
}

func (o *resolveOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.ours, "ours", false, "keep this office's value (or the value shown now)")
	fs.BoolVar(&o.theirs, "theirs", false, "take the other office's value (when the other offices agree on one)")
	fs.StringVar(&o.take, "take", "", "take the value that AGENCY (or the change AGENCY:N) wrote: for a split between several offices")
	fs.BoolVar(&o.keep, "keep", false, "delete/modify conflict: keep the record, with the changes made to it")
	fs.BoolVar(&o.del, "delete", false, "delete/modify conflict: delete the record")
	fs.StringArrayVar(&o.set, "set", nil, "write PROP=VALUE (repeat for several values); a record given values is kept")
	fs.StringVar(&o.property, "property", "", "resolve only this property")
}

func init() {
	o := &resolveOptions{}
	register(&command{name: "resolve", args: "ID (--ours | --theirs | --take AGENCY | --keep | --delete | --set PROP=VALUE...) [--property PROP]",
		short: "resolve a conflict with a version that descends from every candidate", minArgs: 1, maxArgs: 1, opts: o,
		example: "  valise resolve kz-p-001 --theirs\n  valise resolve kz-p-001 --set birthDate=1979-04-12\n  valise resolve kz-p-001 --property birthDate --take KG-NCB\n  valise resolve kz-m-001 --keep     # a delete/modify conflict",
		run: func(e *env, args []string) error {
			modes := 0
			res := change.Resolution{Property: o.property}
			for _, m := range []struct {
				on   bool
				name string
			}{{o.ours, "ours"}, {o.theirs, "theirs"}, {o.take != "", "take"}, {o.keep, "keep"}, {o.del, "delete"}} {
				if m.on {
					modes++
					res.Mode = m.name
				}
			}
			res.Take = o.take
			if res.Take != "" && !strings.Contains(res.Take, ":") {
				res.Take = strings.ToUpper(res.Take)
			}
			if len(o.set) > 0 {
				if modes == 0 {
					res.Mode = "set"
				}
				for _, s := range o.set {
					op, err := change.ParseOp("set", s)
					if err != nil {
						return usagef("%v", err)
					}
					res.Sets = append(res.Sets, op)
				}
			}
			if modes > 1 || res.Mode == "" {
				return usagef("give one of --ours, --theirs, --take AGENCY, --keep, --delete or --set PROP=VALUE")
			}
			k, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			rep, err := change.Resolve(e.office, k, res)
			if err != nil {
				return err
			}
			return printEdit(e, "resolved", rep)
		}})
}

// resolveCommands are the commands that settle conflict c of record k,
// as conflicts suggests them: each works as it is.
func resolveCommands(e *env, k schema.Key, c store.Conflict) []string {
	ref := k.ID
	if found, err := e.office.Store.Find(k.ID); err != nil || len(found) != 1 {
		ref = k.String()
	}
	ref = shellQuote(ref)
	if c.Property == merge.KeyDeleted {
		return []string{"valise resolve " + ref + " --keep", "valise resolve " + ref + " --delete"}
	}
	me := e.office.Agency()
	prop := shellQuote(c.Property)
	base := "valise resolve " + ref + " --property " + prop
	var out []string
	others := map[string]bool{}
	var agencies []string
	ours := false
	for _, cand := range c.Candidates {
		a, _, _ := strings.Cut(cand.Dot, ":")
		if a == me {
			ours = true
			continue
		}
		v := strings.Join(cand.Values, "\x00")
		if !others[v] {
			others[v] = true
		}
		if !slices.Contains(agencies, a) {
			agencies = append(agencies, a)
		}
	}
	if ours {
		out = append(out, base+" --ours")
	}
	if len(others) == 1 {
		out = append(out, base+" --theirs")
	} else {
		for _, a := range agencies {
			out = append(out, base+" --take "+a)
		}
	}
	if !strings.HasPrefix(c.Property, "@") {
		out = append(out, "valise resolve "+ref+" --set "+prop+"=VALUE")
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@:/+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

type conflictsOptions struct{ html string }

func (o *conflictsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML page to FILE, side by side, for reading or printing")
}

type conflictView struct {
	store.Conflict
	Record  *schema.Record
	History []store.VersionEntry
}

func init() {
	o := &conflictsOptions{}
	register(&command{name: "conflicts", args: "[--html FILE]", short: "every open conflict, side by side", maxArgs: 0, opts: o,
		example: "  valise conflicts\n  valise conflicts --html conflicts.html",
		run: func(e *env, args []string) error {
			cs, err := e.office.Store.Conflicts(schema.Key{})
			if err != nil {
				return err
			}
			var views []conflictView
			for _, c := range cs {
				r, err := e.office.Store.Get(c.Key)
				if err != nil {
					return err
				}
				h, err := e.office.Store.History(c.Key)
				if err != nil {
					return err
				}
				views = append(views, conflictView{c, r, h})
			}
			if o.html != "" {
				if err := writeConflictsHTML(o.html, e.office.Home, e.office.Agency(), views); err != nil {
					return err
				}
			}
			if e.json {
				out := []map[string]any{}
				for _, v := range views {
					c := newConflictJSON(v.Conflict)
					out = append(out, map[string]any{"id": c.ID, "origin": c.Origin, "property": c.Property, "kind": c.Kind,
						"bundle": c.Bundle, "opened": c.Opened, "candidates": c.Candidates, "schema": v.Record.Schema,
						"handling": handlingLine(v.Record.Handling), "conditions": nonNil(v.Record.Handling.Conditions),
						"resolve": resolveCommands(e, v.Key, v.Conflict)})
				}
				return printDoc(e, map[string]any{"conflicts": out, "html": o.html})
			}
			if len(views) == 0 {
				fmt.Fprintln(e.stdout, "no open conflicts")
			}
			for _, v := range views {
				printConflict(e.stdout, "", v.Conflict)
				for _, c := range v.Record.Handling.Conditions {
					fmt.Fprintf(e.stdout, "    condition: %s\n", schema.Printable(c))
				}
				for _, c := range resolveCommands(e, v.Key, v.Conflict) {
					fmt.Fprintf(e.stdout, "    resolve: %s\n", schema.Printable(c))
				}
			}
			if o.html != "" {
				fmt.Fprintf(e.stdout, "wrote %s\n", o.html)
			}
			return nil
		}})
}

// writeConflictsHTML publishes the page at path (0600: it shows record
// content), never replacing a file; work is the office's home.
func writeConflictsHTML(path, work, agency string, views []conflictView) error {
	type cell struct {
		Agency, Change string
		Values         []string
		Differs, Shown bool
	}
	type row struct {
		ID, Schema, Name, Property, Bundle, Opened, Handling string
		Conditions                                           []string
		H1                                                   bool
		Cells                                                []cell
		History                                              []store.VersionEntry
	}
	var rows []row
	for _, v := range views {
		r := row{ID: v.Key.String(), Schema: v.Record.Schema, Property: v.Property, Bundle: v.Bundle, Opened: v.At, History: v.History,
			Handling: handlingLine(v.Record.Handling), Conditions: v.Record.Handling.Conditions, H1: v.Record.Handling.Has("H1")}
		if n := v.Record.Properties["name"]; len(n) > 0 {
			r.Name = n[0]
		}
		if v.Property == merge.KeyDeleted {
			r.Property = "deleted / modified"
		}
		for i, c := range v.Candidates {
			a, _, _ := strings.Cut(c.Dot, ":")
			r.Cells = append(r.Cells, cell{Agency: a, Change: c.Dot, Values: c.Values, Shown: i == 0,
				Differs: strings.Join(c.Values, "\x00") != strings.Join(v.Candidates[0].Values, "\x00")})
		}
		rows = append(rows, r)
	}
	// The page holds record content: readable by its owner only, a new
	// file, never one that exists, and never seen half-written.
	f, err := publish.Create(path, publish.Options{Mode: 0o600, WorkDir: work})
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := conflictsPage.Execute(bw, map[string]any{"Agency": agency, "Rows": rows}); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

var conflictsPage = template.Must(template.New("conflicts").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>valise: open conflicts at {{.Agency}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.4em} h2{font-size:1.1em;margin:1.5em 0 .3em}
table{border-collapse:collapse;width:100%;margin-bottom:.5em}
th,td{border:1px solid #999;padding:.4em .6em;vertical-align:top;text-align:left}
th{background:#eee} td.differs{background:#fff2a8} .shown{font-size:.8em;color:#555}
.meta{color:#555;font-size:.9em} ul{margin:.2em 0;padding-left:1.2em}
section{page-break-inside:avoid;border-top:2px solid #333;padding-top:.3em}
@media print{body{margin:0}}
</style></head><body>
<h1>Open conflicts at {{.Agency}}</h1>
<p class="meta">{{len .Rows}} open conflicts. Each column is one office's concurrent change; values that differ from the one shown are highlighted. Resolve with <code>valise resolve ID --ours | --theirs | --set PROP=VALUE</code>.</p>
{{range .Rows}}<section>
<h2>{{.ID}} ({{.Schema}}{{if .Name}}: {{.Name}}{{end}}), property <code>{{.Property}}</code></h2>
<p class="meta">opened {{.Opened}}{{if .Bundle}} by bundle {{.Bundle}}{{end}}; handling {{.Handling}}</p>
{{range .Conditions}}<p class="meta"><strong>condition:</strong> {{.}}</p>{{end}}{{if .H1}}<p class="meta"><strong>H1:</strong> not to be disclosed in judicial proceedings without the provider's permission</p>{{end}}
<table><tr>{{range .Cells}}<th>{{.Agency}} <span class="shown">change {{.Change}}{{if .Shown}}, shown until resolved{{end}}</span></th>{{end}}</tr>
<tr>{{range .Cells}}<td{{if .Differs}} class="differs"{{end}}><ul>{{range .Values}}<li>{{.}}</li>{{else}}<li><em>(no value)</em></li>{{end}}</ul></td>{{end}}</tr></table>
<details><summary class="meta">history</summary><ul>{{range .History}}<li>{{.At}} {{.Action}} by {{.Agency}}{{if .Bundle}} from bundle {{.Bundle}}{{end}}</li>{{end}}</ul></details>
</section>
{{end}}</body></html>
`))

type duplicatesOptions struct {
	minScore float64
	all      bool
}

func (o *duplicatesOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Float64Var(&o.minScore, "min-score", match.DefaultMinScore, "report pairs scoring at least this, from 0 to 1")
	fs.BoolVar(&o.all, "all", false, "also report the pairs judged \"not same\"")
}

// duplicateJSON is one pair of valise duplicates --json.
type duplicateJSON struct {
	Score     float64        `json:"score"`
	A         partyJSON      `json:"a"`
	B         partyJSON      `json:"b"`
	Evidence  []evidenceJSON `json:"evidence"`
	Judgement *judgementJSON `json:"judgement,omitempty"`
}

type partyJSON struct {
	ID     string `json:"id"`
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

type evidenceJSON struct {
	Kind   string  `json:"kind"`
	Weight float64 `json:"weight"`
	Text   string  `json:"text"`
}

type judgementJSON struct {
	Verdict  string `json:"verdict"`
	By       string `json:"by"`
	RecordID string `json:"record_id"`
	Disputed bool   `json:"disputed,omitempty"`
}

func init() {
	o := &duplicatesOptions{}
	register(&command{name: "duplicates", args: "[--min-score S] [--all]", short: "likely duplicates: pairs of records that seem to be one, with a score and the evidence",
		maxArgs: 0, opts: o,
		example: "  valise duplicates\n  valise duplicates --min-score 0.9 --json\n  valise judge ofac-13106 un-sc-110406 --same",
		run: func(e *env, args []string) error {
			if o.minScore <= 0 || o.minScore > 1 {
				return usagef("--min-score must be above 0 and at most 1, not %v", o.minScore)
			}
			// --json streams the pairs as they come: a million records can
			// give a hundred thousand pairs.
			n := 0
			if e.json {
				fmt.Fprintf(e.stdout, "{\n  \"format_version\": 1,\n  \"min_score\": %v,\n  \"pairs\": [", o.minScore)
			}
			st, err := e.office.Duplicates(office.DuplicateOptions{MinScore: o.minScore, WithRejected: o.all}, func(p *match.Pair) error {
				if !e.json {
					printPair(e.stdout, p)
					return nil
				}
				b, err := json.MarshalIndent(pairJSON(p), "    ", "  ")
				if err != nil {
					return err
				}
				sep := ","
				if n == 0 {
					sep = ""
				}
				n++
				_, err = fmt.Fprintf(e.stdout, "%s\n    %s", sep, b)
				return err
			})
			if err != nil {
				return err
			}
			if e.json {
				if n > 0 {
					fmt.Fprint(e.stdout, "\n  ")
				}
				_, err := fmt.Fprintf(e.stdout, "],\n  \"records\": %d,\n  \"compared\": %d,\n  \"skipped_blocks\": %d\n}\n",
					st.Entities, st.Compared, st.SkippedBlocks)
				return err
			}
			if st.Pairs == 0 {
				fmt.Fprintln(e.stdout, "no likely duplicates")
			} else {
				fmt.Fprintf(e.stdout, "%d likely duplicates among %d records (score at least %.2f); mark one with valise judge ID ID --same or --not-same\n",
					st.Pairs, st.Entities, o.minScore)
			}
			return nil
		}})
}

// printPair prints a pair on one line: score, both records, evidence.
func printPair(w io.Writer, p *match.Pair) {
	var ev []string
	for _, x := range p.Evidence {
		ev = append(ev, fmt.Sprintf("%+.2f %s", x.Weight, schema.Sanitize(x.Text)))
	}
	fmt.Fprintf(w, "%.2f  %s %q  ~  %s %q  [%s]\n", p.Score, schema.Printable(p.A.ID), schema.Sanitize(p.A.Name),
		schema.Printable(p.B.ID), schema.Sanitize(p.B.Name), strings.Join(ev, "; "))
}

func pairJSON(p *match.Pair) duplicateJSON {
	j := duplicateJSON{Score: p.Score, A: partyJSON(p.A), B: partyJSON(p.B), Evidence: []evidenceJSON{}}
	for _, x := range p.Evidence {
		j.Evidence = append(j.Evidence, evidenceJSON{Kind: x.Kind, Weight: math.Round(x.Weight*100) / 100, Text: x.Text})
	}
	if jd := p.Judgement; jd != nil {
		j.Judgement = &judgementJSON{Verdict: jd.Verdict, By: jd.By, RecordID: jd.RecordID, Disputed: jd.Disputed}
	}
	return j
}

type judgeOptions struct {
	same, notSame, clear bool
	note                 string
}

func (o *judgeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.same, "same", false, "the two records describe one person, organisation or vehicle")
	fs.BoolVar(&o.notSame, "not-same", false, "they do not, whatever they share; valise duplicates stops reporting them")
	fs.BoolVar(&o.clear, "clear", false, "withdraw the judgement")
	fs.StringVar(&o.note, "note", "", "why, for the other offices")
}

func init() {
	o := &judgeOptions{}
	register(&command{name: "judge", args: "ID ID (--same | --not-same | --clear)",
		short: "mark a likely duplicate as the same or not; the judgement travels with the next pack", minArgs: 2, maxArgs: 2, opts: o,
		example: "  valise judge ofac-13106 un-sc-110406 --same\n  valise judge ofac-13106 un-sc-110444 --not-same --note \"shared passports, other person\"",
		run: func(e *env, args []string) error {
			verdict, n := "", 0
			if o.same {
				verdict, n = match.Same, n+1
			}
			if o.notSame {
				verdict, n = match.NotSame, n+1
			}
			if o.clear {
				n++
			}
			if n != 1 {
				return usagef("give one of --same, --not-same or --clear")
			}
			if args[0] == args[1] {
				return usagef("a record is always the same as itself")
			}
			ka, err := e.office.Lookup(args[0])
			if err != nil {
				return err
			}
			kb, err := e.office.Lookup(args[1])
			if err != nil {
				return err
			}
			rep, err := change.Judge(e.office, ka, kb, verdict, o.note)
			if err != nil {
				return err
			}
			what := "judged " + verdict
			if o.clear {
				what = "judgement withdrawn"
			}
			return printEdit(e, what, rep)
		}})
}
