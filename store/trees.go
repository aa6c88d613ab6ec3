package store

import (
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"valise/proof"
)

// The trees of authorship (package proof) this office knows: each
// author's signed head, and the leaf hashes and multiproof nodes it
// received, so that it can prove to a peer the leaves it forwards. Leaves
// are kept in parts (rows of up to TreePart leaves), so that a tree of a
// million leaves is written as it streams.

// TreePart is the number of leaves in one row of tree_parts.
const TreePart = 4096

// TreeLeaf is a known leaf hash at its index.
type TreeLeaf struct {
	Index uint64
	Hash  proof.Hash
}

// PutTree records a signed tree head. A head already held must be the
// same.
func (t *Tx) PutTree(h *proof.Head) error {
	var root, sig string
	err := t.tx.QueryRow(`SELECT root, sig FROM trees WHERE author = ? AND id = ?`, h.Author, h.ID).Scan(&root, &sig)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = t.tx.Exec(`INSERT INTO trees(author, id, key, count, root, sig) VALUES (?, ?, ?, ?, ?, ?)`,
			h.Author, h.ID, h.Key, h.Count, hex.EncodeToString(h.Root[:]), base64.StdEncoding.EncodeToString(h.Signature))
		return mapErr(err)
	case err != nil:
		return mapErr(err)
	}
	if root != hex.EncodeToString(h.Root[:]) {
		return fmt.Errorf("%w: %s's tree %s comes with another root than the one held", proof.ErrProof, h.Author, h.ID)
	}
	return nil
}

// AddTreeLeaves records leaf hashes of a tree, in one row.
func (t *Tx) AddTreeLeaves(author, id string, leaves []TreeLeaf) error {
	if len(leaves) == 0 {
		return nil
	}
	buf := make([]byte, 0, 40*len(leaves))
	for _, l := range leaves {
		buf = binary.BigEndian.AppendUint64(buf, l.Index)
		buf = append(buf, l.Hash[:]...)
	}
	var part int64
	if err := t.tx.QueryRow(`SELECT COALESCE(MAX(part), -1) + 1 FROM tree_parts WHERE author = ? AND id = ?`, author, id).Scan(&part); err != nil {
		return mapErr(err)
	}
	_, err := t.tx.Exec(`INSERT INTO tree_parts(author, id, part, leaves) VALUES (?, ?, ?, ?)`, author, id, max(part, 0), buf)
	return mapErr(err)
}

// AddTreeNodes records multiproof nodes of a tree (rows of negative part
// numbers).
func (t *Tx) AddTreeNodes(author, id string, nodes []proof.Node) error {
	if len(nodes) == 0 {
		return nil
	}
	buf := make([]byte, 0, 48*len(nodes))
	for _, n := range nodes {
		buf = binary.BigEndian.AppendUint64(buf, n.Lo)
		buf = binary.BigEndian.AppendUint64(buf, n.Hi)
		buf = append(buf, n.Hash[:]...)
	}
	var part int64
	if err := t.tx.QueryRow(`SELECT COALESCE(MIN(part), 0) - 1 FROM tree_parts WHERE author = ? AND id = ?`, author, id).Scan(&part); err != nil {
		return mapErr(err)
	}
	_, err := t.tx.Exec(`INSERT INTO tree_parts(author, id, part, leaves) VALUES (?, ?, ?, ?)`, author, id, min(part, -1), buf)
	return mapErr(err)
}

// KnownTree is what this office knows of one tree.
type KnownTree struct {
	Head   *proof.Head
	Leaves map[uint64]proof.Hash
	Nodes  map[[2]uint64]proof.Hash
}

// Tree returns what the store knows of author's tree id, or ErrNotFound.
func (s *Store) Tree(author, id string) (*KnownTree, error) {
	var count uint64
	var key, root, sig string
	err := s.db.QueryRow(`SELECT key, count, root, sig FROM trees WHERE author = ? AND id = ?`, author, id).Scan(&key, &count, &root, &sig)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tree %s of %s: %w", id, author, ErrNotFound)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	h := &proof.Head{Author: author, Key: key, ID: id, Count: count}
	r, err := hex.DecodeString(root)
	if err != nil || len(r) != 32 {
		return nil, fmt.Errorf("store holds a malformed tree root for %s %s", author, id)
	}
	copy(h.Root[:], r)
	if h.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil {
		return nil, fmt.Errorf("store holds a malformed tree signature for %s %s", author, id)
	}
	kt := &KnownTree{Head: h, Leaves: map[uint64]proof.Hash{}, Nodes: map[[2]uint64]proof.Hash{}}
	rows, err := s.db.Query(`SELECT part, leaves FROM tree_parts WHERE author = ? AND id = ?`, author, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var part int64
		var b []byte
		if err := rows.Scan(&part, &b); err != nil {
			return nil, mapErr(err)
		}
		if part >= 0 {
			for ; len(b) >= 40; b = b[40:] {
				var hh proof.Hash
				copy(hh[:], b[8:40])
				kt.Leaves[binary.BigEndian.Uint64(b)] = hh
			}
		} else {
			for ; len(b) >= 48; b = b[48:] {
				var hh proof.Hash
				copy(hh[:], b[16:48])
				kt.Nodes[[2]uint64{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}] = hh
			}
		}
	}
	return kt, mapErr(rows.Err())
}
