package exchange

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"valise/identity"
	"valise/office"

	"valise/bundle"
	"valise/crypto"
	"valise/match"
	"valise/merge"
	"valise/schema"
	"valise/store"
	"valise/volume"
)

// ImportReport tells what importing one bundle did.
type ImportReport struct {
	File      string
	Header    *bundle.Header
	Records   uint64
	Counts    map[merge.Kind]int
	Conflicts []store.Conflict
	// UnknownEndpoints lists links whose end is not held (reported, not
	// blocking): "link-id -> missing-id".
	UnknownEndpoints []string
	// MoreConflicts and MoreUnknown count the conflicts and unknown
	// endpoints found beyond the first MaxListed, which the lists above
	// leave out: a report's memory does not grow with the bundle.
	MoreConflicts, MoreUnknown int
	Missing                    []Gap    // the sender's bundles still missing after this one
	Resent                     []uint64 // the sender's bundles never received whose records this one carried again: their gaps closed
	Acknowledged               int      // bundles of ours the sender's receipts acknowledged
	KeyNotes                   []string // keyring statements applied
	Skipped                    int      // records not imported (a revocation carrier)
	// Recalled counts the records this office may no longer hold (their
	// originator narrowed the handling): each is now a recall stub.
	// RecallsIgnored counts recalls of records this office may hold.
	Recalled, RecallsIgnored int
	DryRun                   bool
	// Duplicates counts the likely duplicates (see valise duplicates) of
	// the records the import changed. DuplicatesSkipped says it did not
	// look: a dry run, or more than MaxImportDuplicateCheck records.
	Duplicates        int
	DuplicatesSkipped bool
	changed           map[string]bool // ids changed, for the duplicate search
	// Volumes, for a bundle read from volumes: what was missing, damaged
	// and rebuilt.
	Volumes *volume.Report
}

// Sentinel errors.
var (
	// ErrNotRegular: a bundle path names a FIFO, a device or a directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrReplay: a bundle already imported, or a sequence number reused.
	ErrReplay = errors.New("replay or ordering")
	// ErrNotTrusted: a recipient of a pack is not a trusted peer.
	ErrNotTrusted = errors.New("peer not trusted")
)

// MaxSequenceJump is how far ahead of the last bundle received from a peer
// a sequence number may be: further than that is no lost stick but an
// error or an attack, and is refused with an alert.
const MaxSequenceJump = 1000

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Import verifies, decrypts, validates and merges one bundle. Nothing of
// it is committed unless every check passed; a refusal is written to the
// ledger and the audit log only.
func Import(o *office.Office, path string, dryRun bool, opts ...Option) (*ImportReport, error) {
	im := &importer{o: o, path: path, dryRun: dryRun, opt: buildOptions(opts), done: func() {},
		rep: &ImportReport{File: path, Counts: map[merge.Kind]int{}, DryRun: dryRun, changed: map[string]bool{},
			DuplicatesSkipped: dryRun}}
	defer func() { im.done() }() // done changes when the bundle is read again
	defer func() { im.rep.Volumes = volumeNote(im.set) }()
	if err := im.authenticate(); err != nil {
		return im.rep, err
	}
	keys, err := o.Keys()
	if err != nil {
		return im.rep, err
	}
	rr, err := im.r.Decrypt(im.sender.SigningKey, keys.Identities...)
	if err != nil {
		return im.refuse(err)
	}
	defer rr.Close()
	stubsHeld, err := o.Store.Recalled()
	if err != nil {
		return im.rep, err
	}
	err = o.Store.Update(func(tx *store.Tx) error { return im.commit(tx, rr, stubsHeld > 0) })
	rep, h := im.rep, im.h
	if err == nil || errors.Is(err, errDryRun) {
		if rep.Missing, err = Missing(o, h.Sender); err != nil {
			return rep, err
		}
	}
	if errors.Is(err, errDryRun) {
		return rep, nil
	}
	if err != nil {
		var be *bundle.Error
		if errors.As(err, &be) || errors.Is(err, ErrReplay) {
			return im.refuse(err)
		}
		return rep, err
	}
	if !rep.DuplicatesSkipped && len(rep.changed) > 0 {
		// Reported, not blocking (SPEC §6): a failure to look leaves the
		// import as it is and says it did not look.
		if rep.Duplicates, err = match.CountIncoming(func(fn func(*schema.Record) error) error {
			return o.Store.Each(store.Filter{}, fn)
		}, rep.changed); err != nil {
			rep.Duplicates, rep.DuplicatesSkipped = 0, true
		}
	}
	rep.changed = nil
	return rep, nil
}

