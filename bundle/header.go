package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"valise/crypto"
	"valise/schema"
)

// Format constants.
const (
	headerMagic   = "valise-bundle/v1"
	manifestMagic = "valise-manifest/v2"
	// manifestV1 is the manifest of bundles written before authorship
	// proofs (FORMAT.md §3.4): read, not written.
	manifestV1   = "valise-manifest/v1"
	trailerMagic = "valise-trailer/v1"
	endMark      = "---"
	sigContext   = "valise-bundle-signature/v1\x00"

	// Compression is the only compression v1 knows.
	Compression = "zstd"
	// EncryptionHybrid and EncryptionX25519 are the encryption parameters v1 knows.
	EncryptionHybrid = "age-v1 mlkem768x25519"
	EncryptionX25519 = "age-v1 x25519"
)

// Limits. A bundle that exceeds one is refused before anything of that
// size is allocated.
const (
	MaxHeaderSize   = 64 << 10
	MaxRecipients   = 64
	MaxTrailerSize  = 4096
	MaxLineLen      = 4096
	MaxRecordCount  = 1 << 40
	MaxSequence     = 1 << 53
	footerLen       = 16 // "valise-end " + 4 hex digits + "\n"
	footerPrefix    = "valise-end "
	DefaultMaxBytes = 64 << 30 // decompressed bytes of one bundle
)

// Recipient is one addressee of a bundle.
type Recipient struct {
	Agency      string
	Fingerprint string // of the recipient's card, as the sender trusted it
	Sequence    uint64 // the sender→recipient channel sequence number, from 1
}

// Header is the public, signed header of a bundle.
type Header struct {
	ID          uuid.UUID // UUIDv7
	Created     time.Time // UTC, whole seconds
	Sender      string
	SenderKey   string // fingerprint of the sender's card
	Recipients  []Recipient
	Schema      string // schema version "MAJOR.MINOR"
	Compression string
	Encryption  string
}

// Recipient returns the entry for agency, if the bundle is addressed to it.
func (h *Header) Recipient(agency string) (Recipient, bool) {
	for _, r := range h.Recipients {
		if r.Agency == agency {
			return r, true
		}
	}
	return Recipient{}, false
}

func (h *Header) check() error {
	if h.ID.Version() != 7 || h.ID.Variant() != uuid.RFC4122 {
		return fmt.Errorf("bundle id %s is not a UUIDv7", h.ID)
	}
	if err := schema.CheckAgency(h.Sender); err != nil {
		return fmt.Errorf("sender: %v", err)
	}
	if crypto.NormalizeFingerprint(h.SenderKey) != h.SenderKey {
		return fmt.Errorf("sender key fingerprint %q is malformed", schema.Printable(h.SenderKey))
	}
	if len(h.Recipients) == 0 || len(h.Recipients) > MaxRecipients {
		return fmt.Errorf("want 1 to %d recipients, have %d", MaxRecipients, len(h.Recipients))
	}
	for i, r := range h.Recipients {
		if err := schema.CheckAgency(r.Agency); err != nil {
			return fmt.Errorf("recipient %d: %v", i+1, err)
		}
		if r.Agency == h.Sender {
			return fmt.Errorf("recipient %s is the sender", r.Agency)
		}
		if i > 0 && h.Recipients[i-1].Agency >= r.Agency {
			return fmt.Errorf("recipients must be sorted and unique")
		}
		if crypto.NormalizeFingerprint(r.Fingerprint) != r.Fingerprint {
			return fmt.Errorf("recipient %s: malformed fingerprint", r.Agency)
		}
		if r.Sequence == 0 || r.Sequence > MaxSequence {
			return fmt.Errorf("recipient %s: sequence %d out of range 1..2^53", r.Agency, r.Sequence)
		}
	}
	if err := schema.CheckVersion(h.Schema); err != nil {
		return err
	}
	if h.Compression != Compression {
		return fmt.Errorf("unknown compression %q", schema.Printable(h.Compression))
	}
	if h.Encryption != EncryptionHybrid && h.Encryption != EncryptionX25519 {
		return fmt.Errorf("unknown encryption %q", schema.Printable(h.Encryption))
	}
	return nil
}

