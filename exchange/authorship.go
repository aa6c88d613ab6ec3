package exchange

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"valise/bundle"
	"valise/crypto"
	"valise/handling"
	"valise/merge"
	"valise/proof"
	"valise/schema"
	"valise/store"
)

// authorship checks, at import, that every version a bundle carries is
// its authors' (package proof): the sender's own items against the tree it
// signs in the bundle, every other author's against that author's signed
// tree, forwarded by the sender with a multiproof. Records are checked as
// they stream (leaf hashes computed on the merging goroutine), the trees
// at the end, before anything commits.
type authorship struct {
	self, sender string
	v1           bool   // a format v1 bundle: no proofs; only the sender's own changes are accepted
	secret       []byte // the sender's tree secret
	treeID       string // the bundle's id: the sender's tree

	mu   sync.Mutex
	own  proof.Builder
	part []store.TreeLeaf // own leaves not yet written to the store
	fwd  map[[2]string]*fwdLeaves
	// counters of this office's own changes each record held says it made,
	// for the check of claims to this office's counter
}

func newAuthorship(self, sender string, m *bundle.Manifest, bundleID string) *authorship {
	return &authorship{self: self, sender: sender, v1: m.V1, secret: m.TreeSecret, treeID: bundleID,
		fwd: map[[2]string]*fwdLeaves{}}
}

// fwdLeaves are the leaves of one forwarded tree computed from the
// records, as they came, in parts of store.TreePart: 40 bytes a leaf (a
// map of a million leaves took 95 MiB, most of the peak of an import of a
// million relayed updates). finish sorts them by index in place, checks
// them against the tree and stores the parts as they are.
type fwdLeaves struct {
	parts [][]store.TreeLeaf
	n     int
}

func (f *fwdLeaves) add(l store.TreeLeaf) {
	if f.n%store.TreePart == 0 {
		f.parts = append(f.parts, make([]store.TreeLeaf, 0, store.TreePart))
	}
	p := &f.parts[len(f.parts)-1]
	*p = append(*p, l)
	f.n++
}

func (f *fwdLeaves) at(i int) *store.TreeLeaf {
	return &f.parts[i/store.TreePart][i%store.TreePart]
}

// sort.Interface and proof.SortedLeaves.
func (f *fwdLeaves) Len() int           { return f.n }
func (f *fwdLeaves) Less(i, j int) bool { return f.at(i).Index < f.at(j).Index }
func (f *fwdLeaves) Swap(i, j int)      { x, y := f.at(i), f.at(j); *x, *y = *y, *x }
func (f *fwdLeaves) At(i int) (uint64, proof.Hash) {
	l := f.at(i)
	return l.Index, l.Hash
}

// authorError makes a failed proof an authentication failure of the
// bundle (exit 4), naming the record and author.
func authorError(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &bundle.Error{Check: "authorship", Kind: bundle.ErrAuth, Msg: msg, Err: proof.ErrProof}
}

// record checks one record's versions against its claims (proofLine), and
// returns the claims to store with it: every author's but this office's,
// the sender's made from its place in the bundle's tree. heldSelf is the
// count of this office's own changes to the record as held (0 when not
// held): a version may not claim more.
func (a *authorship) record(r *schema.Record, proofLine []byte, heldSelf uint64) ([]proof.Claim, error) {
	if n := r.Version.Vector[a.self]; n > heldSelf {
		return nil, authorError("record %s claims %d changes of this office (%s), which made %d", r.Key(), n, a.self, heldSelf)
	}
	var claims []proof.Claim
	if len(proofLine) > 0 {
		var err error
		if claims, err = proof.ParseClaims(proofLine); err != nil {
			return nil, authorError("record %s: %v", r.Key(), err)
		}
	}
	if a.v1 && len(claims) > 0 {
		return nil, authorError("record %s: proofs in a format v1 bundle", r.Key())
	}
	if err := proof.CheckVersion(r, claims, a.sender); err != nil {
		if a.v1 {
			return nil, authorError("record %s: a format v1 bundle proves no change but its sender's (%s): %v", r.Key(), a.sender, err)
		}
		return nil, authorError("%v", err)
	}
	originHandling := schema.HandlingString(r.Handling)
	var out []proof.Claim
	for i := range claims {
		c := &claims[i]
		l, err := proof.LeafFor(r, c)
		if err != nil {
			return nil, authorError("%v", err)
		}
		if c.Author == r.Origin && c.Handling != "" {
			originHandling = c.Handling
		}
		a.mu.Lock()
		t := [2]string{c.Author, c.Tree}
		f := a.fwd[t]
		if f == nil {
			f = &fwdLeaves{}
			a.fwd[t] = f
		}
		f.add(store.TreeLeaf{Index: c.Index, Hash: l.Hash(c.Salt)})
		a.mu.Unlock()
		if c.Author != a.self {
			out = append(out, *c)
		}
	}
	if err := checkHandlingAuthor(r, originHandling); err != nil {
		return nil, err
	}
	if a.v1 || r.Version.Vector[a.sender] == 0 {
		return out, nil
	}
	// The sender's own leaf, at its place in the bundle's tree.
	a.mu.Lock()
	idx := a.own.Len()
	salt := proof.LeafSalt(a.secret, idx)
	h := proof.MakeLeaf(r, a.sender, salt).Hash(salt)
	a.own.Add(h)
	a.part = append(a.part, store.TreeLeaf{Index: idx, Hash: h})
	a.mu.Unlock()
	out = append(out, proof.Claim{Author: a.sender, Tree: a.treeID, Index: idx, Salt: salt})
	return out, nil
}

