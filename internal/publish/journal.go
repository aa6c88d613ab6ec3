package publish

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A journal entry is a small text file in the work directory:
//
//	valise-publish/v1
//	final "<absolute final path>"
//	temp "<absolute temporary path>"
//	note <base64 of the caller's note>
//	publishing                       (appended before the rename)
//	placeholder                      (appended once the final name is reserved)
//
// It is locked while its File lives and removed when the File is done
// or aborted.
const (
	journalMagic     = "valise-publish/v1"
	journalPrefix    = ".valise-publish-"
	phasePublishing  = "publishing"
	phasePlaceholder = "placeholder"
	maxJournal       = 64 << 10
)

type journal struct {
	path string
	f    *os.File
}

func newJournal(dir, final, tmp string, note []byte) (*journal, error) {
	path := filepath.Join(dir, journalPrefix+randomHex(8))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("publish journal: %w", err)
	}
	if err := lockFile(f, false); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("publish journal: %w", err)
	}
	j := &journal{path: path, f: f}
	body := fmt.Sprintf("%s\nfinal %s\ntemp %s\nnote %s\n", journalMagic, strconv.Quote(final), strconv.Quote(tmp),
		base64.StdEncoding.EncodeToString(note))
	if _, err := f.WriteString(body); err != nil {
		j.remove()
		return nil, fmt.Errorf("publish journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		j.remove()
		return nil, fmt.Errorf("publish journal: %w", err)
	}
	return j, nil
}

// mark appends a phase line and syncs it before the step it announces.
func (j *journal) mark(phase string) error {
	if _, err := j.f.WriteString(phase + "\n"); err != nil {
		return fmt.Errorf("publish journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("publish journal: %w", err)
	}
	return nil
}

// remove closes (which releases the lock) and removes the entry. Windows
// does not remove an open file, hence the order.
func (j *journal) remove() {
	j.f.Close()
	os.Remove(j.path)
}

// State is how far an interrupted publish got.
type State int

const (
	// NotPublished: the final file never appeared; nothing is left.
	NotPublished State = iota
	// Published: the file is under its final name, but the run was
	// interrupted before its caller finished (Done).
	Published
	// Unknown: the run was renaming when it stopped, and neither the
	// temporary nor the final file can be found (a stick pulled out, a
	// directory removed): the file may be out there.
	Unknown
)

func (s State) String() string {
	switch s {
	case NotPublished:
		return "not published"
	case Published:
		return "published"
	}
	return "unknown"
}

// Interrupted describes a publish that a killed run left unfinished.
type Interrupted struct {
	Final string // the final name
	Note  []byte // the note given to Create
	State State
	// Removed lists what Cleanup removed: the temporary file, a
	// placeholder.
	Removed []string
}

// Cleanup finishes the journal entries in workDir that no live process
// holds: it removes their temporary files and placeholders and reports
// what each had reached. An entry it cannot read is reported as an error
// and left in place.
func Cleanup(workDir string) ([]Interrupted, error) {
	ents, err := os.ReadDir(workDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Interrupted
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), journalPrefix) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(workDir, e.Name())
		in, ok, err := cleanupOne(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, in)
		}
	}
	return out, errors.Join(errs...)
}

func cleanupOne(path string) (Interrupted, bool, error) {
	var in Interrupted
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return in, false, nil // finished meanwhile
		}
		return in, false, err
	}
	if err := lockFile(f, true); err != nil {
		f.Close()
		return in, false, nil // a live run holds it
	}
	// The owner may have removed the entry between our open and lock.
	if _, err := os.Stat(path); err != nil {
		f.Close()
		return in, false, nil
	}
	data := make([]byte, maxJournal+1)
	n, _ := f.ReadAt(data, 0)
	f.Close()
	if unwritten(data[:n]) {
		// Killed while the entry itself was being written: the temporary
		// file is created only once the entry is whole and synced, so
		// nothing else is left.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return in, false, err
		}
		return in, false, nil
	}
	ent, err := parseJournal(data[:n])
	if err != nil {
		return in, false, fmt.Errorf("publish journal %s: %w", path, err)
	}
	in.Final, in.Note = ent.final, ent.note
	_, tmpErr := os.Lstat(ent.temp)
	_, finalErr := os.Lstat(ent.final)
	switch {
	case !ent.publishing || tmpErr == nil:
		in.State = NotPublished
	case finalErr == nil:
		in.State = Published
	default:
		in.State = Unknown
	}
	if tmpErr == nil {
		if err := os.Remove(ent.temp); err != nil {
			return in, false, err
		}
		in.Removed = append(in.Removed, ent.temp)
		if ent.placeholder {
			// The rename never happened: the final name holds only the
			// reservation, which is empty.
			if st, err := os.Lstat(ent.final); err == nil && st.Size() == 0 {
				os.Remove(ent.final)
				in.Removed = append(in.Removed, ent.final)
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return in, false, err
	}
	return in, true, nil
}

// unwritten reports whether data is an entry cut short while newJournal
// wrote it: fewer than its four first lines, starting as an entry does.
func unwritten(data []byte) bool {
	magic := []byte(journalMagic + "\n")
	starts := bytes.HasPrefix(magic, data) || bytes.HasPrefix(data, magic)
	return starts && bytes.Count(data, []byte("\n")) < 4
}

type journalEntry struct {
	final, temp             string
	note                    []byte
	publishing, placeholder bool
}

func parseJournal(data []byte) (*journalEntry, error) {
	if len(data) > maxJournal {
		return nil, errors.New("too large")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 4 || lines[0] != journalMagic {
		return nil, errors.New("not a publish journal")
	}
	e := &journalEntry{}
	var err error
	field := func(line, name string) (string, error) {
		v, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			return "", fmt.Errorf("no %s line", name)
		}
		return v, nil
	}
	q, err := field(lines[1], "final")
	if err == nil {
		e.final, err = strconv.Unquote(q)
	}
	if err == nil {
		q, err = field(lines[2], "temp")
	}
	if err == nil {
		e.temp, err = strconv.Unquote(q)
	}
	if err == nil {
		q, err = field(lines[3], "note")
	}
	if err == nil {
		e.note, err = base64.StdEncoding.DecodeString(q)
	}
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(e.final) || !filepath.IsAbs(e.temp) || filepath.Dir(e.final) != filepath.Dir(e.temp) ||
		!strings.HasPrefix(filepath.Base(e.temp), ".valise-") {
		return nil, errors.New("paths not as written by publish")
	}
	for _, l := range lines[4:] {
		switch l {
		case phasePublishing:
			e.publishing = true
		case phasePlaceholder:
			e.placeholder = true
		default:
			return nil, fmt.Errorf("unknown line %q", l)
		}
	}
	return e, nil
}
