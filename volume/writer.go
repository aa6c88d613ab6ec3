package volume

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/klauspost/reedsolomon"
)

// Write writes the volumes of the bundle in src (length bytes) as plan
// says, volume j to dst[j], in one pass over src: per stripe, k blocks
// read and k+m blocks written. Memory: k+m blocks and the hash tables.
// It returns the headers written.
func Write(src io.ReaderAt, length int64, plan Plan, dst []io.Writer) ([]*Header, error) {
	var set [16]byte
	rand.Read(set[:])
	return WriteSet(src, length, plan, set, dst)
}

// WriteSet is Write with a chosen set id (for test vectors): a set id must
// be unique, and Write draws it at random.
func WriteSet(src io.ReaderAt, length int64, plan Plan, set [16]byte, dst []io.Writer) ([]*Header, error) {
	n := plan.Data + plan.Parity
	if len(dst) != n {
		return nil, fmt.Errorf("volume: %d destinations for %d volumes", len(dst), n)
	}
	tmpl := Header{Set: set, BundleLength: length, BlockSize: plan.BlockSize, Blocks: plan.Blocks, Data: plan.Data, Parity: plan.Parity}
	if _, err := ParseHeader(tmpl.Marshal()); err != nil {
		return nil, fmt.Errorf("volume: plan does not fit the bundle: %w", err)
	}
	var enc reedsolomon.Encoder
	if plan.Parity > 0 {
		var err error
		if enc, err = reedsolomon.New(plan.Data, plan.Parity); err != nil {
			return nil, fmt.Errorf("volume: %w", err)
		}
	}
	hs := make([]*Header, n)
	tables := make([][]byte, n)
	for j := range dst {
		h := tmpl
		h.Index = j
		hs[j] = &h
		tables[j] = make([]byte, 0, plan.Blocks*HashSize)
		if _, err := dst[j].Write(h.Marshal()); err != nil {
			return nil, err
		}
	}
	shards := make([][]byte, n)
	for j := range shards {
		shards[j] = make([]byte, plan.BlockSize)
	}
	shardSize := tmpl.ShardSize()
	for i := 0; i < plan.Blocks; i++ {
		for d := 0; d < plan.Data; d++ {
			if err := readBlock(src, length, int64(d)*shardSize+int64(i)*int64(plan.BlockSize), shards[d]); err != nil {
				return nil, fmt.Errorf("volume: reading the bundle: %w", err)
			}
		}
		if enc != nil {
			if err := enc.Encode(shards); err != nil {
				return nil, fmt.Errorf("volume: %w", err)
			}
		}
		for j := range dst {
			sum := sha256.Sum256(shards[j])
			tables[j] = append(tables[j], sum[:]...)
			if _, err := dst[j].Write(shards[j]); err != nil {
				return nil, err
			}
		}
	}
	for j, h := range hs {
		if _, err := dst[j].Write(tables[j]); err != nil {
			return nil, err
		}
		if _, err := dst[j].Write(check(h.Marshal(), tables[j])); err != nil {
			return nil, err
		}
	}
	return hs, nil
}

// readBlock fills b from src at off, zeros past length.
func readBlock(src io.ReaderAt, length, off int64, b []byte) error {
	clear(b)
	if off >= length {
		return nil
	}
	want := min(int64(len(b)), length-off)
	n, err := src.ReadAt(b[:want], off)
	if int64(n) == want {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// check is the volume's last 32 bytes: SHA-256 of header and hash table.
func check(header, table []byte) []byte {
	h := sha256.New()
	h.Write(header)
	h.Write(table)
	return h.Sum(nil)
}

// Name returns the file name of volume index (from 0) of n for a bundle
// named base: "b.valise" → "b.vol1of3.valvol".
func Name(base string, index, n int) string {
	stem := base
	if len(stem) > len(".valise") && stem[len(stem)-len(".valise"):] == ".valise" {
		stem = stem[:len(stem)-len(".valise")]
	}
	return fmt.Sprintf("%s.vol%dof%d%s", stem, index+1, n, Ext)
}

// Ext is the file name extension of volumes.
const Ext = ".valvol"
