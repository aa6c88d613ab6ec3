// Package volume splits a finished bundle into volume files with
// Reed–Solomon parity, for bundles larger than a stick or than FAT32's
// 4 GiB file limit, and for sticks that lose sectors. Any k of the n
// volumes of a set, in any order, rebuild the bundle; a damaged block of
// one volume is found by its hash and rebuilt from the same block of the
// others. The bundle itself is unchanged: volumes only carry its bytes,
// and every check of the bundle (signature, payload hash, age
// authentication) runs on the rebuilt bytes as on a single file.
//
// # Layout
//
// The bundle (L bytes) is cut into k data shards of nb blocks of B bytes
// each (the last shard zero-padded to nb·B); m parity shards of the same
// size are computed with Reed–Solomon over GF(2^8) (the Vandermonde-based
// systematic code of github.com/klauspost/reedsolomon, the same as
// Backblaze's and Go's reedsolomon.New(k, m)), stripe by stripe: stripe i
// is block i of every shard. Volume j (0 ≤ j < n = k+m) holds shard j:
// volumes 0…k−1 hold the bundle's bytes as they are, so that data volume
// j is bytes [j·nb·B, (j+1)·nb·B) of the bundle.
//
//	+----------------------------+
//	| header        64 bytes     |
//	+----------------------------+
//	| blocks        nb × B bytes |  shard j
//	+----------------------------+
//	| block hashes  nb × 32      |  SHA-256 of each block, in order
//	+----------------------------+
//	| check         32 bytes     |  SHA-256(header || block hashes)
//	+----------------------------+
//
// The hashes come after the blocks so that a writer streams every volume
// in one pass. The header, all integers big-endian:
//
//	offset size field
//	0      16   magic "valise-volume/v1"
//	16     16   set id: random, the same in every volume of the set
//	32     8    bundle length L, 1 ≤ L ≤ 2^50
//	40     4    block size B, a power of two, 512 ≤ B ≤ 64 MiB
//	44     4    blocks per volume nb ≥ 1, with nb·(k+m) ≤ 2^20
//	48     2    data shards k ≥ 1
//	50     2    parity shards m ≥ 0, k+m ≤ 256
//	52     2    index j < k+m
//	54     10   zero
//
// and (k−1)·nb·B < L ≤ k·nb·B: no data volume is all padding. A volume
// file is exactly 64 + nb·B + 32·nb + 32 bytes.
//
// # Reading
//
// A reader takes a volume whose check fails, whose header is malformed or
// whose size is wrong as missing. It takes a block whose hash differs
// from the table (or that the file is too short to hold) as damaged. A
// stripe with at least k sound blocks is rebuilt; a set is repairable
// when every stripe is. Volumes of one set are recognised by their set id
// and header fields, never by their file names.
//
// # File names
//
// A bundle b.valise split in n volumes is written as b.vol1of4.valvol …
// b.vol4of4.valvol (index from 1 in names). Names are a convenience only.
package volume