// importer is the state of one Import.
type importer struct {
	o      *office.Office
	path   string
	dryRun bool
	opt    options
	rep    *ImportReport

	f    io.Reader   // the bundle, volumes joined
	set  *volume.Set // its volumes, when it came in several
	done func()      // closes f
	r    *bundle.Reader
	h    *bundle.Header
	me   bundle.Recipient // this office among the recipients

	kr      *crypto.Keyring
	sender  *crypto.Card
	retired error // the sender's key was retired: only a revocation it carries may go on
	reused  bool  // the sequence number was used by another bundle
	prevSeq *store.LedgerEntry
}

// refuse records err in the ledger as the refusal of the bundle (but in a
// dry run) and returns it.
func (im *importer) refuse(err error) (*ImportReport, error) {
	if !im.dryRun {
		e := store.LedgerEntry{Bundle: "-", Peer: "-", File: im.path, Result: err.Error()}
		if h := im.h; h != nil {
			e.Bundle, e.Peer = h.ID.String(), h.Sender
			if r, ok := h.Recipient(im.o.Agency()); ok {
				e.Sequence = r.Sequence
			}
		}
		if lerr := im.o.Store.Refused(e); lerr != nil {
			return im.rep, errors.Join(err, fmt.Errorf("recording the refusal: %w", lerr))
		}
	}
	return im.rep, err
}

// refused makes a refusal an error for authenticate's caller.
func (im *importer) refused(err error) error {
	_, err = im.refuse(err)
	return err
}

// authenticate opens the bundle and checks, before anything is decrypted,
// that it is addressed to a key of this office, signed by a key the
// keyring knows, and not a replay (see replay).
func (im *importer) authenticate() error {
	o := im.o
	var err error
	im.f, im.set, im.done, err = openBundle(im.path, true)
	if err != nil {
		im.done = func() {}
		var be *bundle.Error
		if errors.As(err, &be) {
			return im.refused(err) // volumes that cannot be rebuilt
		}
		return err
	}
	if im.r, err = bundle.Open(metered(im.f, im.opt)); err != nil {
		return im.refused(err)
	}
	h := im.r.Header
	im.h, im.rep.Header = h, h
	var ok bool
	if im.me, ok = h.Recipient(o.Agency()); !ok {
		return im.refused(&bundle.Error{Check: "addressing", Kind: bundle.ErrNotAddressed,
			Msg: fmt.Sprintf("bundle is addressed to %s, not to %s", recipientList(h), o.Agency())})
	}
	own, err := o.Store.OwnCards()
	if err != nil {
		return err
	}
	mine := false
	for _, g := range own {
		// A peer that has not yet learnt of a key change still encrypts
		// to an earlier key of this office, which it can still open.
		mine = mine || g.Fingerprint == im.me.Fingerprint
	}
	if !mine {
		return im.refused(&bundle.Error{Check: "addressing", Kind: bundle.ErrNotAddressed,
			Msg: fmt.Sprintf("bundle is addressed to %s key %s, which is not a key of this office (%s)", o.Agency(), im.me.Fingerprint, o.Card.Fingerprint())})
	}
	if im.kr, err = o.Keyring(); err != nil {
		return err
	}
	im.sender, err = im.kr.Lookup(h.Sender, h.SenderKey)
	// A key retired by a rotation may still revoke itself: its owner can
	// learn that it was stolen after a rotation the thief made with it
	// took over. Such a bundle goes on only as the carrier of that
	// revocation (decided once it is decrypted, before any record).
	if errors.Is(err, crypto.ErrRetired) {
		if c, ok := im.kr.Retired(h.SenderKey); ok && c.Agency == h.Sender {
			im.sender, im.retired, err = c, senderError(err), nil
		}
	}
	if err != nil {
		return im.refused(senderError(err))
	}
	if h.Sender == o.Agency() {
		return im.refused(&bundle.Error{Check: "sender", Kind: bundle.ErrAuth, Msg: "bundle claims to come from this office"})
	}
	return im.replay()
}

