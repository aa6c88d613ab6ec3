package office

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"filippo.io/age"
	"github.com/google/uuid"

	"valise/bundle"
	"valise/crypto"
	"valise/merge"
	"valise/schema"
	"valise/store"
)

// PackOptions configure Pack.
type PackOptions struct {
	To     []string         // recipient agencies
	All    bool             // everything the recipients may receive, not only what changed since the last bundle
	Input  []*schema.Record // when not nil, pack these records instead of the store's
	Output string           // file to create; "" for a default name in the current directory
}

// PackReport tells what Pack wrote.
type PackReport struct {
	File       string
	Header     *bundle.Header
	Records    uint64
	Size       int64
	PayloadSHA string
	Withheld   map[string]map[string]int // recipient → reason → count
	Note       string
}

// Pack writes a bundle for opts.To. The file appears only when complete
// (temporary file, fsync, link into place): a failed pack leaves nothing,
// and an existing file is never replaced.
func (o *Office) Pack(opts PackOptions) (*PackReport, error) {
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
	rep := &PackReport{Withheld: map[string]map[string]int{}}
	enc := bundle.EncryptionHybrid
	if !hybrid {
		enc = bundle.EncryptionX25519
		rep.Note = "a recipient's card offers no post-quantum recipient: the payload uses X25519 only"
	}
	var recips []age.Recipient
	h := &bundle.Header{Created: o.Now().UTC().Truncate(1e9), Sender: o.Agency(), SenderKey: o.Card.Fingerprint(),
		Schema: schema.ModelVersion, Compression: bundle.Compression, Encryption: enc}
	if h.ID, err = uuid.NewV7(); err != nil {
		return nil, err
	}
	var since int64 = -1
	for _, c := range cards {
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
	}
	if opts.All {
		since = 0
	}
	highWater, err := o.Store.HighWater()
	if err != nil {
		return nil, err
	}
	keys, err := o.Keys()
	if err != nil {
		return nil, err
	}

	out := opts.Output
	if out == "" {
		out = fmt.Sprintf("%s-%s-%s.valise", o.Agency(), h.Created.Format("20060102"), h.ID.String()[:8])
	}
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, ".valise-pack-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("creating the output: %w", err)
	}
	done, linked := false, false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
			if linked {
				os.Remove(out)
			}
		}
	}()
	w, err := bundle.NewWriter(tmp, h, keys.Signing, recips)
	if err != nil {
		return nil, err
	}
	today := o.Now()
	add := func(r *schema.Record) error {
		ok := true
		for _, a := range to {
			if rel, why := Releasable(r, o.Agency(), a, today); !rel {
				if rep.Withheld[a] == nil {
					rep.Withheld[a] = map[string]int{}
				}
				rep.Withheld[a][why]++
				ok = false
			}
		}
		if !ok {
			return nil
		}
		return w.Write(r)
	}
	if opts.Input != nil {
		recs := slices.Clone(opts.Input)
		sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
		for i, r := range recs {
			if i > 0 && recs[i-1].ID == r.ID {
				return nil, fmt.Errorf("record %s appears twice in the input", r.ID)
			}
			if r.Origin == "" {
				r.Origin = o.Agency()
			}
			if r.Version.IsZero() {
				r = merge.Edit(nil, r, o.Agency(), today.UTC().Format("2006-01-02T15:04:05Z"))
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
	} else if err := o.Store.ChangedSince(since, add); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	// A bundle is encrypted and signed: it is meant to travel, so it gets
	// ordinary file permissions rather than CreateTemp's 0600.
	if err := tmp.Chmod(0o644); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	st, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	rep.File, rep.Header, rep.Records, rep.Size = out, h, w.Records(), st.Size()
	rep.PayloadSHA = hex.EncodeToString(w.PayloadHash())
	if opts.Input != nil {
		highWater = 0 // a file packed from --input says nothing of the store
	}
	err = o.Store.Update(func(tx *store.Tx) error {
		for _, r := range h.Recipients {
			if err := tx.AddLedger(store.LedgerEntry{Bundle: h.ID.String(), Direction: "sent", Peer: r.Agency, Sequence: r.Sequence,
				Records: int64(rep.Records), PayloadSHA256: rep.PayloadSHA, File: out, HighWater: highWater, Result: "ok"}); err != nil {
				return err
			}
		}
		if err := tx.Audit("pack", fmt.Sprintf("bundle %s to %s: %d records, payload %s", h.ID, strings.Join(to, ","), rep.Records, rep.PayloadSHA)); err != nil {
			return err
		}
		// Publish the file last, inside the transaction: if it cannot be
		// linked into place the ledger is rolled back.
		if err := os.Link(tmp.Name(), out); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists; valise does not overwrite it", out)
			}
			return fmt.Errorf("publishing %s: %w", out, err)
		}
		linked = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name())
	done = true
	syncDir(dir)
	return rep, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
