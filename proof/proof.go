// Package proof is valise's end-to-end authorship (SPEC §4.10): every
// record version a bundle carries can be traced, key by key, to a signed
// statement of the office that made each change, through any number of
// relays, without a public-key operation per record and without telling a
// relay's recipient anything about the records the relay withholds.
//
// # Items and leaves
//
// A record's content is a set of keys (package merge): each property and
// the envelope parts @handling, @evaluation, @deleted, @extra:NAME. Every
// candidate value of a key carries the stamp AGENCY:N of the change that
// wrote it. The items of agency A in a version are its candidates stamped
// by A: (key, stamp, values).
//
// When A packs a record whose version vector names A (vv[A] = n), it
// commits to its items in a leaf:
//
//	item = SHA-256("valise-item/v1\x00" || salt || key || 0 || stamp || 0 || len || values…)
//	leaf = SHA-256("valise-leaf/v1\x00" || salt || id || 0 || origin || 0 || A || 0 || n || 0 ||
//	               SHA-256(handling) || item…)
//
// with the items in key order and salt a 16-byte value of the leaf's own
// (see LeafSalt). The handling is the record's whole handling envelope as
// A holds it: a version by another office may only be as restrictive or
// more, which the receiver checks against the origin's leaf.
//
// # Trees
//
// The leaves of one bundle form a Merkle tree (RFC 6962's shape: a
// subtree of k leaves splits at the largest power of two below k). A signs
// its root once per bundle, a tree head: Ed25519 over
// "valise-tree/v1\x00" || A || 0 || key fingerprint || 0 || tree id || 0 ||
// count || 0 || root (hex).
// A relay that forwards some of A's records forwards A's tree head, each
// record's leaf index and salt, and the hashes of the subtrees it does not
// forward (a multiproof): the receiver recomputes the root from what it
// received and checks A's signature. Salts are secret per leaf, so a
// subtree hash tells nothing of the withheld records in it.
//
// When every leaf of a tree travels (a bundle's own tree, or a relay that
// forwards all of it), the tree's 16-byte secret travels instead of the
// salts: LeafSalt derives each leaf's salt from it.
package proof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"valise/schema"
)

// Errors.
var (
	// ErrProof: a version's proof of authorship fails.
	ErrProof = errors.New("authorship proof fails")
)

// SaltSize is the size of a leaf salt and of a tree secret.
const SaltSize = 16

// Hash is a SHA-256 digest.
type Hash = [32]byte

// Item is one candidate value of a key, stamped by the change that wrote
// it.
type Item struct {
	Key    string
	Dot    string
	Values []string
}

// Keys under which the envelope parts are stamped (see package merge).
const (
	keyHandling   = "@handling"
	keyEvaluation = "@evaluation"
	keyDeleted    = "@deleted"
	keyExtra      = "@extra:"
)

// value returns key k of r as merge.Value does (kept here so that proof
// depends on schema only).
func value(r *schema.Record, k string) []string {
	switch {
	case k == keyHandling:
		return []string{schema.HandlingString(r.Handling)}
	case k == keyEvaluation:
		if r.Evaluation == nil {
			return nil
		}
		return []string{r.Evaluation.Reliability + r.Evaluation.Credibility}
	case k == keyDeleted:
		if r.Deleted {
			return []string{"deleted"}
		}
		return []string{"present"}
	case strings.HasPrefix(k, keyExtra):
		if v, ok := r.Extra[k[len(keyExtra):]]; ok {
			return []string{string(v)}
		}
		return nil
	}
	return r.Properties[k]
}

// Items returns the items of agency in r, sorted by key and stamp. When
// a record holds concurrent handlings, each is in its alternatives as its
// change wrote it (the one shown too): the value the record shows, their
// combination, is nobody's item.
func Items(r *schema.Record, agency string) []Item {
	var out []Item
	for k, dot := range r.Version.Props {
		if k == keyHandling && slices.ContainsFunc(r.Version.Alts[k], func(a schema.Alt) bool { return a.Dot == dot }) {
			continue
		}
		if dotAgency(dot) == agency {
			out = append(out, Item{Key: k, Dot: dot, Values: value(r, k)})
		}
	}
	for k, alts := range r.Version.Alts {
		for _, a := range alts {
			if dotAgency(a.Dot) == agency {
				out = append(out, Item{Key: k, Dot: a.Dot, Values: a.Values})
			}
		}
	}
	slices.SortFunc(out, func(a, b Item) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Dot, b.Dot)
	})
	return out
}

