package exchange

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"valise/handling"
	"valise/office"

	"filippo.io/age"
	"github.com/google/uuid"

	"valise/bundle"
	"valise/crypto"
	"valise/schema"
	"valise/store"
)

// PackOptions configure Pack.
type PackOptions struct {
	To     []string   // recipient agencies
	All    bool       // everything the recipients may receive, not only what they lack
	Resend bool       // also send again what went in bundles the recipients never acknowledged
	Input  *PackInput // when not nil, pack this file's records instead of the store's
	Output string     // file to create; "" for a default name in the current directory
	// VolumeSize, when not 0, splits the bundle into volumes of at most
	// this many bytes (package volume) named after Output. Without it a
	// bundle bound for a FAT file system is split only when it would pass
	// 4 GiB.
	VolumeSize int64
	Parity     int // parity volumes in percent of the data volumes; -1 for DefaultParity
}

// PackReport tells what Pack wrote.
type PackReport struct {
	File       string
	Header     *bundle.Header
	Records    uint64
	Size       int64
	PayloadSHA string
	Withheld   map[string]map[string]int // recipient → reason → count
	Statements []string                  // keyring statements carried ("rotate KEY", …)
	Receipts   map[string]string         // recipient → the sequences acknowledged to it
	Volumes    []string                  // the volume files, when the bundle was split
	Note       string
}

