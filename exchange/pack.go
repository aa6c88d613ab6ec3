package exchange

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"valise/bundle"
	"valise/crypto"
	"valise/handling"
	"valise/office"
	"valise/proof"
	"valise/schema"
	"valise/store"
)

// PackOptions configure Pack.
type PackOptions struct {
	To     []string   // recipient agencies
	All    bool       // everything the recipients may receive, not only what they lack
	Resend bool       // also send again what went in bundles the recipients never acknowledged
	Input  *PackInput // when not nil, pack this file's records instead of the store's
	// Output is the bundle file to create, or a directory to create it in
	// ("" for the current directory, with a default name). A record that
	// some recipients may receive and others not goes in a bundle of its
	// own for each recipient that may (see Pack): those files go beside
	// the joint one, named NAME.RECIPIENT.valise.
	Output string
	// VolumeSize, when not 0, splits each bundle into volumes of at most
	// this many bytes (package volume), named after its file. Without it
	// a bundle bound for a FAT file system is split only when it would
	// pass 4 GiB.
	VolumeSize int64
	Parity     int // parity volumes in percent of the data volumes; -1 for DefaultParity
	// Progress, when set, is told as the pack goes how many of the
	// records to look at it has looked at (total -1 when not known).
	Progress func(done, total int64)
	// Withheld, when set, is told of every record withheld from a
	// recipient (the report names only the first MaxListed).
	Withheld func(Withheld)
}

// Packed is one bundle file Pack wrote.
type Packed struct {
	File       string
	Header     *bundle.Header
	Records    uint64
	Recalls    int // recall stubs among the records
	Size       int64
	PayloadSHA string
	Volumes    []string // the volume files, when the bundle was split
}

// Withheld is a record a recipient did not get, and why.
type Withheld struct {
	Key       schema.Key
	Recipient string
	Reason    string
}

// PackReport tells what Pack wrote.
type PackReport struct {
	// Bundles holds the files written: the joint bundle to every recipient
	// first, then one per recipient that gets records the others may not.
	Bundles []*Packed
	// Withheld counts, per recipient and reason, the records its handling
	// keeps from it; WithheldList names the first MaxListed of them and
	// MoreWithheld counts the rest.
	Withheld     map[string]map[string]int
	WithheldList []Withheld
	MoreWithheld int
	Statements   []string          // keyring statements carried ("rotate KEY", …)
	Receipts     map[string]string // recipient → the sequences acknowledged to it
	Resent       map[string]string // recipient → its bundles never acknowledged whose records go again (--resend)
	Note         string
	onWithheld   func(Withheld)
}

// WithheldNoProof: a record an author changed before bundles carried
// proofs of authorship, which no receiver can check any more.
const WithheldNoProof = "no proof of authorship for a change of another office (received in a format v1 bundle)"

// withhold counts that recipient does not get k, for why.
func (rep *PackReport) withhold(k schema.Key, recipient, why string) {
	if rep.Withheld[recipient] == nil {
		rep.Withheld[recipient] = map[string]int{}
	}
	rep.Withheld[recipient][why]++
	if rep.onWithheld != nil {
		rep.onWithheld(Withheld{Key: k, Recipient: recipient, Reason: why})
	}
	if len(rep.WithheldList) < MaxListed {
		rep.WithheldList = append(rep.WithheldList, Withheld{Key: k, Recipient: recipient, Reason: why})
	} else {
		rep.MoreWithheld++
	}
}

