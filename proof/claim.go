package proof

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"valise/schema"
)

// Claim says where an author's leaf for one record is: in the author's
// tree ID (a bundle in which the author signed it), at Index, salted with
// Salt. Extras are the author's items the record no longer holds (another
// office's later change replaced them, or a recall stub dropped them):
// the leaf commits to them, the record cannot show them. Handling is the
// handling the leaf commits to when it differs from the record's.
type Claim struct {
	Author   string      `json:"a"`
	Tree     string      `json:"t"`
	Index    uint64      `json:"i"`
	Salt     []byte      `json:"s"`
	Extras   []ItemEntry `json:"x,omitempty"`
	Handling string      `json:"h,omitempty"`
}

// MaxClaims bounds the claims of one record: one per agency of its
// version vector.
const MaxClaims = 64

// MaxLine bounds a proof line.
const MaxLine = 1 << 20

// itemJSON is an ItemEntry as a claim writes it: [key, stamp, hash hex].
func (e ItemEntry) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]string{e.Key, e.Dot, hex.EncodeToString(e.Hash[:])})
}

// UnmarshalJSON reads [key, stamp, hash hex].
func (e *ItemEntry) UnmarshalJSON(b []byte) error {
	var v [3]string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	h, err := hex.DecodeString(v[2])
	if err != nil || len(h) != 32 {
		return fmt.Errorf("item hash is not 32 bytes of hex")
	}
	e.Key, e.Dot = v[0], v[1]
	copy(e.Hash[:], h)
	return nil
}

// MarshalClaims writes claims, sorted by author, as one JSON array.
func MarshalClaims(cs []Claim) []byte {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b Claim) int { return strings.Compare(a.Author, b.Author) })
	b, _ := json.Marshal(cs)
	return b
}

// ParseClaims reads what MarshalClaims writes, strictly: bounded, known
// fields only, sorted by author without repeats, in the canonical form.
func ParseClaims(data []byte) ([]Claim, error) {
	if len(data) > MaxLine {
		return nil, fmt.Errorf("%w: claims longer than %d bytes", ErrProof, MaxLine)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var cs []Claim
	if err := d.Decode(&cs); err != nil {
		return nil, fmt.Errorf("%w: malformed claims: %v", ErrProof, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: trailing data after the claims", ErrProof)
	}
	if len(cs) > MaxClaims {
		return nil, fmt.Errorf("%w: more than %d claims", ErrProof, MaxClaims)
	}
	for i, c := range cs {
		if err := schema.CheckAgency(c.Author); err != nil {
			return nil, fmt.Errorf("%w: claim %d: %v", ErrProof, i+1, err)
		}
		if i > 0 && cs[i-1].Author >= c.Author {
			return nil, fmt.Errorf("%w: claims not sorted by author, or repeated", ErrProof)
		}
		if len(c.Salt) != SaltSize {
			return nil, fmt.Errorf("%w: claim of %s: salt of %d bytes", ErrProof, c.Author, len(c.Salt))
		}
	}
	if !bytes.Equal(MarshalClaims(cs), data) {
		return nil, fmt.Errorf("%w: claims not in canonical form", ErrProof)
	}
	return cs, nil
}

// LeafFor rebuilds the leaf of claim c for record r: the author's items
// r holds, hashed under the claim's salt, with the extras the claim adds.
// It checks what a receiver can check without the tree: every extra
// names a key r holds under another stamp (an item disappears only when a
// change replaced it), except in a recall stub, which keeps none of the
// content.
func LeafFor(r *schema.Record, c *Claim) (*Leaf, error) {
	l := &Leaf{Key: r.Key(), Author: c.Author, N: r.Version.Vector[c.Author], Handling: schema.HandlingString(r.Handling)}
	if c.Handling != "" {
		l.Handling = c.Handling
	}
	for _, it := range Items(r, c.Author) {
		l.Items = append(l.Items, ItemEntry{Key: it.Key, Dot: it.Dot, Hash: ItemHash(c.Salt, it)})
	}
	for _, x := range c.Extras {
		if dotAgency(x.Dot) != c.Author {
			return nil, fmt.Errorf("%w: record %s: an extra item of %s stamped %s", ErrProof, r.Key(), c.Author, x.Dot)
		}
		if r.Recalled == nil {
			cur, ok := r.Version.Props[x.Key]
			if !ok || cur == x.Dot {
				return nil, fmt.Errorf("%w: record %s: %s's item %s (%s) is neither held nor replaced by another change", ErrProof, r.Key(), c.Author, x.Key, x.Dot)
			}
		}
		l.Items = append(l.Items, x)
	}
	slices.SortFunc(l.Items, func(a, b ItemEntry) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Dot, b.Dot)
	})
	for i := 1; i < len(l.Items); i++ {
		if l.Items[i].Key == l.Items[i-1].Key && l.Items[i].Dot == l.Items[i-1].Dot {
			return nil, fmt.Errorf("%w: record %s: %s's item %s (%s) twice", ErrProof, r.Key(), c.Author, l.Items[i].Key, l.Items[i].Dot)
		}
	}
	return l, nil
}

