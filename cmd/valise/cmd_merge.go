package main

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/spf13/pflag"

	"valise/change"
	"valise/internal/publish"
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
		return printJSON(e.stdout, map[string]any{"id": rep.Record.ID, "changed": !rep.Unchanged,
			"version": rep.Record.Version.Vector, "content_hash": contentHash(rep.Record)})
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
	register(&command{name: "edit", args: "ID", short: "change a record held, own or received; the change travels with the next pack",
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
			rep, err := change.Edit(e.office, args[0], ops)
			if err != nil {
				return err
			}
			return printEdit(e, "edited", rep)
		}})
	register(&command{name: "delete", args: "ID", short: "tombstone a record held; the deletion travels with the next pack",
		minArgs: 1, maxArgs: 1, example: "  valise delete kz-p-003",
		run: func(e *env, args []string) error {
			rep, err := change.Delete(e.office, args[0])
			if err != nil {
				return err
			}
			return printEdit(e, "deleted", rep)
		}})
}

type resolveOptions struct {
	ours, theirs bool
	set          []string
	property     string
}

func (o *resolveOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.ours, "ours", false, "keep this office's value (or the value shown now)")
	fs.BoolVar(&o.theirs, "theirs", false, "take the other office's value")
	fs.StringArrayVar(&o.set, "set", nil, "write PROP=VALUE (repeat for several values)")
	fs.StringVar(&o.property, "property", "", "resolve only this property")
}

func init() {
	o := &resolveOptions{}
	register(&command{name: "resolve", args: "ID (--ours | --theirs | --set PROP=VALUE...)",
		short: "resolve a conflict with a version that descends from every candidate", minArgs: 1, maxArgs: 1, opts: o,
		example: "  valise resolve kz-p-001 --theirs\n  valise resolve kz-p-001 --set birthDate=1979-04-12",
		run: func(e *env, args []string) error {
			modes := 0
			res := change.Resolution{Property: o.property}
			if o.ours {
				modes++
				res.Mode = "ours"
			}
			if o.theirs {
				modes++
				res.Mode = "theirs"
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
				return usagef("give exactly one of --ours, --theirs or --set PROP=VALUE")
			}
			rep, err := change.Resolve(e.office, args[0], res)
			if err != nil {
				return err
			}
			return printEdit(e, "resolved", rep)
		}})
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
	register(&command{name: "conflicts", short: "every open conflict, side by side", maxArgs: 0, opts: o,
		example: "  valise conflicts\n  valise conflicts --html conflicts.html",
		run: func(e *env, args []string) error {
			cs, err := e.office.Store.Conflicts("")
			if err != nil {
				return err
			}
			var views []conflictView
			for _, c := range cs {
				r, err := e.office.Store.Get(c.ID)
				if err != nil {
					return err
				}
				h, err := e.office.Store.History(c.ID)
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
				type cand struct {
					Agency string   `json:"agency"`
					Change string   `json:"change"`
					Values []string `json:"values"`
					Shown  bool     `json:"shown"`
				}
				type item struct {
					ID       string `json:"id"`
					Schema   string `json:"schema"`
					Property string `json:"property"`
					Bundle   string `json:"bundle,omitempty"`
					Opened   string `json:"opened"`
					Cands    []cand `json:"candidates"`
				}
				out := []item{}
				for _, v := range views {
					it := item{ID: v.ID, Schema: v.Record.Schema, Property: v.Property, Bundle: v.Bundle, Opened: v.At}
					for i, c := range v.Candidates {
						a, _, _ := strings.Cut(c.Dot, ":")
						vals := c.Values
						if vals == nil {
							vals = []string{}
						}
						it.Cands = append(it.Cands, cand{a, c.Dot, vals, i == 0})
					}
					out = append(out, it)
				}
				return printJSON(e.stdout, out)
			}
			if len(views) == 0 {
				fmt.Fprintln(e.stdout, "no open conflicts")
			}
			for _, v := range views {
				printConflict(e.stdout, "", v.Conflict)
				fmt.Fprintf(e.stdout, "    resolve: valise resolve %s --ours | --theirs | --set %s=VALUE\n", v.ID, v.Property)
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
		ID, Schema, Name, Property, Bundle, Opened string
		Cells                                      []cell
		History                                    []store.VersionEntry
	}
	var rows []row
	for _, v := range views {
		r := row{ID: v.ID, Schema: v.Record.Schema, Property: v.Property, Bundle: v.Bundle, Opened: v.At, History: v.History}
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
	f, err := publish.Create(path, publish.Options{Mode: 0o600, WorkDir: work})
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := conflictsPage.Execute(f, map[string]any{"Agency": agency, "Rows": rows}); err != nil {
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
<p class="meta">opened {{.Opened}}{{if .Bundle}} by bundle {{.Bundle}}{{end}}</p>
<table><tr>{{range .Cells}}<th>{{.Agency}} <span class="shown">change {{.Change}}{{if .Shown}}, shown until resolved{{end}}</span></th>{{end}}</tr>
<tr>{{range .Cells}}<td{{if .Differs}} class="differs"{{end}}><ul>{{range .Values}}<li>{{.}}</li>{{else}}<li><em>(no value)</em></li>{{end}}</ul></td>{{end}}</tr></table>
<details><summary class="meta">history</summary><ul>{{range .History}}<li>{{.At}} {{.Action}} by {{.Agency}}{{if .Bundle}} from bundle {{.Bundle}}{{end}}</li>{{end}}</ul></details>
</section>
{{end}}</body></html>
`))

func init() {
	register(&command{name: "duplicates", short: "likely duplicates: different ids sharing a strong identifier", maxArgs: 0,
		example: "  valise duplicates",
		run: func(e *env, args []string) error {
			ds, err := e.office.Duplicates()
			if err != nil {
				return err
			}
			if e.json {
				if ds == nil {
					ds = []office.Duplicate{}
				}
				return printJSON(e.stdout, ds)
			}
			if len(ds) == 0 {
				fmt.Fprintln(e.stdout, "no likely duplicates")
			}
			for _, d := range ds {
				fmt.Fprintf(e.stdout, "%s share %s\n", strings.Join(d.IDs, ", "), schema.Printable(d.Reason))
			}
			return nil
		}})
}