// Pack writes bundles for opts.To. By default they hold the record
// versions the recipients do not hold yet (changed since the last bundle
// to them, and not received from them as they are).
//
// Each recipient gets exactly what its handling allows (package handling):
// a record every recipient may receive goes in one joint bundle to all; a
// record only some may receive goes in a bundle of its own for each of
// those (the recipients' sequences number them after the joint one), and
// the others have it withheld, counted and named in the report. A
// recipient that holds a version of a record it may no longer hold (its
// originator narrowed the handling) gets the record's recall stub. What a
// recipient did not get is never recorded as sent to it.
//
// Nothing readable is written outside the office home but the bundles:
// sort runs and the list of what was sent stay in its temporary directory.
// A file appears only when complete (internal/publish), and only inside
// the transaction that records its sequence numbers: a pack that fails
// leaves no file and uses up no sequence number, and an existing file is
// never replaced.
func Pack(o *office.Office, opts PackOptions) (*PackReport, error) {
	// A pack killed earlier may have left a bundle published but not
	// recorded: record it before numbering these.
	if err := recoverPacks(o); err != nil {
		return nil, err
	}
	p, err := newPacker(o, opts)
	if err != nil {
		return nil, err
	}
	defer p.cleanup()
	if err := p.open(p.joint); err != nil {
		return nil, err
	}
	switch {
	case p.carrierOnly:
		p.rep.Note = "this bundle carries only the revocation of this office's old key; once the recipients have confirmed the new card and sent a bundle back, pack again"
	case opts.Input != nil:
		err = p.fromFile(opts.Input)
	default:
		err = p.fromStore()
	}
	if err != nil {
		return nil, err
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.rep, nil
}

// Waiting is what the next ordinary pack for one peer alone would do
// now: the records it would send, the recall stubs among them, and the
// records it would withhold.
type Waiting struct{ Records, Recalls, Withheld int }

// CountWaiting counts, for each of peers, what an ordinary pack for that
// peer alone would do now (Waiting), without writing anything: one pass
// over the records changed since the earliest of the peers' last bundles,
// each looked at for the peers whose last bundle it changed after, by the
// pack's own release decision (decide).
func CountWaiting(o *office.Office, peers []string) ([]Waiting, error) {
	p := &packer{o: o, opts: PackOptions{To: peers}, today: o.Now(), to: peers,
		rep:     &PackReport{Withheld: map[string]map[string]int{}, Receipts: map[string]string{}, Resent: map[string]string{}},
		waiting: make([]Waiting, len(peers))}
	p.at = p.today.UTC().Format(time.RFC3339)
	if len(peers) == 0 {
		return nil, nil
	}
	if err := p.channels(); err != nil {
		return nil, err
	}
	if err := p.fromStore(); err != nil {
		return nil, err
	}
	return p.waiting, nil
}

// tally counts the verdicts of one record (CountWaiting).
func (p *packer) tally(vs []verdict) {
	for i, v := range vs {
		switch v {
		case release:
			p.waiting[i].Records++
		case recall:
			p.waiting[i].Recalls++
		case withhold:
			p.waiting[i].Withheld++
		}
	}
}

// packer is the state of one Pack.
type packer struct {
	// waiting, when not nil, makes the packer count what a pack for
	// each recipient alone would do (CountWaiting), and write nothing.
	waiting []Waiting
	o       *office.Office
	opts    PackOptions
	rep     *PackReport
	to      []string // recipients, sorted (in status's order for CountWaiting)
	cards   []*crypto.Card
	today   time.Time
	at      string // the pack's time, RFC 3339: of recalls

	enc         string
	signer      *crypto.Keys
	signerFpr   string
	pending     []store.Statement
	statements  [][]byte
	receipts    []bundle.Receipt
	carrierOnly bool

	seq       []uint64          // next sequence per recipient
	since     int64             // the store changes to look at: after the earliest recipient's high water
	sinces    []int64           // each recipient's high water
	highWater int64             // the store's change counter when the pack began
	unacked   []map[string]bool // per recipient, for --resend
	resent    []bundle.Resent   // the unacknowledged bundles a --resend carries again, named in the joint bundle's manifest
	// claims is the last record's stored claims parsed (parseClaims).
	claims struct {
		raw []byte
		cs  []proof.Claim
		err error
	}
	tmp      string // this pack's temporary directory in the office home
	joint    *out
	extra    []*out // per recipient, made when first needed
	outDir   string
	outName  string // the joint bundle's file name
	explicit bool   // the name was given
}

func newPacker(o *office.Office, opts PackOptions) (*packer, error) {
	if len(opts.To) == 0 {
		return nil, errors.New("pack needs at least one recipient")
	}
	p := &packer{o: o, opts: opts, today: o.Now(),
		rep: &PackReport{Withheld: map[string]map[string]int{}, Receipts: map[string]string{}, Resent: map[string]string{}, onWithheld: opts.Withheld}}
	p.at = p.today.UTC().Format(time.RFC3339)
	p.to = slices.Clone(opts.To)
	sort.Strings(p.to)
	p.to = slices.Compact(p.to)
	if len(p.to) > bundle.MaxRecipients {
		return nil, fmt.Errorf("at most %d recipients", bundle.MaxRecipients)
	}
	kr, err := o.Keyring()
	if err != nil {
		return nil, err
	}
	hybrid := true
	for _, a := range p.to {
		if a == o.Agency() {
			return nil, fmt.Errorf("%s is this office; a bundle goes to other offices", a)
		}
		c, ok := kr.Card(a)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a trusted peer", ErrNotTrusted, a)
		}
		p.cards = append(p.cards, c)
		hybrid = hybrid && c.HasHybrid()
	}
	p.enc = bundle.EncryptionHybrid
	if !hybrid {
		p.enc = bundle.EncryptionX25519
		p.rep.Note = "a recipient's card offers no post-quantum recipient: the payload uses X25519 only"
	}
	if err := p.keys(); err != nil {
		return nil, err
	}
	if err := p.channels(); err != nil {
		return nil, err
	}
	if p.tmp, err = o.TempDir(); err != nil {
		return nil, err
	}
	if err := p.names(); err != nil {
		p.cleanup()
		return nil, err
	}
	p.extra = make([]*out, len(p.to))
	all := make([]int, len(p.to))
	for i := range all {
		all[i] = i
	}
	p.joint = &out{recipients: all}
	return p, nil
}

