package exchange

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"valise/bundle"
	"valise/internal/publish"
	"valise/office"
	"valise/schema"
	"valise/store"
)

// packNoteMagic starts the note a pack leaves in its publish journal.
const packNoteMagic = "valise-pack/v1"

// packNote is what Pack tells its publish journal: the bundle id, then
// one "AGENCY SEQUENCE" line per recipient.
func packNote(h *bundle.Header) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%s\n", packNoteMagic, h.ID)
	for _, r := range h.Recipients {
		fmt.Fprintf(&b, "%s %d\n", r.Agency, r.Sequence)
	}
	return b.Bytes()
}

type noteSeq struct {
	agency string
	seq    uint64
}

func parsePackNote(note []byte) (id string, seqs []noteSeq, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(note))
	if !sc.Scan() || sc.Text() != packNoteMagic || !sc.Scan() {
		return "", nil, false
	}
	id = sc.Text()
	for sc.Scan() {
		a, n, found := strings.Cut(sc.Text(), " ")
		seq, err := strconv.ParseUint(n, 10, 64)
		if !found || err != nil || schema.CheckAgency(a) != nil {
			return "", nil, false
		}
		seqs = append(seqs, noteSeq{a, seq})
	}
	return id, seqs, len(seqs) > 0
}

// recoverPacks finishes what killed packs left in the home: their
// temporary files are removed (internal/publish.Cleanup), and a bundle
// that was published — or may have been, when its stick is gone — but
// never recorded gets its ledger entries now, so that its sequence
// numbers are never given to another bundle. A pack killed before its
// bundle appeared uses up nothing: the retried pack takes the same
// numbers and the recipient sees no gap.
func recoverPacks(o *office.Office) error {
	ints, err := publish.Cleanup(o.Home)
	if err != nil {
		return fmt.Errorf("cleaning up after an interrupted run: %w", err)
	}
	for _, in := range ints {
		id, seqs, ok := parsePackNote(in.Note)
		if !ok {
			continue
		}
		err := o.Store.Update(func(tx *store.Tx) error {
			if in.State == publish.NotPublished {
				return tx.Audit("pack interrupted", fmt.Sprintf("bundle %s to %s was never published; its sequence numbers are free", id, in.Final))
			}
			for _, s := range seqs {
				taken, err := tx.SequenceTaken(s.agency, s.seq)
				if err != nil || taken {
					return err
				}
				if err := tx.AddLedger(store.LedgerEntry{Bundle: id, Direction: "sent", Peer: s.agency, Sequence: s.seq,
					File: in.Final, Result: "ok"}); err != nil {
					return err
				}
			}
			return tx.Audit("pack recovered", fmt.Sprintf("bundle %s (%s) was %s when its pack was interrupted; its sequence numbers stay used", id, in.Final, in.State))
		})
		if err != nil {
			return err
		}
	}
	return nil
}
