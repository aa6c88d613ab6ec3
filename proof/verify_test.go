package proof

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
)

// testTree returns n leaves, their root and every leaf by index.
func testTree(n int) ([]Hash, Hash, map[uint64]Hash) {
	var leaves []Hash
	all := map[uint64]Hash{}
	for i := range n {
		l := sha256.Sum256([]byte("leaf " + strconv.Itoa(i)))
		leaves = append(leaves, l)
		all[uint64(i)] = l
	}
	return leaves, Root(leaves), all
}

func TestVerifySorted(t *testing.T) {
	leaves, root, all := testTree(13)
	known := func(idx ...uint64) map[uint64]Hash {
		m := map[uint64]Hash{}
		for _, i := range idx {
			m[i] = leaves[i]
		}
		return m
	}
	prove := func(idx ...uint64) []Node {
		nodes, err := Prove(13, idx, func(lo, hi uint64) (Hash, bool) { return SubtreeHash(lo, hi, all, nil) })
		if err != nil {
			t.Fatal(err)
		}
		return nodes
	}
	// Every subset shape: none, some, all.
	for _, idx := range [][]uint64{{0}, {12}, {3, 4, 5}, {0, 6, 7, 12}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}} {
		if r, err := Verify(13, known(idx...), prove(idx...)); err != nil || r != root {
			t.Errorf("leaves %v: %v", idx, err)
		}
	}
	// A node that covers a leaf given: the leaf would go unchecked, even
	// a forged one.
	nodes := prove(2)
	forged := known(2, 9)
	forged[9] = sha256.Sum256([]byte("forged"))
	if _, err := Verify(13, forged, nodes); !errors.Is(err, ErrProof) {
		t.Errorf("a leaf under a node of the multiproof was accepted: %v", err)
	}
	// A node not needed.
	if _, err := Verify(13, known(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 1), nodes[:1]); !errors.Is(err, ErrProof) {
		t.Errorf("a node not needed was accepted: %v", err)
	}
	// A leaf missing.
	if _, err := Verify(13, known(2), prove(2, 3)); !errors.Is(err, ErrProof) {
		t.Errorf("a multiproof short of a leaf was accepted: %v", err)
	}
	// Beyond the tree, twice, out of order.
	for name, s := range map[string]sortedSlice{
		"beyond":       {{0, leaves[0]}, {13, leaves[0]}},
		"twice":        {{3, leaves[3]}, {3, leaves[3]}},
		"out of order": {{4, leaves[4]}, {3, leaves[3]}},
	} {
		if _, err := VerifySorted(13, s, nil); !errors.Is(err, ErrProof) {
			t.Errorf("%s: accepted: %v", name, err)
		}
	}
}

type sortedSlice []struct {
	i uint64
	h Hash
}

func (s sortedSlice) Len() int                { return len(s) }
func (s sortedSlice) At(i int) (uint64, Hash) { return s[i].i, s[i].h }