// Marshal returns the header's one encoding, ending with the "---" line.
func (h *Header) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nid: %s\ncreated: %s\nsender: %s %s\n", headerMagic, h.ID, h.Created.UTC().Format(time.RFC3339),
		h.Sender, h.SenderKey)
	for _, r := range h.Recipients {
		fmt.Fprintf(&b, "recipient: %s %s %d\n", r.Agency, r.Fingerprint, r.Sequence)
	}
	fmt.Fprintf(&b, "schema: %s\ncompression: %s\nencryption: %s\n%s\n", h.Schema, h.Compression, h.Encryption, endMark)
	return b.Bytes()
}

// lines is a strict cursor over "key: value" lines.
type lines struct {
	l    []string
	i    int
	what string
}

func (p *lines) next(key string) (string, error) {
	if p.i >= len(p.l) {
		return "", fmt.Errorf("%s: missing %q line", p.what, key)
	}
	v, ok := strings.CutPrefix(p.l[p.i], key+": ")
	if !ok {
		return "", fmt.Errorf("%s line %d: want %q, found %q", p.what, p.i+1, key, schema.Printable(trunc(p.l[p.i])))
	}
	p.i++
	return v, nil
}

func (p *lines) has(key string) bool { return p.i < len(p.l) && strings.HasPrefix(p.l[p.i], key+": ") }

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// parseUint parses a decimal without sign or leading zeros.
func parseUint(s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a canonical decimal number", schema.Printable(trunc(s)))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a canonical decimal number", schema.Printable(trunc(s)))
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("%s exceeds the limit %d", trunc(s), max)
	}
	return n, nil
}

func parseAgencyKey(s string) (agency, fpr string, err error) {
	agency, fpr, ok := strings.Cut(s, " ")
	if !ok {
		return "", "", fmt.Errorf("want AGENCY FINGERPRINT, found %q", schema.Printable(trunc(s)))
	}
	return agency, fpr, nil
}

func parseRecipient(s string) (Recipient, error) {
	f := strings.Split(s, " ")
	if len(f) != 3 {
		return Recipient{}, fmt.Errorf("want AGENCY FINGERPRINT SEQUENCE, found %q", schema.Printable(trunc(s)))
	}
	seq, err := parseUint(f[2], MaxSequence)
	if err != nil {
		return Recipient{}, fmt.Errorf("sequence: %v", err)
	}
	return Recipient{Agency: f[0], Fingerprint: f[1], Sequence: seq}, nil
}

// ParseHeader parses the exact header bytes, "---" line included. It
// refuses every spelling but the one Marshal writes.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) > MaxHeaderSize {
		return nil, fmt.Errorf("header larger than %d bytes", MaxHeaderSize)
	}
	if !bytes.HasSuffix(data, []byte("\n"+endMark+"\n")) {
		return nil, fmt.Errorf("header does not end with a %q line", endMark)
	}
	all := strings.Split(string(data[:len(data)-len(endMark)-2]), "\n")
	if all[0] != headerMagic {
		if strings.HasPrefix(all[0], "valise-bundle/") {
			return nil, fmt.Errorf("unknown bundle format version %q (this valise reads %s)", schema.Printable(trunc(all[0])), headerMagic)
		}
		return nil, fmt.Errorf("not a valise bundle (first line must be %q)", headerMagic)
	}
	p := &lines{l: all, i: 1, what: "header"}
	h := &Header{}
	id, err := p.next("id")
	if err != nil {
		return nil, err
	}
	if h.ID, err = uuid.Parse(id); err != nil || h.ID.String() != id {
		return nil, fmt.Errorf("header: id %q is not a lowercase UUID", schema.Printable(trunc(id)))
	}
	created, err := p.next("created")
	if err != nil {
		return nil, err
	}
	if h.Created, err = crypto.ParseTime(created); err != nil {
		return nil, fmt.Errorf("header: created: %v", err)
	}
	sender, err := p.next("sender")
	if err != nil {
		return nil, err
	}
	if h.Sender, h.SenderKey, err = parseAgencyKey(sender); err != nil {
		return nil, fmt.Errorf("header: sender: %v", err)
	}
	for p.has("recipient") {
		if len(h.Recipients) >= MaxRecipients {
			return nil, fmt.Errorf("header: more than %d recipients", MaxRecipients)
		}
		v, _ := p.next("recipient")
		r, err := parseRecipient(v)
		if err != nil {
			return nil, fmt.Errorf("header: recipient: %v", err)
		}
		h.Recipients = append(h.Recipients, r)
	}
	if h.Schema, err = p.next("schema"); err != nil {
		return nil, err
	}
	if h.Compression, err = p.next("compression"); err != nil {
		return nil, err
	}
	if h.Encryption, err = p.next("encryption"); err != nil {
		return nil, err
	}
	if p.i != len(all) {
		return nil, fmt.Errorf("header line %d: unknown field %q", p.i+1, schema.Printable(trunc(all[p.i])))
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if !bytes.Equal(h.Marshal(), data) {
		return nil, fmt.Errorf("header is not in canonical form")
	}
	return h, nil
}

