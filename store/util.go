package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
)

func joinValues(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func splitValues(s string) []string {
	var v []string
	json.Unmarshal([]byte(s), &v)
	return v
}

type digest struct{ h hash.Hash }

func newDigest() *digest       { return &digest{sha256.New()} }
func (d *digest) add(s string) { d.h.Write([]byte(s)); d.h.Write([]byte{'\n'}) }
func (d *digest) sum() string  { return hex.EncodeToString(d.h.Sum(nil)) }