// replay handles a bundle id or sequence number seen before, and a
// sequence too far ahead: the bundle is authenticated first (without
// decrypting), so that a forgery is reported as one and only an authentic
// bundle is called a replay or raises an alert. A reused sequence number
// goes on only if the bundle carries the revocation of the key that signed
// it (decided once it is decrypted): when a thief holding the key sent a
// bundle first, the owner's revocation takes the same number.
func (im *importer) replay() error {
	o, h, me := im.o, im.h, im.me
	prevID, err := o.Store.Received(h.ID.String())
	if err != nil {
		return err
	}
	prevSeq, err := o.Store.ReceivedSequence(h.Sender, me.Sequence)
	if err != nil {
		return err
	}
	// A bundle whose records came re-sent in a later one (a lost stick
	// turning up) is imported like any other: its mark is no replay.
	if prevID != nil && prevID.PayloadSHA256 == "" {
		prevID = nil
	}
	if prevSeq != nil && prevSeq.PayloadSHA256 == "" && prevSeq.Bundle == h.ID.String() {
		prevSeq = nil
	}
	im.prevSeq = prevSeq
	got, err := o.Store.ReceivedSequences(h.Sender)
	if err != nil {
		return err
	}
	var last uint64
	if len(got) > 0 {
		last = got[len(got)-1]
	}
	jump := me.Sequence > last+MaxSequenceJump
	if prevID == nil && prevSeq == nil && !jump {
		return nil
	}
	t, err := im.r.Verify(im.sender.SigningKey)
	if err != nil {
		return im.refused(err)
	}
	sum := fmt.Sprintf("%x", t.PayloadHash)
	switch {
	case prevID != nil && prevID.PayloadSHA256 == sum:
		return im.refused(fmt.Errorf("%w: bundle %s from %s (sequence %d) was already imported on %s; nothing changed", ErrReplay, h.ID, h.Sender, prevID.Sequence, prevID.At))
	case prevID != nil:
		return im.refused(fmt.Errorf("%w: ALERT: %s signed two different bundles with the same id %s", ErrReplay, h.Sender, h.ID))
	case prevSeq != nil:
		im.reused = true
	default:
		return im.refused(fmt.Errorf("%w: ALERT: sequence from %s jumps from %d to %d, more than %d ahead: refused; a bundle this far ahead is not a lost stick", ErrReplay, h.Sender, last, me.Sequence, MaxSequenceJump))
	}
	// Verify read the bundle to its end: read it again to decrypt.
	im.done()
	if im.f, im.set, im.done, err = openBundle(im.path, true); err != nil {
		im.done = func() {}
		return im.refused(err)
	}
	if im.r, err = bundle.Open(im.f); err != nil {
		return im.refused(err)
	}
	if im.r.Header.ID != h.ID || im.r.Header.SenderKey != h.SenderKey {
		return im.refused(&bundle.Error{Check: "header", Kind: bundle.ErrAuth, Msg: "the bundle changed while it was read"})
	}
	return nil
}