// keys picks the signing key and the keyring statements to carry.
// Statements a recipient has not acknowledged travel again, in a bundle
// signed by the key they retire (the key the recipient still trusts).
// Recipients in different states need separate packs.
func (p *packer) keys() error {
	for i, a := range p.to {
		st, err := p.o.Store.PendingStatements(a)
		if err != nil {
			return err
		}
		if i > 0 && !sameStatements(st, p.pending) {
			return fmt.Errorf("%s and %s have not acknowledged the same key statements; pack for each separately", p.to[0], a)
		}
		p.pending = st
	}
	p.signerFpr = p.o.Card.Fingerprint()
	for _, st := range p.pending {
		p.statements = append(p.statements, st.Body)
		p.rep.Statements = append(p.rep.Statements, st.Kind+" "+st.Key)
		if st.Kind == crypto.Revoke {
			p.carrierOnly = true
		}
	}
	if len(p.pending) > 0 {
		p.signerFpr = p.pending[0].Key
	}
	var err error
	if p.signerFpr == p.o.Card.Fingerprint() {
		p.signer, err = p.o.Keys()
	} else {
		p.signer, err = p.o.SigningKeyFor(p.signerFpr)
	}
	return err
}

// channels reads each recipient's next sequence number, high water,
// unacknowledged bundles and the receipts owed to it.
func (p *packer) channels() error {
	p.since = -1
	p.seq = make([]uint64, len(p.to))
	p.sinces = make([]int64, len(p.to))
	p.unacked = make([]map[string]bool, len(p.to))
	for i, a := range p.to {
		var err error
		if p.seq[i], err = p.o.Store.NextSequence(a); err != nil {
			return err
		}
		hw, err := p.o.Store.SentHighWater(a)
		if err != nil {
			return err
		}
		p.sinces[i] = hw
		if p.since < 0 || hw < p.since {
			p.since = hw
		}
		if p.opts.Resend && p.opts.Input == nil {
			if p.unacked[i], err = p.o.Store.UnacknowledgedBundles(a); err != nil {
				return err
			}
			bySeq, err := p.o.Store.UnacknowledgedSent(a)
			if err != nil {
				return err
			}
			seqs := slices.Sorted(maps.Keys(bySeq))
			seqs = seqs[:min(len(seqs), bundle.MaxResent/len(p.to))]
			if len(seqs) > 0 {
				p.rep.Resent[a] = rangesString(bundle.RangesOf(seqs))
			}
			for _, seq := range seqs {
				id, err := uuid.Parse(bySeq[seq])
				if err != nil {
					return fmt.Errorf("ledger holds a malformed bundle id %q", bySeq[seq])
				}
				p.resent = append(p.resent, bundle.Resent{Agency: a, Sequence: seq, Bundle: id})
			}
		}
		got, err := p.o.Store.ReceivedSequences(a)
		if err != nil {
			return err
		}
		if len(got) > 0 {
			r := bundle.Receipt{Agency: a, Ranges: bundle.RangesOf(got)}
			p.receipts = append(p.receipts, r)
			p.rep.Receipts[a] = rangesString(r.Ranges)
		}
	}
	if p.opts.All || p.opts.Resend {
		p.since = 0
	}
	var err error
	p.highWater, err = p.o.Store.HighWater()
	return err
}

