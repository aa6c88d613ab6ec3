package publish

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExist is returned (wrapped in an *fs.PathError, and matching
// fs.ErrExist) when the final name already exists.
var ErrExist = errors.New("file exists; valise never overwrites a file")

// ErrClosed is returned by a File used after Publish or Abort.
var ErrClosed = errors.New("publish: file already published or aborted")

// Options configure Create. The zero value publishes a 0600 file with no
// journal.
type Options struct {
	// Mode is the permission of the final file where the file system has
	// modes; 0 means 0600. On Windows a mode without group or other bits
	// gives the file a protected ACL for its user, SYSTEM and
	// Administrators only (protect_windows.go). Bundles, which are encrypted, and cards, which
	// are public, use 0644; exports, reports and keys keep 0600.
	Mode os.FileMode
	// WorkDir, when not empty, holds the journal entry that lets Cleanup
	// remove what a killed run left (the office's home).
	WorkDir string
	// Note is opaque to the package: Cleanup returns it for a run that
	// was interrupted.
	Note []byte
}

// File is a file being published. It is not safe for concurrent use.
type File struct {
	f         *os.File
	final     string
	tmp       string
	mode      os.FileMode
	j         *journal
	n         int64
	err       error // sticky: a File that failed to write stays failed
	published bool
	closed    bool
	done      bool
}

// Create starts publishing a new file at path. It fails with an
// *fs.PathError matching fs.ErrExist when path exists already, so that a
// long job can refuse before it starts.
func Create(path string, opts Options) (*File, error) {
	mode := opts.Mode
	if mode == 0 {
		mode = 0o600
	}
	final, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: existError{}}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp := filepath.Join(filepath.Dir(final), ".valise-"+randomHex(4)+".part")
	p := &File{final: final, tmp: tmp, mode: mode}
	if opts.WorkDir != "" {
		if p.j, err = newJournal(opts.WorkDir, final, tmp, opts.Note); err != nil {
			return nil, err
		}
	}
	p.f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if p.j != nil {
			p.j.remove()
		}
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if err := protect(p.f, mode); err != nil {
		p.Abort()
		return nil, err
	}
	return p, nil
}

// existError matches both ErrExist and fs.ErrExist.
type existError struct{}

func (existError) Error() string { return ErrExist.Error() }
func (existError) Is(target error) bool {
	return target == ErrExist || target == fs.ErrExist
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Name returns the final name (absolute).
func (p *File) Name() string { return p.final }

// TempName returns the name of the temporary file being written.
func (p *File) TempName() string { return p.tmp }

// Size returns the number of bytes written.
func (p *File) Size() int64 { return p.n }

// Write writes to the temporary file. An error is sticky.
func (p *File) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.closed || p.published {
		return 0, ErrClosed
	}
	n, err := p.f.Write(b)
	p.n += int64(n)
	if err != nil {
		if full(filepath.Dir(p.final), len(b)-n) {
			p.err = noSpace(p.final, err)
		} else {
			p.err = fmt.Errorf("writing %s: %w", p.final, err)
		}
	}
	return n, p.err
}

// Publish syncs the file and gives it its final name, never replacing a
// file that exists there. On failure nothing is left under the final name
// and the File is aborted. The journal entry stays until Done (or Abort),
// so that a caller can finish its own bookkeeping first.
func (p *File) Publish() error {
	if p.err != nil {
		p.Abort()
		return p.err
	}
	if p.closed || p.published {
		return ErrClosed
	}
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.closed = true
	if err != nil {
		p.err = fmt.Errorf("writing %s: %w", p.final, err)
		p.Abort()
		return p.err
	}
	if p.j != nil {
		if err := p.j.mark(phasePublishing); err != nil {
			p.err = err
			p.Abort()
			return err
		}
	}
	if err := p.rename(); err != nil {
		p.err = err
		p.Abort()
		return err
	}
	p.published = true
	syncDir(filepath.Dir(p.final))
	return nil
}

// renameHook is renameNoReplace; tests replace it to run the placeholder
// path on any file system.
var renameHook = renameNoReplace

// rename moves the temporary file to the final name without replacing.
func (p *File) rename() error {
	err := renameHook(p.tmp, p.final)
	if err == nil {
		return nil
	}
	if isExist(err) {
		return &fs.PathError{Op: "publish", Path: p.final, Err: existError{}}
	}
	if !errors.Is(err, errUnsupported) {
		return fmt.Errorf("publishing %s: %w", p.final, err)
	}
	// No rename without replace here: reserve the name, then rename over
	// the reservation (see the package doc).
	f, err := os.OpenFile(p.final, os.O_WRONLY|os.O_CREATE|os.O_EXCL, p.mode)
	if err != nil {
		if isExist(err) {
			return &fs.PathError{Op: "publish", Path: p.final, Err: existError{}}
		}
		return fmt.Errorf("publishing %s: %w", p.final, err)
	}
	f.Close()
	if p.j != nil {
		if err := p.j.mark(phasePlaceholder); err != nil {
			os.Remove(p.final)
			return err
		}
	}
	if err := os.Rename(p.tmp, p.final); err != nil {
		removeIfEmpty(p.final)
		return fmt.Errorf("publishing %s: %w", p.final, err)
	}
	return nil
}

// Done ends the journal entry of a published file: from now on a killed
// run leaves nothing to clean up.
func (p *File) Done() {
	p.done = p.published
	if p.j != nil {
		p.j.remove()
		p.j = nil
	}
}

// Commit publishes and ends the journal entry: Publish then Done.
func (p *File) Commit() error {
	if err := p.Publish(); err != nil {
		return err
	}
	p.Done()
	return nil
}

// Abort removes what the File wrote: the temporary file or, after
// Publish (when the caller's bookkeeping failed), the published file.
// It may be called any number of times and after Commit, where it does
// nothing: defer it right after Create.
func (p *File) Abort() error {
	if p.done {
		return nil // committed
	}
	var err error
	if !p.closed {
		p.f.Close()
		p.closed = true
	}
	if p.published {
		err = os.Remove(p.final)
		p.published = false
	} else if rerr := os.Remove(p.tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	if err == nil && p.j != nil {
		p.j.remove()
		p.j = nil
	}
	if p.err == nil {
		p.err = ErrClosed
	}
	return err
}

// WriteFile publishes data at path.
func WriteFile(path string, data []byte, opts Options) error {
	p, err := Create(path, opts)
	if err != nil {
		return err
	}
	defer p.Abort()
	if _, err := p.Write(data); err != nil {
		return err
	}
	return p.Commit()
}

func isExist(err error) bool { return errors.Is(err, fs.ErrExist) }

// removeIfEmpty removes a placeholder, but nothing that holds data.
func removeIfEmpty(path string) {
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		os.Remove(path)
	}
}

// syncDir makes a directory entry durable where the system allows it
// (Windows and some FUSE file systems do not; the data itself is synced).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