// commit merges the bundle's records into the store in the transaction
// tx: nothing is committed before the whole bundle was read and every
// check passed. stubs says whether the store holds recall stubs.
func (im *importer) commit(tx *store.Tx, rr *bundle.RecordReader, stubs bool) error {
	o, h, me, rep := im.o, im.h, im.me, im.rep
	// Checked again under the write lock: another valise importing
	// the same bundle at the same moment must not make it land twice.
	if byID, bySeq, err := tx.ReceivedBefore(h.ID.String(), h.Sender, me.Sequence); err != nil {
		return err
	} else if byID {
		return fmt.Errorf("%w: bundle %s from %s (sequence %d) was already imported (by another valise command just now); nothing changed", ErrReplay, h.ID, h.Sender, me.Sequence)
	} else if bySeq && !im.reused {
		return fmt.Errorf("%w: ALERT: sequence %d from %s was used by another bundle imported just now; bundle %s reuses it", ErrReplay, me.Sequence, h.Sender, h.ID)
	}
	carrier, err := identity.ApplyStatements(o, tx, h, rr.Manifest.Statements, &rep.KeyNotes)
	if err != nil {
		return err
	}
	if im.retired != nil && !carrier {
		return im.retired
	}
	if im.reused {
		if !carrier {
			return fmt.Errorf("%w: ALERT: sequence %d from %s was already used by bundle %s; bundle %s reuses it with different content", ErrReplay, me.Sequence, h.Sender, im.prevSeq.Bundle, h.ID)
		}
		rep.KeyNotes = append(rep.KeyNotes, fmt.Sprintf("ALERT: sequence %d from %s was already used by bundle %s: key %s signed two different bundles; this one revokes it, and only the revocation was applied",
			me.Sequence, h.Sender, im.prevSeq.Bundle, h.SenderKey))
	}
	if err := im.merge(tx, rr, carrier, stubs); err != nil {
		return err
	}
	rep.Records = rr.Trailer().Records
	for _, rc := range rr.Manifest.Receipts {
		if rc.Agency == o.Agency() {
			if rep.Acknowledged, err = tx.Acknowledge(h.Sender, rc.Contains); err != nil {
				return err
			}
		}
	}
	if !carrier {
		if n, err := tx.RetireOthers(h.Sender, h.SenderKey); err != nil {
			return err
		} else if n > 0 {
			rep.KeyNotes = append(rep.KeyNotes, fmt.Sprintf("%s now signs with its new key %s: its earlier key is retired", h.Sender, h.SenderKey))
			if err := tx.Audit("key retired", fmt.Sprintf("%s keys other than %s retired", h.Sender, h.SenderKey)); err != nil {
				return err
			}
		}
	}
	if im.opt.outcomes != nil {
		if err := tx.BundleDisclosures(h.ID.String(), func(d store.Disclosure) error { return im.opt.outcomes(h, d) }); err != nil && !errors.Is(err, ErrStopOutcomes) {
			return err
		}
	}
	if im.dryRun {
		return errDryRun
	}
	if err := tx.DropResentMark(h.ID.String()); err != nil {
		return err
	}
	if !carrier {
		if err := im.closeGaps(tx, rr.Manifest.Resent); err != nil {
			return err
		}
	}
	if err := tx.AddLedger(store.LedgerEntry{Bundle: h.ID.String(), Direction: "received", Peer: h.Sender, Sequence: me.Sequence,
		Records: int64(rep.Records), PayloadSHA256: fmt.Sprintf("%x", rr.Trailer().PayloadHash), File: filepath.Base(im.path), Result: "ok"}); err != nil {
		return err
	}
	return tx.Audit("import", fmt.Sprintf("bundle %s from %s seq %d: %s", h.ID, h.Sender, me.Sequence, countsLine(rep.Counts)))
}

// merge runs the records through the pipeline: two goroutines read them
// and merge them with what the store holds (see importpipe.go), this one
// writes them; then the authorship proofs, the links and the dependents
// of what was recalled.
func (im *importer) merge(tx *store.Tx, rr *bundle.RecordReader, carrier, stubs bool) error {
	o, h := im.o, im.h
	m := &merger{o: o, tx: tx, rep: im.rep, now: o.Now().UTC().Format(time.RFC3339), created: h.Created,
		auth:  newAuthorship(o.Agency(), h.Sender, rr.Manifest, h.ID.String()),
		stubs: stubs,
		c:     store.Change{Action: "import", Agency: h.Sender, Bundle: h.ID.String()}}
	p, err := startPipeline(rr, carrier, o.Store, m)
	if err != nil {
		return err
	}
	defer p.stop()
	for b := range p.resolve.out {
		if b.err != nil {
			return b.err
		}
		if err := m.write(b); err != nil {
			return err
		}
		p.recycle(b)
	}
	im.rep.Skipped = p.skipped
	if err := m.ends.finish(tx); err != nil {
		return err
	}
	if !carrier {
		if err := m.auth.finish(tx, im.kr, im.sender, rr.Trees()); err != nil {
			return err
		}
	}
	if err := m.stubNamers(); err != nil {
		return err
	}
	if err := m.recallDependents(); err != nil {
		return err
	}
	im.rep.UnknownEndpoints, im.rep.MoreUnknown = m.ends.report()
	return nil
}

