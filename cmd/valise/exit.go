package main

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"valise/audit"
	"valise/bundle"
	"valise/crypto"
	"valise/exchange"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// Exit codes: one table, printed by valise help and in the README.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitMalformed  = 3
	exitAuth       = 4
	exitNotAddress = 5
	exitReplay     = 6
	exitInvalid    = 7
	exitBusy       = 8
	exitIO         = 9
)

const exitTable = `exit codes:
  0  ok
  1  error (anything not below)
  2  usage: unknown command, bad flag, missing argument
  3  malformed bundle: syntax, unknown version, size limit, truncation, trailing bytes
  4  authentication failed: signature, hash, manifest, age, unknown or revoked sender;
     a row of the store changed outside valise (valise audit names it)
  5  not addressed to this office
  6  replay or ordering: bundle already imported, sequence number reused
  7  invalid content: a record or input file fails validation
  8  store busy: another valise command holds the store
  9  I/O: a file cannot be read or written
when several files fail (verify, import), the exit code is the most
serious class among them, in this order: 4, 3, 7, 5, 6, 9, 8, 1
`

// exitOrder ranks the classes of failure for a command given several
// files (verify, import): the exit code is the most serious class among
// them, in this order. Authentication comes first, so that a forged or
// tampered bundle never hides behind a replay or a file for another
// office; then malformed, invalid content, not addressed, replay or
// ordering, I/O, busy, any other error.
var exitOrder = []int{exitAuth, exitMalformed, exitInvalid, exitNotAddress, exitReplay, exitIO, exitBusy, exitError, exitUsage}

// moreSerious reports whether err is a more serious failure than than
// (nil when there is none yet) in exitOrder.
func moreSerious(err, than error) bool {
	if than == nil {
		return true
	}
	rank := func(e error) int { return slices.Index(exitOrder, exitCode(e)) }
	return rank(err) < rank(than)
}

// exitCode maps an error to its exit code; the first matching class wins.
func exitCode(err error) int {
	var u *usageError
	var pe *fs.PathError
	switch {
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, bundle.ErrNotAddressed):
		return exitNotAddress
	case errors.Is(err, bundle.ErrAuth), errors.Is(err, crypto.ErrUnknownSigner), errors.Is(err, crypto.ErrRevoked), errors.Is(err, crypto.ErrRetired),
		errors.Is(err, store.ErrTampered),
		errors.Is(err, crypto.ErrCard), errors.Is(err, crypto.ErrWeakKey), errors.Is(err, crypto.ErrStatement),
		errors.Is(err, audit.ErrAuditBroken):
		return exitAuth
	case errors.Is(err, bundle.ErrMalformed):
		return exitMalformed
	case errors.Is(err, exchange.ErrReplay):
		return exitReplay
	case errors.Is(err, bundle.ErrContent), errors.Is(err, schema.ErrInvalid), errors.Is(err, schema.ErrSchemaVersion):
		return exitInvalid
	case errors.Is(err, store.ErrBusy):
		return exitBusy
	case errors.As(err, &pe), errors.Is(err, store.ErrFull), errors.Is(err, store.ErrIO):
		return exitIO
	}
	return exitError
}

// checkOf returns the name of the failed check, when err names one.
func checkOf(err error) string {
	var be *bundle.Error
	if errors.As(err, &be) {
		return be.Check
	}
	return ""
}

// advice says what an officer can do about err, where the library's
// error names only what went wrong.
func advice(err error) string {
	var amb *office.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return fmt.Sprintf("name the record as %s@%s (or another of its origins)", amb.ID, amb.Origins[0])
	case errors.Is(err, exchange.ErrNotTrusted):
		return "add its card with valise peer add CARD --fingerprint FPR, once the fingerprint is compared with the office by phone; a card announced by a revocation is confirmed with valise peer confirm ID --fingerprint FPR (valise peer list shows the pending ones)"
	case errors.Is(err, store.ErrTampered):
		return "the store was edited outside valise: valise audit lists every row that fails; nothing was done with it. Restore the store from a backup you trust, or have the rows checked"
	}
	return ""
}

// jsonFormatVersion is the version of the --json contract (docs/JSON.md),
// in every JSON document valise prints. It changes only when a field is
// removed or changes meaning; new fields may appear in any version.
const jsonFormatVersion = 1

// exitPhrases names each failing exit code in a totals line, as the
// exit-code table does.
var exitPhrases = map[int]string{
	exitError:      "error",
	exitUsage:      "usage",
	exitMalformed:  "malformed",
	exitAuth:       "authentication failed",
	exitNotAddress: "not addressed to this office",
	exitReplay:     "replay or ordering",
	exitInvalid:    "invalid content",
	exitBusy:       "store busy",
	exitIO:         "I/O",
}

// exitClasses names each exit code in JSON errors.
var exitClasses = map[int]string{
	exitOK:         "ok",
	exitError:      "error",
	exitUsage:      "usage",
	exitMalformed:  "malformed",
	exitAuth:       "authentication",
	exitNotAddress: "not_addressed",
	exitReplay:     "replay",
	exitInvalid:    "invalid",
	exitBusy:       "busy",
	exitIO:         "io",
}

// errorObject is the "error" member of a JSON document: the error's class
// (its exit code's name), the check that failed when it names one, and
// the message.
type errorObject struct {
	Class   string `json:"class"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

func newErrorObject(err error) *errorObject {
	return &errorObject{Class: exitClasses[exitCode(err)], Check: checkOf(err), Message: err.Error()}
}

// errorJSON is the document a command that failed prints with --json.
func errorJSON(err error, code int) map[string]any {
	return map[string]any{"format_version": jsonFormatVersion, "error": newErrorObject(err), "exit": code}
}