// Manifest is the inner manifest at the start of the decrypted payload. It
// binds the payload to one header: stripping the signature and re-signing
// the bundle as another office, or decrypting and re-encrypting it to a
// third office, changes the header and so no longer matches.
type Manifest struct {
	ID         uuid.UUID
	Sender     string
	SenderKey  string
	Recipients []Recipient
	// Receipts tell each recipient which of its bundles the sender has
	// imported, so that it knows what truly arrived.
	Receipts []Receipt
	// Resent names the bundles to a recipient, never acknowledged, whose
	// records this bundle carries again (valise pack --resend): the
	// recipient closes the gap they left.
	Resent []Resent
	// Statements are signed keyring statements by the sender (key rotation
	// or revocation), each in its own canonical text form.
	Statements [][]byte
	// TreeSecret derives the salts of the leaves of the sender's own
	// authorship tree (package proof). A v1 manifest has none.
	TreeSecret []byte
	HeaderHash [32]byte // SHA-256 of the exact header bytes
	// V1 is set for a manifest of format v1, which carries no authorship
	// proofs.
	V1 bool
}

// Limits of the manifest's extras.
const (
	TreeSecretSize = 16
	// MaxProofLine bounds a proof or tree line, MaxTreeSection the tree
	// section of a bundle (held in memory until the end).
	MaxProofLine     = 1 << 20
	MaxTreeSection   = 64 << 20
	MaxReceiptRanges = 256
	MaxResent        = 256
	MaxStatements    = 16
	MaxStatementSize = 24 << 10
)

// Receipt lists the sequence numbers of Agency's bundles to the sender that
// the sender has imported, as ranges.
type Receipt struct {
	Agency string
	Ranges []SeqRange
}

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct{ From, To uint64 }

// Contains reports whether seq is in one of the ranges.
func (r Receipt) Contains(seq uint64) bool {
	for _, x := range r.Ranges {
		if seq >= x.From && seq <= x.To {
			return true
		}
	}
	return false
}

// RangesOf compresses sorted, distinct sequence numbers into ranges,
// keeping the most recent MaxReceiptRanges ranges.
func RangesOf(seqs []uint64) []SeqRange {
	var out []SeqRange
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].To+1 == s {
			out[n-1].To = s
			continue
		}
		out = append(out, SeqRange{s, s})
	}
	if len(out) > MaxReceiptRanges {
		out = out[len(out)-MaxReceiptRanges:]
	}
	return out
}

// Resent is a bundle the sender sent to Agency under Sequence and never
// saw acknowledged, whose records the bundle carrying it sends again.
type Resent struct {
	Agency   string
	Sequence uint64
	Bundle   uuid.UUID
}

func parseResent(s string) (Resent, error) {
	f := strings.Split(s, " ")
	if len(f) != 3 || schema.CheckAgency(f[0]) != nil {
		return Resent{}, fmt.Errorf("want AGENCY SEQUENCE BUNDLE, found %q", schema.Printable(trunc(s)))
	}
	seq, err := parseUint(f[1], MaxSequence)
	if err != nil || seq == 0 {
		return Resent{}, fmt.Errorf("bad sequence %q", schema.Printable(trunc(f[1])))
	}
	id, err := uuid.Parse(f[2])
	if err != nil || id.String() != f[2] {
		return Resent{}, fmt.Errorf("bad bundle id %q", schema.Printable(trunc(f[2])))
	}
	return Resent{Agency: f[0], Sequence: seq, Bundle: id}, nil
}

// resentLess orders resent lines: by agency, then sequence.
func resentLess(a, b Resent) bool {
	if a.Agency != b.Agency {
		return a.Agency < b.Agency
	}
	return a.Sequence < b.Sequence
}

func (r Receipt) marshal() string {
	var b strings.Builder
	b.WriteString(r.Agency)
	b.WriteByte(' ')
	for i, x := range r.Ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		if x.From == x.To {
			fmt.Fprintf(&b, "%d", x.From)
		} else {
			fmt.Fprintf(&b, "%d-%d", x.From, x.To)
		}
	}
	return b.String()
}