// may returns, per recipient, why r may not go to it ("" where it may):
// its own handling, or refused[i], why a record that r names keeps it
// from recipient i (refused may be nil).
func (p *packer) may(r *schema.Record, refused []string) []string {
	may := make([]string, len(p.to))
	for i, a := range p.to {
		if ok, why := handling.Releasable(r, p.o.Agency(), a, p.today); !ok {
			may[i] = why
		} else if refused != nil && refused[i] != "" {
			may[i] = refused[i]
		}
	}
	return may
}

// verdict is what a pack does with one record for one recipient.
type verdict uint8

const (
	skip     verdict = iota // nothing: the recipient holds it, or nothing is new
	release                 // the record goes to it
	recall                  // its recall stub goes to it
	withhold                // its handling keeps the record from it
)

// decide is the pack's release decision for one record, per recipient,
// as if each were packed for alone: the one place that says what a
// recipient gets. may[i] is why recipient i may not receive the record
// ("" where it may); need[i] tells whether it lacks this version. From
// the store (r not nil), a recipient that holds a version (held[i]) it
// may no longer hold at all — its handling, or refHold[i] false: a record
// it names — gets the record's recall stub instead (stub, with its
// canonical line, when some recipient gets it). Status counts these
// verdicts (statusPass); route sends by them.
func (p *packer) decide(r *schema.Record, line []byte, may []string, need []bool, held []string, refHold []bool) (vs []verdict, stub *schema.Record, stubLine []byte) {
	vs = make([]verdict, len(p.to))
	for i := range p.to {
		// H2, H3 and retention keep a record from being sent on, not from
		// being held: they never recall.
		holdsBarred := r != nil && held != nil && held[i] != "" && !mayHold(r, p.to[i])
		rc := r != nil && held != nil && held[i] != "" && (holdsBarred || (refHold != nil && !refHold[i]))
		if rc && stub == nil {
			// The stub of a version is the same wherever it is made, so
			// that a peer that holds it is not sent it again.
			stub, stubLine = r, line
			if r.Recalled == nil {
				stub = r.Stub(r.Origin, r.Version.At)
				stubLine = stub.AppendCanonical(nil)
			}
		}
		if rc && held[i] == schema.VersionHash(stubLine) {
			rc = false
		}
		switch {
		case !need[i] && !rc:
		case may[i] == "":
			vs[i] = release
		case rc:
			vs[i] = recall
		case !need[i] || holdsBarred:
			// Nothing new, or a stub the peer holds already.
		default:
			vs[i] = withhold
		}
	}
	return vs, stub, stubLine
}

// route sends one record where decide says: to the joint bundle when
// every recipient may receive it and one of them gets it, else to the
// bundle of each recipient that gets it (the record or its recall stub),
// counting those that have it withheld.
func (p *packer) route(r *schema.Record, k schema.Key, line, claims []byte, may []string, need []bool, held []string, refHold []bool) error {
	vs, stub, stubLine := p.decide(r, line, may, need, held, refHold)
	all, any := true, false
	for i := range p.to {
		all = all && may[i] == ""
		any = any || vs[i] != skip
	}
	if !any {
		return nil
	}
	if all {
		return p.send(p.joint, r, line, r, claims, false)
	}
	for i, v := range vs {
		switch v {
		case recall:
			// The recall stub, or the stub this office holds, passed on.
			if err := p.send(p.extraFor(i), stub, stubLine, r, claims, true); err != nil {
				return err
			}
		case release:
			if err := p.send(p.extraFor(i), r, line, r, claims, false); err != nil {
				return err
			}
		case withhold:
			p.rep.withhold(k, p.to[i], may[i])
		}
	}
	return nil
}

// extraFor returns the bundle of records for recipient i alone: the joint
// bundle when i is the only recipient.
func (p *packer) extraFor(i int) *out {
	if len(p.to) == 1 {
		return p.joint
	}
	if p.extra[i] == nil {
		p.extra[i] = &out{recipients: []int{i}}
	}
	return p.extra[i]
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

// ageRecipients returns the age recipients of the recipients at idx.
func (p *packer) ageRecipients(idx []int) []age.Recipient {
	var out []age.Recipient
	for _, i := range idx {
		out = append(out, p.cards[i].AgeRecipients(p.enc == bundle.EncryptionHybrid)...)
	}
	return out
}

func mayHold(r *schema.Record, office string) bool {
	ok, _ := handling.MayHold(r, office)
	return ok
}