// checkHandlingAuthor refuses a version whose handling was widened by an
// office other than the record's origin: a handling written by another
// office may only be as restrictive as the origin's, or more.
func checkHandlingAuthor(r *schema.Record, originHandling string) error {
	dot := r.Version.Props[merge.KeyHandling]
	author, _, _ := strings.Cut(dot, ":")
	if dot == "" || author == r.Origin {
		return nil
	}
	oh, err := schema.ParseHandlingString(originHandling)
	if err != nil {
		return authorError("record %s: the origin's handling in its proof is malformed", r.Key())
	}
	if !handling.Narrower(r.Handling, oh, r.Origin) {
		return authorError("record %s: its handling was widened by %s, not by its origin %s: only the origin may widen it", r.Key(), author, r.Origin)
	}
	return nil
}

// takeLeaves returns the own leaves not yet stored.
func (a *authorship) takeLeaves() []store.TreeLeaf {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.part) < store.TreePart {
		return nil
	}
	out := a.part
	a.part = nil
	return out
}

// finish checks the tree section against the leaves computed: the
// sender's tree and every forwarded one, with each author's card, and
// stores the trees.
func (a *authorship) finish(tx *store.Tx, kr *crypto.Keyring, senderCard *crypto.Card, lines [][]byte) error {
	heads := map[[2]string]*proof.Head{}
	nodes := map[[2]string][]proof.Node{}
	for _, l := range lines {
		kind, body, _ := bytes.Cut(l, []byte(" "))
		switch string(kind) {
		case "tree":
			h, err := proof.ParseHead(body)
			if err != nil {
				return authorError("tree section: %v", err)
			}
			t := [2]string{h.Author, h.ID}
			if heads[t] != nil {
				return authorError("tree section: %s's tree %s twice", h.Author, h.ID)
			}
			heads[t] = h
		case "node":
			author, id, n, err := proof.ParseNode(body)
			if err != nil {
				return authorError("tree section: %v", err)
			}
			t := [2]string{author, id}
			nodes[t] = append(nodes[t], n)
		}
	}
	if a.v1 {
		if len(lines) > 0 {
			return authorError("a tree section in a format v1 bundle")
		}
		return nil
	}
	// The sender's own tree.
	own := [2]string{a.sender, a.treeID}
	if n := a.own.Len(); n > 0 {
		h := heads[own]
		if h == nil {
			return authorError("%s's own tree of this bundle is missing", a.sender)
		}
		if h.Count != n || h.Root != a.own.Root() || h.Key != senderCard.Fingerprint() {
			return authorError("%s's tree does not match the %d versions of its own in the bundle", a.sender, n)
		}
		if err := h.Check(senderCard.SigningKey); err != nil {
			return authorError("%v", err)
		}
		if len(nodes[own]) > 0 {
			return authorError("multiproof nodes for the sender's own tree")
		}
		if err := tx.PutTree(h); err != nil {
			return err
		}
		if err := tx.AddTreeLeaves(a.sender, a.treeID, a.part); err != nil {
			return err
		}
		delete(heads, own)
	} else if heads[own] != nil {
		return authorError("%s's tree of this bundle holds no version of it", a.sender)
	}
	// Every forwarded tree.
	trees := make([][2]string, 0, len(a.fwd))
	for t := range a.fwd {
		trees = append(trees, t)
	}
	slices.SortFunc(trees, func(x, y [2]string) int { return strings.Compare(x[0]+"\x00"+x[1], y[0]+"\x00"+y[1]) })
	for _, t := range trees {
		h := heads[t]
		if h == nil {
			return authorError("no signed tree %s of %s for the versions claimed in it", t[1], t[0])
		}
		card, err := kr.Lookup(h.Author, h.Key)
		if err != nil {
			return authorError("versions of %s: its tree %s is signed by key %s: %v", t[0], t[1], h.Key, err)
		}
		// In index order: a leaf claimed twice (by two records) shows
		// beside itself.
		leaves := a.fwd[t]
		sort.Sort(leaves)
		for i := range leaves.Len() {
			l := leaves.at(i)
			if l.Index >= h.Count {
				return authorError("leaf %d beyond %s's tree %s of %d", l.Index, t[0], t[1], h.Count)
			}
			if i > 0 && leaves.at(i-1).Index == l.Index {
				return authorError("leaf %d of %s's tree %s claimed twice", l.Index, t[0], t[1])
			}
		}
		root, err := proof.VerifySorted(h.Count, leaves, nodes[t])
		if err != nil {
			return authorError("%s's tree %s: %v", t[0], t[1], err)
		}
		if root != h.Root {
			return authorError("versions claimed of %s do not match its signed tree %s: forged or altered", t[0], t[1])
		}
		if err := h.Check(card.SigningKey); err != nil {
			return authorError("%v", err)
		}
		if err := tx.PutTree(h); err != nil {
			return err
		}
		// Stored in index order, a part at a time, each part let go once
		// stored.
		for i, p := range leaves.parts {
			if err := tx.AddTreeLeaves(t[0], t[1], p); err != nil {
				return err
			}
			leaves.parts[i] = nil
		}
		delete(a.fwd, t)
		if err := tx.AddTreeNodes(t[0], t[1], nodes[t]); err != nil {
			return err
		}
		delete(heads, t)
		delete(nodes, t)
	}
	for t := range heads {
		return authorError("a signed tree %s of %s that no version claims", t[1], t[0])
	}
	for t := range nodes {
		return authorError("multiproof nodes of %s's tree %s that no version claims", t[0], t[1])
	}
	return nil
}
