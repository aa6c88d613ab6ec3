package bundle

import (
	"errors"
	"fmt"
)

// Error classes. Every error a Reader returns wraps exactly one of them,
// inside an *Error that names the check that failed.
var (
	// ErrMalformed: the bytes are not a well-formed valise bundle (syntax,
	// versions, sizes, truncation, trailing data).
	ErrMalformed = errors.New("malformed bundle")
	// ErrAuth: a signature, hash, manifest or age authentication check
	// failed, or the signer is not trusted.
	ErrAuth = errors.New("authentication failed")
	// ErrNotAddressed: the bundle is not addressed to this office.
	ErrNotAddressed = errors.New("not addressed to this office")
	// ErrContent: the bundle is authentic but a record in it is invalid.
	ErrContent = errors.New("invalid content")
)

// Error is a failed check.
type Error struct {
	Check string // the check that failed, e.g. "signature", "payload hash"
	Kind  error  // ErrMalformed, ErrAuth, ErrNotAddressed or ErrContent
	Msg   string
	Err   error // the underlying cause, when there is one
}

func (e *Error) Error() string {
	return fmt.Sprintf("check %q failed: %s", e.Check, e.Msg)
}

// Unwrap returns the class and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func fail(check string, kind error, format string, args ...any) *Error {
	return &Error{Check: check, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func wrapFail(check string, kind error, err error, format string, args ...any) *Error {
	e := fail(check, kind, format, args...)
	e.Err = err
	return e
}
