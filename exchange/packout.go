package exchange

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"valise/bundle"
	"valise/internal/spill"
	"valise/proof"
	"valise/schema"
	"valise/store"
)

// out is one bundle a pack writes.
type out struct {
	recipients []int // indexes into packer.to
	h          *bundle.Header
	file       string
	pub        packOutput // the bundle being written (packdest.go)
	w          *bundle.Writer
	sent       *spill.Sorter // the records written, for the peer state and the disclosure register: key → sentValue
	recalls    int
	count      int                    // records written
	own        proof.Builder          // this office's leaves
	fwd        map[[2]string][]uint64 // (author, tree) → indexes of the leaves forwarded
	done       *Packed
}

// names settles where the bundles go and refuses names already taken.
func (p *packer) names() error {
	p.outDir, p.outName = ".", ""
	if o := p.opts.Output; o != "" {
		if fi, err := os.Stat(o); err == nil && fi.IsDir() {
			p.outDir = o
		} else {
			p.outDir, p.outName, p.explicit = filepath.Dir(o), filepath.Base(o), true
		}
	}
	if p.outName == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		p.outName = fmt.Sprintf("%s-%s-%s.valise", p.o.Agency(), p.today.UTC().Format("20060102"), id.String()[:8])
	}
	check := func(name string) error {
		if _, err := os.Lstat(filepath.Join(p.outDir, name)); err == nil {
			return &fs.PathError{Op: "create", Path: filepath.Join(p.outDir, name), Err: fs.ErrExist}
		}
		return nil
	}
	if err := check(p.outName); err != nil {
		return err
	}
	if len(p.to) > 1 {
		for i := range p.to {
			if err := check(p.extraName(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// extraName is the file of recipient i's own bundle: the joint bundle's
// name with the recipient before the extension.
func (p *packer) extraName(i int) string {
	base := strings.TrimSuffix(p.outName, ".valise")
	return base + "." + p.to[i] + ".valise"
}

// open starts writing b: its header takes each recipient's next sequence
// number.
func (p *packer) open(b *out) error {
	h := &bundle.Header{Created: p.today.UTC().Truncate(1e9), Sender: p.o.Agency(), SenderKey: p.signerFpr,
		Schema: schema.ModelVersion, Compression: bundle.Compression, Encryption: p.enc}
	var err error
	if h.ID, err = uuid.NewV7(); err != nil {
		return err
	}
	for _, i := range b.recipients {
		h.Recipients = append(h.Recipients, bundle.Recipient{Agency: p.to[i], Fingerprint: p.cards[i].Fingerprint(), Sequence: p.seq[i]})
		p.seq[i]++
	}
	b.h = h
	b.file = filepath.Join(p.outDir, p.outName)
	var opts []bundle.WriterOption
	var receipts []bundle.Receipt
	for _, rc := range p.receipts {
		for _, i := range b.recipients {
			if rc.Agency == p.to[i] {
				receipts = append(receipts, rc)
			}
		}
	}
	opts = append(opts, bundle.WithReceipts(receipts))
	if b == p.joint {
		opts = append(opts, bundle.WithStatements(p.statements), bundle.WithResent(p.resent))
	} else {
		b.file = filepath.Join(p.outDir, p.extraName(b.recipients[0]))
	}
	if b.pub, err = newPackOutput(p.o, b.file, h, p.opts); err != nil {
		return fmt.Errorf("creating the output: %w", err)
	}
	if b.w, err = bundle.NewWriter(b.pub, h, p.signer.Signing, p.ageRecipients(b.recipients), opts...); err != nil {
		return err
	}
	b.sent = spill.New(p.tmp, 8<<20)
	return nil
}

// send writes one record line to b, opening b first if needed.
//
// With it go the proofs of its authors (package proof): this office's own
// items become a leaf of the bundle's tree, signed when the bundle closes;
// the claims of the other authors (claims, as the store holds them for
// full, the record of which r may be the recall stub) go on a proof line,
// and the trees they point into are proven in the tree section. r is nil
// for a record of a file (pack --input), decoded here.
func (p *packer) send(b *out, r *schema.Record, line []byte, full *schema.Record, claims []byte, recall bool) error {
	b.count++
	if recall {
		b.recalls++
	}
	if b.w == nil {
		if err := p.open(b); err != nil {
			return err
		}
	}
	if err := b.w.WriteCanonical(line); err != nil {
		return err
	}
	if r == nil {
		var err error
		if r, err = schema.Decode(line); err != nil {
			return err
		}
	}
	if err := p.prove(b, r, full, claims); err != nil {
		return err
	}
	return b.sent.Add(sentKey(r.Key()), sentValue(line, recall, r.Version.Vector))
}

// prove adds this office's leaf for r to b's tree and writes the claims
// of r's other authors.
func (p *packer) prove(b *out, r, full *schema.Record, claims []byte) error {
	self := p.o.Agency()
	if r.Version.Vector[self] > 0 {
		salt := proof.LeafSalt(b.w.TreeSecret, b.own.Len())
		b.own.Add(proof.MakeLeaf(r, self, salt).Hash(salt))
	}
	if len(claims) == 0 {
		return nil
	}
	cs, err := p.parseClaims(claims)
	if err != nil {
		return fmt.Errorf("record %s: its stored claims: %w", r.Key(), err)
	}
	var out []proof.Claim
	for _, c := range cs {
		if c.Author == self {
			continue
		}
		if full != nil && full != r {
			var ok bool
			if c, ok = proof.Carry(full, r, c); !ok {
				continue
			}
		}
		out = append(out, c)
		if b.fwd == nil {
			b.fwd = map[[2]string][]uint64{}
		}
		t := [2]string{c.Author, c.Tree}
		b.fwd[t] = append(b.fwd[t], c.Index)
	}
	if len(out) == 0 {
		return nil
	}
	return b.w.WriteProof(proof.MarshalClaims(out))
}

// parseClaims parses a record's stored claims, once for the record
// however many bundles it goes to: unprovable and then prove for each
// bundle ask for the same bytes in a row, and the answer of the last call
// is kept. (Packs route records on one goroutine.)
func (p *packer) parseClaims(raw []byte) ([]proof.Claim, error) {
	if len(raw) > 0 && len(p.claims.raw) == len(raw) && &p.claims.raw[0] == &raw[0] {
		return p.claims.cs, p.claims.err
	}
	cs, err := proof.ParseClaims(raw)
	p.claims.raw, p.claims.cs, p.claims.err = raw, cs, err
	return cs, err
}

// writeTrees writes b's tree section: this office's signed tree head, and
// for each tree of another author b forwards leaves of, its head and the
// nodes that prove them.
func (p *packer) writeTrees(b *out) error {
	if n := b.own.Len(); n > 0 {
		h := &proof.Head{Author: p.o.Agency(), Key: p.signerFpr, ID: b.h.ID.String(), Count: n, Root: b.own.Root()}
		h.Sign(p.signer.Signing)
		if err := b.w.WriteTree("tree", proof.MarshalHead(h)); err != nil {
			return err
		}
	}
	trees := make([][2]string, 0, len(b.fwd))
	for t := range b.fwd {
		trees = append(trees, t)
	}
	slices.SortFunc(trees, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, t := range trees {
		kt, err := p.o.Store.Tree(t[0], t[1])
		if err != nil {
			return fmt.Errorf("forwarding %s's records: %w", t[0], err)
		}
		if err := b.w.WriteTree("tree", proof.MarshalHead(kt.Head)); err != nil {
			return err
		}
		idx := b.fwd[t]
		slices.Sort(idx)
		idx = slices.Compact(idx)
		nodes, err := proof.Prove(kt.Head.Count, idx, func(lo, hi uint64) (proof.Hash, bool) {
			return proof.SubtreeHash(lo, hi, kt.Leaves, kt.Nodes)
		})
		if err != nil {
			return fmt.Errorf("forwarding %s's records of tree %s: %w", t[0], t[1], err)
		}
		for _, n := range nodes {
			if err := b.w.WriteTree("node", proof.MarshalNode(t[0], t[1], n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sentValue is what the list of records sent keeps of one: its version
// hash, then NUL, "r" for a recall stub else "s", and its version vector.
func sentValue(line []byte, recall bool, vv map[string]uint64) []byte {
	v := make([]byte, 0, 64)
	v = append(v, schema.VersionHash(line)...)
	v = append(v, 0, 's')
	if recall {
		v[len(v)-1] = 'r'
	}
	return store.AppendVector(v, vv)
}

// parseSent reads a sentValue back as the register's entry for k.
func parseSent(k schema.Key, v []byte) store.Disclosure {
	vhash, rest, _ := strings.Cut(string(v), "\x00")
	d := store.Disclosure{Key: k, VHash: vhash, Outcome: "sent"}
	if rest != "" {
		if rest[0] == 'r' {
			d.Outcome = "recall"
		}
		d.Version = rest[1:]
	}
	return d
}

func sentKey(k schema.Key) []byte { return []byte(k.ID + "\x00" + k.Origin) }

func parseSentKey(b []byte) schema.Key {
	id, origin, _ := strings.Cut(string(b), "\x00")
	return schema.Key{ID: id, Origin: origin}
}

// bundles returns the bundles written, the joint one first.
func (p *packer) bundles() []*out {
	outs := []*out{p.joint}
	for _, b := range p.extra {
		if b != nil && b.w != nil {
			outs = append(outs, b)
		}
	}
	return outs
}

// close finishes writing b: tree section, trailer, signature, and the
// volumes when it is split. It is published by finish.
func (p *packer) close(b *out) error {
	if err := p.writeTrees(b); err != nil {
		return err
	}
	if err := b.w.Close(); err != nil {
		return err
	}
	if err := b.pub.finish(); err != nil {
		return err
	}
	b.done = &Packed{File: b.file, Header: b.h, Records: b.w.Records(), Recalls: b.recalls, Size: b.pub.size(),
		PayloadSHA: hex.EncodeToString(b.w.PayloadHash()), Volumes: b.pub.files()}
	return nil
}

// finish closes every bundle, records them in the ledger and the peer
// state, and publishes them inside that transaction: when publishing
// fails the sequence numbers roll back, and when the commit fails the
// files are removed again (cleanup). A pack killed between the two leaves
// journal entries that the next pack's recoverPacks turns into ledger
// entries.
func (p *packer) finish() error {
	outs := p.bundles()
	for _, b := range outs {
		if err := p.close(b); err != nil {
			return err
		}
		p.rep.Bundles = append(p.rep.Bundles, b.done)
	}
	highWater := p.highWater
	if p.opts.Input != nil || p.carrierOnly {
		highWater = 0 // such a bundle says nothing of what the store holds
	}
	err := p.o.Store.Update(func(tx *store.Tx) error {
		for _, b := range outs {
			for _, r := range b.h.Recipients {
				// Checked under the write lock: two packs at once must not
				// give one sequence number to two bundles.
				if taken, err := tx.SequenceTaken(r.Agency, r.Sequence); err != nil {
					return err
				} else if taken {
					return fmt.Errorf("%w: another pack for %s took sequence %d at the same time; nothing was written, run pack again", store.ErrBusy, r.Agency, r.Sequence)
				}
			}
		}
		for _, b := range outs {
			if err := p.record(tx, b, highWater); err != nil {
				return err
			}
		}
		for _, b := range outs {
			if err := b.pub.publish(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range outs {
		b.pub.done()
	}
	return nil
}

// record writes b's ledger entries, what each recipient now holds, the
// statements it carried and an audit entry.
func (p *packer) record(tx *store.Tx, b *out, highWater int64) error {
	id := b.h.ID.String()
	for _, r := range b.h.Recipients {
		var withheld int64
		if b == p.joint {
			for _, n := range p.rep.Withheld[r.Agency] {
				withheld += int64(n)
			}
		}
		if err := tx.AddLedger(store.LedgerEntry{Bundle: id, Direction: "sent", Peer: r.Agency, Sequence: r.Sequence,
			Records: int64(b.done.Records), PayloadSHA256: b.done.PayloadSHA, File: b.file, HighWater: highWater,
			Signer: p.signerFpr, Result: "ok", Withheld: withheld}); err != nil {
			return err
		}
		if b == p.joint {
			for _, st := range p.pending {
				if err := tx.StatementSent(st.N, r.Agency, id); err != nil {
					return err
				}
			}
		}
	}
	if b.sent != nil {
		// Every record sent is registered as disclosed; the peer state
		// says what the recipients hold only of a pack from the store.
		known := make([]store.Known, 0, store.BatchSize)
		disclosed := make([]store.Disclosure, 0, store.BatchSize)
		flush := func() error {
			if err := tx.Disclose(id, disclosed); err != nil {
				return err
			}
			for _, r := range b.h.Recipients {
				if p.opts.Input != nil {
					break
				}
				if err := tx.PeerHolds(r.Agency, id, known); err != nil {
					return err
				}
			}
			known, disclosed = known[:0], disclosed[:0]
			return nil
		}
		err := b.sent.Each(func(k, v []byte) error {
			d := parseSent(parseSentKey(k), v)
			known = append(known, store.Known{Key: d.Key, VHash: d.VHash})
			disclosed = append(disclosed, d)
			if len(known) == cap(known) {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	var to []string
	for _, r := range b.h.Recipients {
		to = append(to, r.Agency)
	}
	detail := fmt.Sprintf("bundle %s to %s: %d records, payload %s", id, strings.Join(to, ","), b.done.Records, b.done.PayloadSHA)
	if b.recalls > 0 {
		detail += fmt.Sprintf(", %d recalls", b.recalls)
	}
	return tx.Audit("pack", detail)
}

// cleanup removes what a pack that did not finish left: temporary
// bundles, and the pack's temporary directory in the office home.
func (p *packer) cleanup() {
	for _, b := range append([]*out{p.joint}, p.extra...) {
		if b == nil {
			continue
		}
		if b.pub != nil {
			b.pub.abort() // nothing after done
		}
		if b.sent != nil {
			b.sent.Close()
		}
	}
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}