func parseReceipt(s string) (Receipt, error) {
	agency, list, ok := strings.Cut(s, " ")
	if !ok || schema.CheckAgency(agency) != nil || list == "" {
		return Receipt{}, fmt.Errorf("want AGENCY RANGES, found %q", schema.Printable(trunc(s)))
	}
	r := Receipt{Agency: agency}
	parts := strings.Split(list, ",")
	if len(parts) > MaxReceiptRanges {
		return Receipt{}, fmt.Errorf("more than %d ranges", MaxReceiptRanges)
	}
	var last uint64
	for _, p := range parts {
		a, b, isRange := strings.Cut(p, "-")
		from, err := parseUint(a, MaxSequence)
		if err != nil {
			return Receipt{}, err
		}
		to := from
		if isRange {
			if to, err = parseUint(b, MaxSequence); err != nil {
				return Receipt{}, err
			}
			if to <= from {
				return Receipt{}, fmt.Errorf("range %s is not increasing", p)
			}
		}
		if from == 0 || (len(r.Ranges) > 0 && from <= last+1) {
			return Receipt{}, fmt.Errorf("ranges must be sorted, disjoint, not adjacent and start at 1 or more")
		}
		last = to
		r.Ranges = append(r.Ranges, SeqRange{from, to})
	}
	return r, nil
}

func (m *Manifest) marshal() []byte {
	var b bytes.Buffer
	magic := manifestMagic
	if m.V1 {
		magic = manifestV1
	}
	fmt.Fprintf(&b, "%s\nid: %s\nsender: %s %s\n", magic, m.ID, m.Sender, m.SenderKey)
	for _, r := range m.Recipients {
		fmt.Fprintf(&b, "recipient: %s %s %d\n", r.Agency, r.Fingerprint, r.Sequence)
	}
	for _, r := range m.Receipts {
		fmt.Fprintf(&b, "receipt: %s\n", r.marshal())
	}
	for _, r := range m.Resent {
		fmt.Fprintf(&b, "resent: %s %d %s\n", r.Agency, r.Sequence, r.Bundle)
	}
	for _, st := range m.Statements {
		fmt.Fprintf(&b, "statement: %s\n", base64.StdEncoding.EncodeToString(st))
	}
	if !m.V1 {
		fmt.Fprintf(&b, "tree-secret: %s\n", hex.EncodeToString(m.TreeSecret))
	}
	fmt.Fprintf(&b, "header-sha256: %s\n%s\n", hex.EncodeToString(m.HeaderHash[:]), endMark)
	return b.Bytes()
}

