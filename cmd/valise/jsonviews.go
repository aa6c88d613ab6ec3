package main

import (
	"encoding/json"
	"strings"

	"valise/exchange"
	"valise/formats"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// The --json contract (docs/JSON.md): every document is one JSON object
// with "format_version"; names are snake_case; a record is an object (its
// valise form, envelope included), never a string; lists are [] rather
// than null. The types below are the views of library types that the
// documents share, so that one thing has one shape everywhere.

// printDoc prints a JSON document: doc's members and format_version.
func printDoc(e *env, doc map[string]any) error {
	doc["format_version"] = jsonFormatVersion
	return printJSON(e.stdout, doc)
}

// printResult prints a command's result document; when the command
// failed (err not nil) the document also has the "error" and "exit"
// members of an error document, and the error is not printed again.
func printResult(e *env, doc map[string]any, err error) error {
	if err != nil {
		doc["error"] = newErrorObject(err)
		doc["exit"] = exitCode(err)
	}
	if perr := printDoc(e, doc); perr != nil && err == nil {
		return perr
	}
	if err != nil {
		return silent{err}
	}
	return nil
}

// recordJSON is a record as an object: its canonical valise form.
func recordJSON(r *schema.Record) json.RawMessage {
	return json.RawMessage(r.AppendCanonical(nil))
}

// gapJSON is a missing bundle of a channel.
type gapJSON struct {
	Peer     string `json:"peer"`
	Sequence uint64 `json:"sequence"`
	Since    string `json:"since"`
}

func gapsJSON(gs []exchange.Gap) []gapJSON {
	out := []gapJSON{}
	for _, g := range gs {
		out = append(out, gapJSON{g.Peer, g.Sequence, g.Since})
	}
	return out
}

// candidateJSON is one side of a conflict: the value a change wrote.
type candidateJSON struct {
	Agency string   `json:"agency"`
	Change string   `json:"change"`
	Values []string `json:"values"`
	Shown  bool     `json:"shown"`
}

// conflictJSON is an open conflict on one property of one record.
type conflictJSON struct {
	ID         string          `json:"id"`
	Origin     string          `json:"origin"`
	Property   string          `json:"property"`
	Kind       string          `json:"kind"` // "conflict" or "delete/modify"
	Bundle     string          `json:"bundle"`
	Opened     string          `json:"opened"`
	Candidates []candidateJSON `json:"candidates"`
}

func newConflictJSON(c store.Conflict) conflictJSON {
	j := conflictJSON{ID: c.ID, Origin: c.Origin, Property: c.Property, Kind: "conflict", Bundle: c.Bundle, Opened: c.At,
		Candidates: []candidateJSON{}}
	if c.Property == merge.KeyDeleted {
		j.Kind = "delete/modify"
	}
	for i, cand := range c.Candidates {
		a, _, _ := strings.Cut(cand.Dot, ":")
		vals := cand.Values
		if vals == nil {
			vals = []string{}
		}
		j.Candidates = append(j.Candidates, candidateJSON{a, cand.Dot, vals, i == 0})
	}
	return j
}

func conflictsJSON(cs []store.Conflict) []conflictJSON {
	out := []conflictJSON{}
	for _, c := range cs {
		out = append(out, newConflictJSON(c))
	}
	return out
}

// ledgerJSON is one entry of the ledger.
type ledgerJSON struct {
	N             int64  `json:"n"`
	Bundle        string `json:"bundle"`
	Direction     string `json:"direction"`
	Peer          string `json:"peer"`
	Sequence      uint64 `json:"sequence"`
	Records       int64  `json:"records"`
	Withheld      int64  `json:"withheld"`
	PayloadSHA256 string `json:"payload_hash"`
	File          string `json:"file"`
	Signer        string `json:"signer"`
	At            string `json:"at"`
	Result        string `json:"result"`
	Acknowledged  string `json:"acknowledged"`
}

func newLedgerJSON(l store.LedgerEntry) ledgerJSON {
	return ledgerJSON{N: l.N, Bundle: l.Bundle, Direction: l.Direction, Peer: l.Peer, Sequence: l.Sequence, Records: l.Records,
		Withheld: l.Withheld, PayloadSHA256: l.PayloadSHA256, File: l.File, Signer: l.Signer, At: l.At, Result: l.Result,
		Acknowledged: l.AckedAt}
}

// problemJSON is one problem of an input file.
type problemJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	ID       string `json:"id"`
	Property string `json:"property"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

func newProblemJSON(p *formats.Problem) problemJSON {
	return problemJSON{File: p.File, Line: p.Line, ID: p.ID, Property: p.Property, Rule: p.Rule, Message: p.Error()}
}

// nonNil returns s, or an empty list for nil: lists are never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
