package proof

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"valise/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/records/proof.txt from the code")

const vectorFile = "../testdata/records/proof.txt"

// vectors computes the published authorship vectors: an item and leaf
// hash, a tree root, a multiproof, a signed head.
func vectors(t *testing.T) string {
	var b strings.Builder
	fmt.Fprintln(&b, "# valise authorship vectors (docs/FORMAT.md §3.4). Each line is KEY: VALUE;")
	fmt.Fprintln(&b, "# hashes in lowercase hex. Check an implementation by recomputing every value")
	fmt.Fprintln(&b, "# from the lines above it.")
	rec, err := schema.Decode([]byte(`{"handling":{"tlp":"amber","releasable_to":["CARICC"]},"id":"p-1","origin":"KZ-NCB","properties":{"alias":["Vanya","I. P."],"name":["Ivan Petrov"]},"schema":"Person","version":{"alts":{"alias":[{"dot":"CARICC:1","values":["Ivan"]}]},"at":"2026-11-28T09:00:00Z","by":"KZ-NCB","props":{"@deleted":"KZ-NCB:2","@handling":"KZ-NCB:1","alias":"KZ-NCB:2","name":"CARICC:1"},"vv":{"CARICC":1,"KZ-NCB":2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	salt, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	fmt.Fprintf(&b, "record: %s\n", rec.AppendCanonical(nil))
	fmt.Fprintf(&b, "author: KZ-NCB\nsalt: %x\n", salt)
	l := MakeLeaf(rec, "KZ-NCB", salt)
	for _, it := range l.Items {
		fmt.Fprintf(&b, "item: %s %s %x\n", it.Key, it.Dot, it.Hash)
	}
	fmt.Fprintf(&b, "handling-hash: %x\n", sha256.Sum256([]byte(l.Handling)))
	fmt.Fprintf(&b, "leaf: %x\n", l.Hash(salt))
	secret, _ := hex.DecodeString("ffeeddccbbaa99887766554433221100")
	fmt.Fprintf(&b, "tree-secret: %x\nleaf-salt-3: %x\n", secret, LeafSalt(secret, 3))
	var leaves []Hash
	for i := range 7 {
		leaves = append(leaves, sha256.Sum256([]byte("leaf "+strconv.Itoa(i))))
		fmt.Fprintf(&b, "tree-leaf: %d %x\n", i, leaves[i])
	}
	root := Root(leaves)
	fmt.Fprintf(&b, "tree-root: %x\n", root)
	known := map[uint64]Hash{2: leaves[2], 5: leaves[5]}
	all := map[uint64]Hash{}
	for i, l := range leaves {
		all[uint64(i)] = l
	}
	nodes, err := Prove(7, []uint64{2, 5}, func(lo, hi uint64) (Hash, bool) { return SubtreeHash(lo, hi, all, nil) })
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&b, "multiproof-for: 2 5")
	for _, n := range nodes {
		fmt.Fprintf(&b, "node: %d %d %x\n", n.Lo, n.Hi, n.Hash)
	}
	if r, err := Verify(7, known, nodes); err != nil || r != root {
		t.Fatalf("the multiproof does not verify: %v", err)
	}
	seed := sha256.Sum256([]byte("valise test key: never trust it"))
	key := ed25519.NewKeyFromSeed(seed[:])
	h := &Head{Author: "KZ-NCB", Key: "0000-1111-2222-3333-4444-5555-6666-7777", ID: "01a24f00-0000-7000-8000-000000000000", Count: 7, Root: root}
	h.Sign(key)
	fmt.Fprintf(&b, "signing-seed: %x\nhead-message: %q\nhead: %s\n", seed, h.message(), MarshalHead(h))
	return b.String()
}

// TestVectors checks the published vectors against the code: an
// independent implementation checks itself against the same file.
func TestVectors(t *testing.T) {
	got := vectors(t)
	if *update {
		if err := os.WriteFile(vectorFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the code no longer gives %s (rerun with -update only if the format changed on purpose):\n%s", vectorFile, got)
	}
	// The head line reads back and verifies.
	sc := bufio.NewScanner(strings.NewReader(string(want)))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "head: "); ok {
			h, err := ParseHead([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			seed := sha256.Sum256([]byte("valise test key: never trust it"))
			if err := h.Check(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)); err != nil {
				t.Error(err)
			}
		}
	}
}