func parseManifest(data []byte) (*Manifest, error) {
	if !bytes.HasSuffix(data, []byte("\n"+endMark+"\n")) {
		return nil, fmt.Errorf("manifest does not end with a %q line", endMark)
	}
	all := strings.Split(string(data[:len(data)-len(endMark)-2]), "\n")
	if all[0] != manifestMagic && all[0] != manifestV1 {
		return nil, fmt.Errorf("payload does not start with %q", manifestMagic)
	}
	p := &lines{l: all, i: 1, what: "manifest"}
	m := &Manifest{V1: all[0] == manifestV1}
	id, err := p.next("id")
	if err != nil {
		return nil, err
	}
	if m.ID, err = uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("manifest: malformed id")
	}
	sender, err := p.next("sender")
	if err != nil {
		return nil, err
	}
	if m.Sender, m.SenderKey, err = parseAgencyKey(sender); err != nil {
		return nil, fmt.Errorf("manifest: sender: %v", err)
	}
	for p.has("recipient") {
		if len(m.Recipients) >= MaxRecipients {
			return nil, fmt.Errorf("manifest: more than %d recipients", MaxRecipients)
		}
		v, _ := p.next("recipient")
		r, err := parseRecipient(v)
		if err != nil {
			return nil, fmt.Errorf("manifest: recipient: %v", err)
		}
		m.Recipients = append(m.Recipients, r)
	}
	for p.has("receipt") {
		v, _ := p.next("receipt")
		r, err := parseReceipt(v)
		if err != nil {
			return nil, fmt.Errorf("manifest: receipt: %v", err)
		}
		if n := len(m.Receipts); n > 0 && m.Receipts[n-1].Agency >= r.Agency || len(m.Receipts) >= MaxRecipients {
			return nil, fmt.Errorf("manifest: receipts must be sorted by agency, one each, at most %d", MaxRecipients)
		}
		m.Receipts = append(m.Receipts, r)
	}
	for p.has("resent") {
		v, _ := p.next("resent")
		r, err := parseResent(v)
		if err != nil {
			return nil, fmt.Errorf("manifest: resent: %v", err)
		}
		if n := len(m.Resent); n > 0 && !resentLess(m.Resent[n-1], r) || len(m.Resent) >= MaxResent {
			return nil, fmt.Errorf("manifest: resent lines must be sorted by agency and sequence, one each, at most %d", MaxResent)
		}
		m.Resent = append(m.Resent, r)
	}
	for p.has("statement") {
		v, _ := p.next("statement")
		if len(m.Statements) >= MaxStatements || len(v) > MaxStatementSize*4/3+4 {
			return nil, fmt.Errorf("manifest: more than %d statements or one too large", MaxStatements)
		}
		st, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || base64.StdEncoding.EncodeToString(st) != v {
			return nil, fmt.Errorf("manifest: statement is not canonical base64")
		}
		m.Statements = append(m.Statements, st)
	}
	if !m.V1 {
		ts, err := p.next("tree-secret")
		if err != nil {
			return nil, err
		}
		if m.TreeSecret, err = hex.DecodeString(ts); err != nil || len(m.TreeSecret) != TreeSecretSize {
			return nil, fmt.Errorf("manifest: tree-secret is not %d bytes of hex", TreeSecretSize)
		}
	}
	hh, err := p.next("header-sha256")
	if err != nil {
		return nil, err
	}
	if b, err := hex.DecodeString(hh); err != nil || len(b) != 32 || hex.EncodeToString(b) != hh {
		return nil, fmt.Errorf("manifest: malformed header-sha256")
	} else {
		copy(m.HeaderHash[:], b)
	}
	if p.i != len(all) {
		return nil, fmt.Errorf("manifest line %d: unknown field", p.i+1)
	}
	if !bytes.Equal(m.marshal(), data) {
		return nil, fmt.Errorf("manifest is not in canonical form")
	}
	return m, nil
}

// Trailer is the signed end of a bundle.
type Trailer struct {
	PayloadLength int64
	PayloadHash   [32]byte // over the age payload's 1 MiB chunks (FORMAT.md §4.1)
	Records       uint64
	Signature     []byte
}

func (t *Trailer) body() []byte {
	return []byte(fmt.Sprintf("%s\npayload-length: %d\npayload-hash: %s\nrecords: %d\n", trailerMagic,
		t.PayloadLength, hex.EncodeToString(t.PayloadHash[:]), t.Records))
}

func (t *Trailer) marshal() []byte {
	return append(t.body(), "signature: "+b64(t.Signature)+"\n"...)
}

func parseTrailer(data []byte) (*Trailer, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("trailer does not end with a newline")
	}
	all := strings.Split(string(data[:len(data)-1]), "\n")
	if all[0] != trailerMagic {
		return nil, fmt.Errorf("trailer does not start with %q", trailerMagic)
	}
	p := &lines{l: all, i: 1, what: "trailer"}
	t := &Trailer{}
	v, err := p.next("payload-length")
	if err != nil {
		return nil, err
	}
	n, err := parseUint(v, 1<<62)
	if err != nil {
		return nil, fmt.Errorf("trailer: payload-length: %v", err)
	}
	t.PayloadLength = int64(n)
	if v, err = p.next("payload-hash"); err != nil {
		return nil, err
	}
	if b, err := hex.DecodeString(v); err != nil || len(b) != 32 || hex.EncodeToString(b) != v {
		return nil, fmt.Errorf("trailer: malformed payload-hash")
	} else {
		copy(t.PayloadHash[:], b)
	}
	if v, err = p.next("records"); err != nil {
		return nil, err
	}
	if t.Records, err = parseUint(v, MaxRecordCount); err != nil {
		return nil, fmt.Errorf("trailer: records: %v", err)
	}
	if v, err = p.next("signature"); err != nil {
		return nil, err
	}
	if t.Signature, err = unb64(v, 64); err != nil {
		return nil, fmt.Errorf("trailer: signature: %v", err)
	}
	if p.i != len(all) {
		return nil, fmt.Errorf("trailer line %d: unknown field", p.i+1)
	}
	if !bytes.Equal(t.marshal(), data) {
		return nil, fmt.Errorf("trailer is not in canonical form")
	}
	return t, nil
}

// SortRecipients orders recipients by agency, as the header requires.
func SortRecipients(rs []Recipient) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Agency < rs[j].Agency })
}