// closeGaps marks received the bundles to this office whose records this
// one carries again: their gaps close, and the receipts back acknowledge
// them.
func (im *importer) closeGaps(tx *store.Tx, resent []bundle.Resent) error {
	h := im.h
	for _, r := range resent {
		if r.Agency != im.o.Agency() {
			continue
		}
		marked, err := tx.MarkResent(h.Sender, r.Sequence, r.Bundle.String(), h.ID.String())
		if err != nil {
			return err
		}
		if marked {
			im.rep.Resent = append(im.rep.Resent, r.Sequence)
			if err := tx.Audit("gap closed", fmt.Sprintf("bundle %s from %s seq %d never arrived; its records were re-sent in bundle %s", r.Bundle, h.Sender, r.Sequence, h.ID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxImportDuplicateCheck is how many changed records an import looks for
// duplicates of; past it, the import report says to run valise duplicates.
// The search reads the whole store, which a bulk import should not pay for.
const MaxImportDuplicateCheck = 50000

// MaxListed is how many conflicts and unknown link endpoints an import
// report lists; it counts the rest.
const MaxListed = 10000

func recipientList(h *bundle.Header) string {
	s := ""
	for i, r := range h.Recipients {
		if i > 0 {
			s += ", "
		}
		s += r.Agency
	}
	return s
}

// countsLine renders the counts in SPEC §6 order.
func countsLine(c map[merge.Kind]int) string {
	s := ""
	for k := merge.Inserted; k <= merge.DeleteModify; k++ {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", c[k], k)
	}
	return s
}

// CountsLine renders import counts for people.
func CountsLine(c map[merge.Kind]int) string { return countsLine(c) }

// StickFile is a file of a directory given to import (a courier's stick)
// and what to do with it.
type StickFile struct {
	Path string
	// Skip says why the file is not to be imported ("" to import it): not
	// a bundle, this office's own outgoing bundle, or a bundle already
	// imported here (checked: same signature and payload as the one the
	// ledger recorded). Skipped files are no refusal: nothing goes to the
	// ledger or the audit log.
	Skip string
}

// BundleFiles lists the files of dir in import order (the bundles by
// sender, then the sequence number of this office's channel; a volume set
// once, through its first volume), each with why it is skipped, if it is.
func BundleFiles(o *office.Office, dir string) ([]StickFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	kr, err := o.Keyring()
	if err != nil {
		return nil, err
	}
	type item struct {
		StickFile
		sender string
		seq    uint64
	}
	var items, skipped []item
	seenSets := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if id := VolumeSet(p); id != "" {
			if seenSets[id] {
				continue // the set is read once, through its first volume
			}
			seenSets[id] = true
		}
		it := item{StickFile: StickFile{Path: p}}
		h, err := readHeader(p)
		if err != nil {
			it.Skip = "not a valise bundle"
			skipped = append(skipped, it)
			continue
		}
		it.sender = h.Sender
		if me, ok := h.Recipient(o.Agency()); ok {
			it.seq = me.Sequence
		}
		switch prev, err := o.Store.Received(h.ID.String()); {
		case err != nil:
			return nil, err
		case h.Sender == o.Agency():
			var to []string
			for _, r := range h.Recipients {
				to = append(to, r.Agency)
			}
			it.Skip = "this office's own bundle, to " + strings.Join(to, ", ")
		case prev != nil && sameAsImported(p, prev, kr):
			it.Skip = fmt.Sprintf("already imported on %s (bundle %d from %s)", prev.At, prev.Sequence, h.Sender)
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.sender != b.sender {
			return a.sender < b.sender
		}
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		return a.Path < b.Path
	})
	var out []StickFile
	for _, it := range append(items, skipped...) {
		out = append(out, it.StickFile)
	}
	return out, nil
}

// readHeader reads a bundle's header (through a volume set's first
// volume).
func readHeader(path string) (*bundle.Header, error) {
	f, _, done, err := openBundle(path, false)
	if err != nil {
		return nil, err
	}
	defer done()
	r, err := bundle.Open(f)
	if err != nil {
		return nil, err
	}
	return r.Header, nil
}

// sameAsImported reports whether the bundle at path is, signature and
// payload, the one the ledger entry prev recorded as imported: a genuine
// copy left on the stick, not a bundle reusing its id.
func sameAsImported(path string, prev *store.LedgerEntry, kr *crypto.Keyring) bool {
	v := Verify(path, kr)
	return v.OK() && v.PayloadSHA() == prev.PayloadSHA256
}

// openRegular opens a bundle file, refusing at once anything that is not
// a regular file: a FIFO would block the command for ever, a device would
// read without end.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// Checked again on what was opened: the name may have changed meanwhile.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, nil
}
