package volume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Format constants.
const (
	Magic        = "valise-volume/v1"
	HeaderSize   = 64
	HashSize     = 32
	MinBlockSize = 512
	MaxBlockSize = 64 << 20
	MaxShards    = 256
	// MaxBlocks bounds nb·(k+m): the block hashes of a whole set fit in
	// 32 MiB, whatever the volumes declare.
	MaxBlocks       = 1 << 20
	MaxBundleLength = 1 << 50
)

// ErrHeader is wrapped by every refusal of a volume header.
var ErrHeader = errors.New("volume header")

// Header is the fixed header of a volume.
type Header struct {
	Set          [16]byte
	BundleLength int64
	BlockSize    int
	Blocks       int // per volume
	Data, Parity int
	Index        int
}

// Shards returns the number of volumes of the set.
func (h *Header) Shards() int { return h.Data + h.Parity }

// ShardSize is the number of bundle bytes per data volume.
func (h *Header) ShardSize() int64 { return int64(h.Blocks) * int64(h.BlockSize) }

// FileSize is the exact size of a volume file.
func (h *Header) FileSize() int64 {
	return HeaderSize + h.ShardSize() + int64(h.Blocks)*HashSize + HashSize
}

// SameSet reports whether h and o describe volumes of one set.
func (h *Header) SameSet(o *Header) bool {
	a, b := *h, *o
	a.Index, b.Index = 0, 0
	return a == b
}

// Marshal returns the 64 header bytes.
func (h *Header) Marshal() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	copy(b[16:], h.Set[:])
	binary.BigEndian.PutUint64(b[32:], uint64(h.BundleLength))
	binary.BigEndian.PutUint32(b[40:], uint32(h.BlockSize))
	binary.BigEndian.PutUint32(b[44:], uint32(h.Blocks))
	binary.BigEndian.PutUint16(b[48:], uint16(h.Data))
	binary.BigEndian.PutUint16(b[50:], uint16(h.Parity))
	binary.BigEndian.PutUint16(b[52:], uint16(h.Index))
	return b
}

// ParseHeader parses and checks the 64 bytes of a volume header: every
// size is bounded before it is used, and there is one encoding.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) != HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrHeader, len(b), HeaderSize)
	}
	if string(b[:16]) != Magic {
		if bytes.HasPrefix(b, []byte("valise-volume/")) {
			return nil, fmt.Errorf("%w: unknown version %q", ErrHeader, bytes.TrimRight(b[:16], "\x00\n"))
		}
		return nil, fmt.Errorf("%w: not a valise volume", ErrHeader)
	}
	h := &Header{}
	copy(h.Set[:], b[16:32])
	l := binary.BigEndian.Uint64(b[32:])
	bs := binary.BigEndian.Uint32(b[40:])
	nb := binary.BigEndian.Uint32(b[44:])
	k := binary.BigEndian.Uint16(b[48:])
	m := binary.BigEndian.Uint16(b[50:])
	idx := binary.BigEndian.Uint16(b[52:])
	switch {
	case !bytes.Equal(b[54:], make([]byte, 10)):
		return nil, fmt.Errorf("%w: reserved bytes not zero", ErrHeader)
	case l < 1 || l > MaxBundleLength:
		return nil, fmt.Errorf("%w: bundle length %d out of range", ErrHeader, l)
	case bs < MinBlockSize || bs > MaxBlockSize || bs&(bs-1) != 0:
		return nil, fmt.Errorf("%w: block size %d not a power of two from %d to %d", ErrHeader, bs, MinBlockSize, MaxBlockSize)
	case k < 1 || int(k)+int(m) > MaxShards:
		return nil, fmt.Errorf("%w: %d data and %d parity volumes (at most %d in all, at least one data)", ErrHeader, k, m, MaxShards)
	case nb < 1 || uint64(nb)*(uint64(k)+uint64(m)) > MaxBlocks:
		return nil, fmt.Errorf("%w: %d blocks per volume out of range", ErrHeader, nb)
	case idx >= k+m:
		return nil, fmt.Errorf("%w: index %d of %d volumes", ErrHeader, idx, k+m)
	}
	h.BundleLength, h.BlockSize, h.Blocks = int64(l), int(bs), int(nb)
	h.Data, h.Parity, h.Index = int(k), int(m), int(idx)
	shard := h.ShardSize()
	if l > uint64(k)*uint64(shard) || l <= uint64(k-1)*uint64(shard) {
		return nil, fmt.Errorf("%w: bundle length %d does not fill %d data volumes of %d bytes", ErrHeader, l, k, shard)
	}
	return h, nil
}

// Plan is the shape of a set: how many volumes of which size.
type Plan struct {
	BlockSize    int
	Blocks       int
	Data, Parity int
}

// NewPlan chooses the shape of a set for a bundle of length bytes, so
// that every volume file is at most volumeSize bytes and the parity
// volumes are parityPercent of the data volumes (rounded up, at least one
// when parityPercent > 0).
func NewPlan(length, volumeSize int64, parityPercent int) (Plan, error) {
	var p Plan
	if length < 1 || length > MaxBundleLength {
		return p, fmt.Errorf("volume: bundle length %d out of range", length)
	}
	if parityPercent < 0 || parityPercent > 100 {
		return p, fmt.Errorf("volume: parity %d%% not between 0%% and 100%%", parityPercent)
	}
	const minVolume = 1 << 10
	if volumeSize < minVolume {
		return p, fmt.Errorf("volume: volume size %d below the minimum of %d bytes", volumeSize, minVolume)
	}
	// Blocks of 64 KiB (smaller for small volumes, larger when the hash
	// tables would pass MaxBlocks), so that a lost sector costs little.
	for bs := 64 << 10; bs <= MaxBlockSize; bs *= 2 {
		b := bs
		for b > MinBlockSize && int64(b)*4 > volumeSize {
			b /= 2
		}
		per := (volumeSize - HeaderSize - HashSize) / int64(b+HashSize) // blocks per volume at most
		if per < 1 {
			continue
		}
		k := (length + per*int64(b) - 1) / (per * int64(b))
		// Spread the bundle evenly over k volumes.
		nb := ((length+k-1)/k + int64(b) - 1) / int64(b)
		m := (k*int64(parityPercent) + 99) / 100
		if k+m > MaxShards {
			return p, fmt.Errorf("volume: %d volumes of at most %d bytes (%d data, %d parity) would pass the limit of %d: choose a larger volume size", k+m, volumeSize, k, m, MaxShards)
		}
		if nb*(k+m) > MaxBlocks {
			continue
		}
		return Plan{BlockSize: b, Blocks: int(nb), Data: int(k), Parity: int(m)}, nil
	}
	return p, fmt.Errorf("volume: no block size fits %d bytes in volumes of %d", length, volumeSize)
}
