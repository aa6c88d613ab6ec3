package store

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

type digest struct{ h hash.Hash }

func newDigest() *digest       { return &digest{sha256.New()} }
func (d *digest) add(s string) { d.h.Write([]byte(s)); d.h.Write([]byte{'\n'}) }
func (d *digest) sum() string  { return hex.EncodeToString(d.h.Sum(nil)) }