// Pack writes a bundle for opts.To. By default it holds the record
// versions the recipients do not hold yet (changed since the last bundle
// to them, and not received from them as they are), withholding what
// their handling keeps from them. The file appears only when complete
// (internal/publish: temporary file, fsync, rename that never replaces),
// and only inside the transaction that records its sequence numbers: a
// failed pack leaves no file and uses up no sequence number, and an
// existing file is never replaced.
func Pack(o *office.Office, opts PackOptions) (*PackReport, error) {
	if len(opts.To) == 0 {
		return nil, errors.New("pack needs at least one --to recipient")
	}
	kr, err := o.Keyring()
	if err != nil {
		return nil, err
	}
	to := slices.Clone(opts.To)
	sort.Strings(to)
	to = slices.Compact(to)
	if len(to) > bundle.MaxRecipients {
		return nil, fmt.Errorf("at most %d recipients", bundle.MaxRecipients)
	}
	var cards []*crypto.Card
	hybrid := true
	for _, a := range to {
		if a == o.Agency() {
			return nil, fmt.Errorf("%s is this office; a bundle goes to other offices", a)
		}
		c, ok := kr.Card(a)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a trusted peer; add its card with valise peer add", ErrNotTrusted, a)
		}
		cards = append(cards, c)
		hybrid = hybrid && c.HasHybrid()
	}
	// A pack killed earlier may have left a bundle published but not
	// recorded: record it before numbering this one.
	if err := recoverPacks(o); err != nil {
		return nil, err
	}
	rep := &PackReport{Withheld: map[string]map[string]int{}, Receipts: map[string]string{}}
	enc := bundle.EncryptionHybrid
	if !hybrid {
		enc = bundle.EncryptionX25519
		rep.Note = "a recipient's card offers no post-quantum recipient: the payload uses X25519 only"
	}

	// Keyring statements a recipient has not acknowledged travel again, in
	// a bundle signed by the key they retire (the key the recipient still
	// trusts). Recipients in different states need separate bundles.
	var pending []store.Statement
	for i, a := range to {
		p, err := o.Store.PendingStatements(a)
		if err != nil {
			return nil, err
		}
		if i > 0 && !sameStatements(p, pending) {
			return nil, fmt.Errorf("%s and %s have not acknowledged the same key statements; pack for each separately", to[0], a)
		}
		pending = p
	}
	signerFpr := o.Card.Fingerprint()
	var statements [][]byte
	carrierOnly := false
	for _, st := range pending {
		statements = append(statements, st.Body)
		rep.Statements = append(rep.Statements, st.Kind+" "+st.Key)
		if st.Kind == crypto.Revoke {
			carrierOnly = true
		}
	}
	if len(pending) > 0 {
		signerFpr = pending[0].Key
	}
	var signer *crypto.Keys
	if signerFpr == o.Card.Fingerprint() {
		signer, err = o.Keys()
	} else {
		signer, err = o.SigningKeyFor(signerFpr)
	}
	if err != nil {
		return nil, err
	}

	var recips []age.Recipient
	h := &bundle.Header{Created: o.Now().UTC().Truncate(1e9), Sender: o.Agency(), SenderKey: signerFpr,
		Schema: schema.ModelVersion, Compression: bundle.Compression, Encryption: enc}
	if h.ID, err = uuid.NewV7(); err != nil {
		return nil, err
	}
	var since int64 = -1
	unacked := make([]map[string]bool, len(cards)) // per recipient, for --resend
	var receipts []bundle.Receipt
	for ci, c := range cards {
		recips = append(recips, c.AgeRecipients(hybrid)...)
		seq, err := o.Store.NextSequence(c.Agency)
		if err != nil {
			return nil, err
		}
		h.Recipients = append(h.Recipients, bundle.Recipient{Agency: c.Agency, Fingerprint: c.Fingerprint(), Sequence: seq})
		hw, err := o.Store.SentHighWater(c.Agency)
		if err != nil {
			return nil, err
		}
		if since < 0 || hw < since {
			since = hw
		}
		if opts.Resend && opts.Input == nil {
			if unacked[ci], err = o.Store.UnacknowledgedBundles(c.Agency); err != nil {
				return nil, err
			}
		}
		got, err := o.Store.ReceivedSequences(c.Agency)
		if err != nil {
			return nil, err
		}
		if len(got) > 0 {
			r := bundle.Receipt{Agency: c.Agency, Ranges: bundle.RangesOf(got)}
			receipts = append(receipts, r)
			rep.Receipts[c.Agency] = rangesString(r.Ranges)
		}
	}
	if opts.All || opts.Resend {
		since = 0
	}
	highWater, err := o.Store.HighWater()
	if err != nil {
		return nil, err
	}

	out := opts.Output
	if out == "" {
		out = fmt.Sprintf("%s-%s-%s.valise", o.Agency(), h.Created.Format("20060102"), h.ID.String()[:8])
	}
	// Work files (sort runs, the list of what was sent) stay in the home,
	// not on the destination stick. A bundle is encrypted and signed: it
	// is meant to travel, so it gets ordinary file permissions.
	dir := o.Home
	pub, err := newPackOutput(o, out, h, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the output: %w", err)
	}
	defer pub.abort()
	w, err := bundle.NewWriter(pub, h, signer.Signing, recips, bundle.WithReceipts(receipts), bundle.WithStatements(statements))
	if err != nil {
		return nil, err
	}
	today := o.Now()
	// What went in the bundle, for the peer state once it is sent: kept in
	// a file beside the output, so that memory does not grow with it.
	var sent *sentLog
	defer func() {
		if sent != nil {
			sent.remove()
		}
	}()
	var line []byte
	add := func(r *schema.Record, held []store.Held) error {
		line = r.AppendCanonical(line[:0])
		vh := schema.VersionHash(line)
		news := opts.All
		for i := range to {
			if held[i].VHash != vh || unacked[i][held[i].Bundle] {
				news = true
			}
		}
		if !news {
			return nil // every recipient holds this very version already
		}
		if !rep.releasable(r, o.Agency(), to, today) {
			return nil
		}
		if probs := r.Validate(); len(probs) > 0 {
			return fmt.Errorf("store record %s: %w", r.ID, probs[0])
		}
		if len(line) > schema.MaxRecordBytes {
			return fmt.Errorf("store record %s: canonical form larger than %d bytes", r.ID, schema.MaxRecordBytes)
		}
		if err := w.WriteCanonical(line); err != nil {
			return err
		}
		if sent == nil {
			if sent, err = newSentLog(dir); err != nil {
				return err
			}
		}
		return sent.add(r.ID, vh)
	}
	switch {
	case carrierOnly:
		rep.Note = "this bundle carries only the revocation of this office's old key; once the recipients have confirmed the new card (valise peer add) and sent a bundle back, pack again"
	case opts.Input != nil:
		// The records of a file are not the store's: what the recipients
		// hold (peer state) is neither consulted nor recorded.
		if err := packInput(o, opts.Input, w, dir, to, today, rep); err != nil {
			return nil, err
		}
	default:
		err := o.Store.ChangedFor(since, to, func(r *schema.Record, _ []byte, held []store.Held) error { return add(r, held) })
		if err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := pub.finish(); err != nil {
		return nil, err
	}
	rep.File, rep.Header, rep.Records, rep.Size, rep.Volumes = out, h, w.Records(), pub.size(), pub.files()
	rep.PayloadSHA = hex.EncodeToString(w.PayloadHash())
	if opts.Input != nil || carrierOnly {
		highWater = 0 // such a bundle says nothing of what the store holds
	}
	err = o.Store.Update(func(tx *store.Tx) error {
		for _, r := range h.Recipients {
			// Checked under the write lock: two packs at once must not
			// give one sequence number to two bundles.
			if taken, err := tx.SequenceTaken(r.Agency, r.Sequence); err != nil {
				return err
			} else if taken {
				return fmt.Errorf("%w: another pack for %s took sequence %d at the same time; nothing was written, run pack again", store.ErrBusy, r.Agency, r.Sequence)
			}
		}
		for _, r := range h.Recipients {
			if err := tx.AddLedger(store.LedgerEntry{Bundle: h.ID.String(), Direction: "sent", Peer: r.Agency, Sequence: r.Sequence,
				Records: int64(rep.Records), PayloadSHA256: rep.PayloadSHA, File: out, HighWater: highWater, Signer: signerFpr, Result: "ok"}); err != nil {
				return err
			}
			if sent != nil {
				err := sent.each(store.BatchSize, func(ids, vh []string) error {
					known := make([]store.Known, len(ids))
					for i := range ids {
						known[i] = store.Known{ID: ids[i], VHash: vh[i]}
					}
					return tx.PeerHolds(r.Agency, h.ID.String(), known)
				})
				if err != nil {
					return err
				}
			}
			for _, st := range pending {
				if err := tx.StatementSent(st.N, r.Agency, h.ID.String()); err != nil {
					return err
				}
			}
		}
		if err := tx.Audit("pack", fmt.Sprintf("bundle %s to %s: %d records, payload %s", h.ID, strings.Join(to, ","), rep.Records, rep.PayloadSHA)); err != nil {
			return err
		}
		// The file is published inside the transaction that records its
		// sequence numbers: when publishing fails they roll back, and when
		// the commit fails the deferred Abort removes the file. A pack
		// killed between the two leaves its journal entry, which the next
		// pack's recoverPacks turns into the ledger entries.
		return pub.publish()
	})
	if err != nil {
		return nil, err
	}
	pub.done()
	return rep, nil
}

// releasable reports whether every recipient in to may receive r,
// counting in Withheld each recipient and reason that keeps it back.
func (rep *PackReport) releasable(r *schema.Record, self string, to []string, today time.Time) bool {
	ok := true
	for _, a := range to {
		if rel, why := handling.Releasable(r, self, a, today); !rel {
			if rep.Withheld[a] == nil {
				rep.Withheld[a] = map[string]int{}
			}
			rep.Withheld[a][why]++
			ok = false
		}
	}
	return ok
}

func sameStatements(a, b []store.Statement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].N != b[i].N {
			return false
		}
	}
	return true
}

func rangesString(rs []bundle.SeqRange) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		if r.From == r.To {
			fmt.Fprintf(&b, "%d", r.From)
		} else {
			fmt.Fprintf(&b, "%d-%d", r.From, r.To)
		}
	}
	return b.String()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