// CheckVersion checks what a version says of its authors against the
// authors the claims name: every agency of the version vector has a claim
// (author is the one without: the sender of the bundle, whose own tree
// holds its leaf), no claim names another, every stamp is of an agency of
// the vector and within its count, and the origin made at least the
// first change.
func CheckVersion(r *schema.Record, claims []Claim, author string) error {
	named := map[string]bool{}
	for _, c := range claims {
		if r.Version.Vector[c.Author] == 0 {
			return fmt.Errorf("%w: record %s: a claim of %s, which the version vector does not name", ErrProof, r.Key(), c.Author)
		}
		if c.Author == author {
			return fmt.Errorf("%w: record %s: a claim of the bundle's own sender %s", ErrProof, r.Key(), author)
		}
		named[c.Author] = true
	}
	for a := range r.Version.Vector {
		if a != author && !named[a] {
			return fmt.Errorf("%w: record %s: no proof for the %d changes of %s", ErrProof, r.Key(), r.Version.Vector[a], a)
		}
	}
	check := func(dot string) error {
		if n := dotNumber(dot); n == 0 || n > r.Version.Vector[dotAgency(dot)] {
			return fmt.Errorf("%w: record %s: stamp %s beyond the version vector", ErrProof, r.Key(), dot)
		}
		return nil
	}
	for _, d := range r.Version.Props {
		if err := check(d); err != nil {
			return err
		}
	}
	for _, alts := range r.Version.Alts {
		for _, a := range alts {
			if err := check(a.Dot); err != nil {
				return err
			}
		}
	}
	if r.Version.Vector[r.Origin] == 0 {
		return fmt.Errorf("%w: record %s: its origin %s made no change to it", ErrProof, r.Key(), r.Origin)
	}
	return nil
}

// HeadLine and NodeLine are the lines of a bundle's tree section.
type HeadLine struct {
	Author    string `json:"a"`
	Key       string `json:"k"`
	ID        string `json:"id"`
	Count     uint64 `json:"n"`
	Root      string `json:"root"`
	Signature string `json:"sig"`
}

// NodeLine is one multiproof node of a forwarded tree.
type NodeLine struct {
	Author string `json:"a"`
	ID     string `json:"id"`
	Lo     uint64 `json:"lo"`
	Hi     uint64 `json:"hi"`
	Hash   string `json:"h"`
}

// MarshalHead writes a head as a tree-section line body.
func MarshalHead(h *Head) []byte {
	b, _ := json.Marshal(HeadLine{h.Author, h.Key, h.ID, h.Count, hex.EncodeToString(h.Root[:]), base64.StdEncoding.EncodeToString(h.Signature)})
	return b
}

// ParseHead reads what MarshalHead writes.
func ParseHead(data []byte) (*Head, error) {
	var l HeadLine
	if err := strictJSON(data, &l); err != nil {
		return nil, err
	}
	root, err := hex.DecodeString(l.Root)
	if err != nil || len(root) != 32 {
		return nil, fmt.Errorf("%w: tree root is not 32 bytes of hex", ErrProof)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(l.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: tree signature is not base64", ErrProof)
	}
	if err := schema.CheckAgency(l.Author); err != nil {
		return nil, fmt.Errorf("%w: tree author: %v", ErrProof, err)
	}
	h := &Head{Author: l.Author, Key: l.Key, ID: l.ID, Count: l.Count, Signature: sig}
	copy(h.Root[:], root)
	if !bytes.Equal(MarshalHead(h), data) {
		return nil, fmt.Errorf("%w: tree head not in canonical form", ErrProof)
	}
	return h, nil
}

// MarshalNode writes a node as a tree-section line body.
func MarshalNode(author, id string, n Node) []byte {
	b, _ := json.Marshal(NodeLine{author, id, n.Lo, n.Hi, hex.EncodeToString(n.Hash[:])})
	return b
}

// ParseNode reads what MarshalNode writes.
func ParseNode(data []byte) (author, id string, n Node, err error) {
	var l NodeLine
	if err := strictJSON(data, &l); err != nil {
		return "", "", Node{}, err
	}
	h, err := hex.DecodeString(l.Hash)
	if err != nil || len(h) != 32 {
		return "", "", Node{}, fmt.Errorf("%w: node hash is not 32 bytes of hex", ErrProof)
	}
	n = Node{Lo: l.Lo, Hi: l.Hi}
	copy(n.Hash[:], h)
	if !bytes.Equal(MarshalNode(l.Author, l.ID, n), data) {
		return "", "", Node{}, fmt.Errorf("%w: node not in canonical form", ErrProof)
	}
	return l.Author, l.ID, n, nil
}

func strictJSON(data []byte, v any) error {
	if len(data) > MaxLine {
		return fmt.Errorf("%w: a tree line longer than %d bytes", ErrProof, MaxLine)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: malformed tree line: %v", ErrProof, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data in a tree line", ErrProof)
	}
	return nil
}

// Carry returns claim c, valid for version from, made valid for version
// to: the author's items that from holds and to does not become extras
// (a later change replaced them). It returns false when to counts another
// number of the author's changes than from: the claim is not to's.
func Carry(from, to *schema.Record, c Claim) (Claim, bool) {
	if from.Version.Vector[c.Author] != to.Version.Vector[c.Author] {
		return Claim{}, false
	}
	have := map[[2]string]bool{}
	for _, it := range Items(to, c.Author) {
		have[[2]string{it.Key, it.Dot}] = true
	}
	out := c
	out.Extras = slices.Clone(c.Extras)
	for _, it := range Items(from, c.Author) {
		if have[[2]string{it.Key, it.Dot}] {
			continue
		}
		out.Extras = append(out.Extras, ItemEntry{Key: it.Key, Dot: it.Dot, Hash: ItemHash(c.Salt, it)})
	}
	// The handling the leaf commits to, when the record shows another.
	if out.Handling == "" {
		out.Handling = schema.HandlingString(from.Handling)
	}
	if out.Handling == schema.HandlingString(to.Handling) {
		out.Handling = ""
	}
	slices.SortFunc(out.Extras, func(a, b ItemEntry) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Dot, b.Dot)
	})
	out.Extras = slices.CompactFunc(out.Extras, func(a, b ItemEntry) bool { return a.Key == b.Key && a.Dot == b.Dot })
	return out, true
}