func dotAgency(dot string) string {
	a, _, _ := strings.Cut(dot, ":")
	return a
}

func dotNumber(dot string) uint64 {
	_, n, _ := strings.Cut(dot, ":")
	v, _ := strconv.ParseUint(n, 10, 64)
	return v
}

// ItemHash is the salted hash of one item.
func ItemHash(salt []byte, it Item) Hash {
	h := sha256.New()
	h.Write([]byte("valise-item/v1\x00"))
	h.Write(salt)
	h.Write([]byte(it.Key))
	h.Write([]byte{0})
	h.Write([]byte(it.Dot))
	h.Write([]byte{0})
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(it.Values)))
	h.Write(n[:])
	for _, v := range it.Values {
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// Leaf is what an author commits to for one record: its key, the count
// of the author's changes (vv[author]), the handling as the author held
// it, and the hashes of the author's items.
type Leaf struct {
	Key      schema.Key
	Author   string
	N        uint64
	Handling string // canonical handling envelope
	Items    []ItemEntry
}

// ItemEntry is an item as a leaf commits to it: key, stamp and salted
// hash, sorted by key and stamp.
type ItemEntry struct {
	Key, Dot string
	Hash     Hash
}

// Hash returns the leaf hash under salt.
func (l *Leaf) Hash(salt []byte) Hash {
	h := sha256.New()
	h.Write([]byte("valise-leaf/v1\x00"))
	h.Write(salt)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00", l.Key.ID, l.Key.Origin, l.Author, l.N)
	hh := sha256.Sum256([]byte(l.Handling))
	h.Write(hh[:])
	for _, it := range l.Items {
		h.Write([]byte(it.Key))
		h.Write([]byte{0})
		h.Write([]byte(it.Dot))
		h.Write([]byte{0})
		h.Write(it.Hash[:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// MakeLeaf returns the leaf of author for r, whose items it hashes under
// salt.
func MakeLeaf(r *schema.Record, author string, salt []byte) *Leaf {
	l := &Leaf{Key: r.Key(), Author: author, N: r.Version.Vector[author], Handling: schema.HandlingString(r.Handling)}
	for _, it := range Items(r, author) {
		l.Items = append(l.Items, ItemEntry{Key: it.Key, Dot: it.Dot, Hash: ItemHash(salt, it)})
	}
	return l
}

// LeafSalt derives the salt of leaf index i of a tree from the tree's
// secret.
func LeafSalt(secret []byte, i uint64) []byte {
	m := hmac.New(sha256.New, secret)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	m.Write([]byte("valise-leaf-salt/v1\x00"))
	m.Write(b[:])
	return m.Sum(nil)[:SaltSize]
}

// Tree hashing (RFC 6962 §2.1, with valise's own domain bytes).

func leafNode(l Hash) Hash {
	return sha256.Sum256(append([]byte{0}, l[:]...))
}

func inner(a, b Hash) Hash {
	buf := make([]byte, 0, 65)
	buf = append(buf, 1)
	buf = append(buf, a[:]...)
	buf = append(buf, b[:]...)
	return sha256.Sum256(buf)
}

// split returns the size of the left subtree of a tree of n > 1 leaves:
// the largest power of two below n.
func split(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// Root returns the root of the tree over leaves (the zero hash for none).
func Root(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return Hash{}
	}
	var rec func(lo, hi uint64) Hash
	rec = func(lo, hi uint64) Hash {
		if hi-lo == 1 {
			return leafNode(leaves[lo])
		}
		k := split(hi - lo)
		return inner(rec(lo, lo+k), rec(lo+k, hi))
	}
	return rec(0, uint64(len(leaves)))
}

// Builder computes the root of a tree from its leaves in order, in
// O(log n) memory: the bundle writer and reader stream their tree.
type Builder struct {
	stack []node
	n     uint64
}

type node struct {
	size uint64
	hash Hash
}

// Add appends a leaf.
func (b *Builder) Add(l Hash) {
	b.n++
	nd := node{1, leafNode(l)}
	for len(b.stack) > 0 && b.stack[len(b.stack)-1].size == nd.size {
		top := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		nd = node{top.size * 2, inner(top.hash, nd.hash)}
	}
	b.stack = append(b.stack, nd)
}

// Len returns the number of leaves added.
func (b *Builder) Len() uint64 { return b.n }

// Root returns the root of the leaves added so far.
func (b *Builder) Root() Hash {
	if len(b.stack) == 0 {
		return Hash{}
	}
	h := b.stack[len(b.stack)-1].hash
	for i := len(b.stack) - 2; i >= 0; i-- {
		h = inner(b.stack[i].hash, h)
	}
	return h
}

// Node is a subtree hash of a multiproof: the subtree of leaves
// [Lo, Hi).
type Node struct {
	Lo, Hi uint64
	Hash   Hash
}

// Prove returns the subtree hashes a receiver of the leaves at indexes
// in (sorted, of a tree of n leaves) needs to recompute the root: the
// hash of every maximal subtree that holds none of them. hash returns the
// hash of a subtree the prover can compute (from the leaves and nodes it
// knows), or false.
func Prove(n uint64, in []uint64, hash func(lo, hi uint64) (Hash, bool)) ([]Node, error) {
	var out []Node
	var rec func(lo, hi uint64, in []uint64) error
	rec = func(lo, hi uint64, in []uint64) error {
		if len(in) == 0 {
			h, ok := hash(lo, hi)
			if !ok {
				return fmt.Errorf("%w: the subtree [%d, %d) is not known here", ErrProof, lo, hi)
			}
			out = append(out, Node{lo, hi, h})
			return nil
		}
		if hi-lo == 1 {
			return nil
		}
		k := lo + split(hi-lo)
		i, _ := slices.BinarySearch(in, k)
		if err := rec(lo, k, in[:i]); err != nil {
			return err
		}
		return rec(k, hi, in[i:])
	}
	if n == 0 {
		return nil, nil
	}
	return out, rec(0, n, in)
}

// Verify recomputes the root of a tree of n leaves from the leaves known
// (index → leaf hash) and the multiproof nodes; it fails when they do not
// determine it, or hold a node that is not needed or that covers a leaf
// given. See VerifySorted.
func Verify(n uint64, leaves map[uint64]Hash, nodes []Node) (Hash, error) {
	idx := slices.Sorted(maps.Keys(leaves))
	return VerifySorted(n, leafMap{idx, leaves}, nodes)
}

type leafMap struct {
	idx []uint64
	m   map[uint64]Hash
}

func (l leafMap) Len() int                { return len(l.idx) }
func (l leafMap) At(i int) (uint64, Hash) { return l.idx[i], l.m[l.idx[i]] }

// SortedLeaves are the leaves known of a tree, in increasing index order
// without repeats.
type SortedLeaves interface {
	Len() int
	At(i int) (index uint64, leaf Hash)
}

// VerifySorted recomputes the root of a tree of n leaves from the leaves
// known and the multiproof nodes, reading the leaves once in index order
// (so that they need no map: a million of them take 40 MB in a slice,
// more than twice that in a map). It fails when they do not determine the
// root, when a node is not needed, when a node covers a leaf given (that
// leaf would go unchecked), when a leaf is beyond the tree or the leaves
// are not in strictly increasing order.
func VerifySorted(n uint64, leaves SortedLeaves, nodes []Node) (Hash, error) {
	if n == 0 {
		return Hash{}, fmt.Errorf("%w: an empty tree", ErrProof)
	}
	byRange := make(map[[2]uint64]Hash, len(nodes))
	for _, nd := range nodes {
		if nd.Lo >= nd.Hi || nd.Hi > n {
			return Hash{}, fmt.Errorf("%w: node [%d, %d) outside a tree of %d leaves", ErrProof, nd.Lo, nd.Hi, n)
		}
		byRange[[2]uint64{nd.Lo, nd.Hi}] = nd.Hash
	}
	total := leaves.Len()
	next := 0 // the next leaf not yet used
	var prev uint64
	for i := range total {
		x, _ := leaves.At(i)
		if x >= n {
			return Hash{}, fmt.Errorf("%w: leaf %d beyond a tree of %d leaves", ErrProof, x, n)
		}
		if i > 0 && x <= prev {
			return Hash{}, fmt.Errorf("%w: leaf %d given twice or out of order", ErrProof, x)
		}
		prev = x
	}
	// nextIndex is the index of the next leaf not yet used, or n.
	nextIndex := func() uint64 {
		if next >= total {
			return n
		}
		x, _ := leaves.At(next)
		return x
	}
	used := 0
	var covered error
	var rec func(lo, hi uint64) (Hash, bool)
	rec = func(lo, hi uint64) (Hash, bool) {
		if h, ok := byRange[[2]uint64{lo, hi}]; ok {
			if x := nextIndex(); x < hi {
				covered = fmt.Errorf("%w: node [%d, %d) covers leaf %d given", ErrProof, lo, hi, x)
				return Hash{}, false
			}
			used++
			return h, true
		}
		if hi-lo == 1 {
			if next >= total {
				return Hash{}, false
			}
			x, l := leaves.At(next)
			if x != lo {
				return Hash{}, false
			}
			next++
			return leafNode(l), true
		}
		k := lo + split(hi-lo)
		a, ok := rec(lo, k)
		if !ok {
			return Hash{}, false
		}
		b, ok := rec(k, hi)
		if !ok {
			return Hash{}, false
		}
		return inner(a, b), true
	}
	root, ok := rec(0, n)
	if covered != nil {
		return Hash{}, covered
	}
	if !ok {
		return Hash{}, fmt.Errorf("%w: the leaves and nodes given do not determine the tree's root", ErrProof)
	}
	if used != len(nodes) {
		return Hash{}, fmt.Errorf("%w: the multiproof holds nodes that are not needed", ErrProof)
	}
	if next != total {
		return Hash{}, fmt.Errorf("%w: leaves given that the tree does not reach", ErrProof)
	}
	return root, nil
}

// SubtreeHash computes the hash of the subtree [lo, hi) from known leaves
// and nodes, when they determine it.
func SubtreeHash(lo, hi uint64, leaves map[uint64]Hash, nodes map[[2]uint64]Hash) (Hash, bool) {
	if h, ok := nodes[[2]uint64{lo, hi}]; ok {
		return h, true
	}
	if hi-lo == 1 {
		l, ok := leaves[lo]
		if !ok {
			return Hash{}, false
		}
		return leafNode(l), true
	}
	k := lo + split(hi-lo)
	a, ok := SubtreeHash(lo, k, leaves, nodes)
	if !ok {
		return Hash{}, false
	}
	b, ok := SubtreeHash(k, hi, leaves, nodes)
	if !ok {
		return Hash{}, false
	}
	return inner(a, b), true
}

// Head is an author's signed tree: the root of the leaves of one bundle.
type Head struct {
	Author    string
	Key       string // fingerprint of the author's card whose key signed it
	ID        string // the bundle's id, in which the author signed it
	Count     uint64
	Root      Hash
	Signature []byte
}

func (h *Head) message() []byte {
	return []byte(fmt.Sprintf("valise-tree/v1\x00%s\x00%s\x00%s\x00%d\x00%x", h.Author, h.Key, h.ID, h.Count, h.Root))
}

// Sign signs the head with the author's key.
func (h *Head) Sign(key ed25519.PrivateKey) { h.Signature = ed25519.Sign(key, h.message()) }

// Check verifies the head's signature with the author's public key.
func (h *Head) Check(pub ed25519.PublicKey) error {
	if len(h.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, h.message(), h.Signature) {
		return fmt.Errorf("%w: the tree %s is not signed by %s's key", ErrProof, h.ID, h.Author)
	}
	return nil
}

// Equal reports whether two heads are the same.
func (h *Head) Equal(o *Head) bool {
	return h.Author == o.Author && h.Key == o.Key && h.ID == o.ID && h.Count == o.Count && h.Root == o.Root && bytes.Equal(h.Signature, o.Signature)
}
