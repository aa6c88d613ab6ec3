package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
)

// An import reads two things of every record it receives and every record
// the store holds: the content hash (the canonical encoding without the
// version) and the version vector. Both are read here straight from the
// canonical bytes, without decoding the record: a scan that only finds
// where each top-level value ends. It trusts its input to be a canonical
// encoding that this package made or checked (DecodeCanonical).

var errScan = errors.New("not a canonical record")

// skipValue returns the index just past the JSON value that starts at i.
// It trusts the input to be valid JSON (a canonical encoding) and only
// finds the value's end.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errScan
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errScan
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i, nil
}

// skipString returns the index just past the string that starts at i.
func skipString(b []byte, i int) (int, error) {
	for i++; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, errScan
		}
		i += q
		// Escaped when preceded by an odd number of backslashes.
		bs := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			return i, nil
		}
	}
}

// members calls fn for each member of the object that starts at i, with
// the raw key (without quotes, escapes left as they are) and where its
// value starts and ends; fn returns false to stop. It returns the index
// just past the object.
func members(b []byte, i int, fn func(key []byte, start, end int) bool) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, errScan
	}
	i++
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, errScan
		}
		k, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : k-1]
		if k >= len(b) || b[k] != ':' {
			return 0, errScan
		}
		end, err := skipValue(b, k+1)
		if err != nil {
			return 0, err
		}
		if !fn(key, k+1, end) {
			return end, nil
		}
		if end >= len(b) {
			return 0, errScan
		}
		switch b[end] {
		case ',':
			i = end + 1
		case '}':
			return end + 1, nil
		default:
			return 0, errScan
		}
	}
	return 0, errScan
}

// versionSpan finds the top-level "version" member of a canonical record:
// where its value starts and ends, and where the member starts with the
// comma before it (the version is never a record's first key: "handling"
// and "id" sort before it). ok is false when the record has no version.
func versionSpan(body []byte) (member, start, end int, ok bool, err error) {
	prev := 0
	_, err = members(body, 0, func(key []byte, s, e int) bool {
		if string(key) == "version" {
			member, start, end, ok = prev, s, e, true
			return false
		}
		prev = e
		return true
	})
	return member, start, end, ok, err
}

// ContentHashOf returns the content hash of a record from its canonical
// encoding: the SHA-256 of that encoding without the version member. It is
// the one definition of a record's content hash (Record.ContentHash uses
// it): equal content gives an equal hash on every office, whatever the
// versions.
func ContentHashOf(canonical []byte) ([32]byte, error) {
	member, _, end, ok, err := versionSpan(canonical)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	if ok {
		h.Write(canonical[:member])
		h.Write(canonical[end:])
	} else {
		h.Write(canonical)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// HexContentHash is ContentHashOf in hex, as the store keeps it. The
// encoding must be canonical (AppendCanonical or a checked decode).
func HexContentHash(canonical []byte) string {
	sum, err := ContentHashOf(canonical)
	if err != nil {
		panic("schema: HexContentHash of a non-canonical encoding: " + err.Error())
	}
	return hex.EncodeToString(sum[:])
}

// VersionHash identifies one version of a record, what a peer is known to
// hold: the first 16 bytes of the SHA-256 of its canonical encoding, in
// hex.
func VersionHash(canonical []byte) string {
	h := sha256.Sum256(canonical)
	return hex.EncodeToString(h[:16])
}

// PeekVersion reads the version vector of a canonical record, and whether
// its version holds alternatives (open conflicts). A record whose vector
// has an agency spelled with escapes is refused (agency ids are plain
// A-Z, 0-9 and -): the caller then decodes it in full.
func PeekVersion(body []byte) (vv map[string]uint64, alts bool, err error) {
	_, start, end, ok, err := versionSpan(body)
	if err != nil || !ok {
		return nil, false, err
	}
	v := body[:end]
	var bad error // the first failure inside the callbacks
	_, err = members(v, start, func(key []byte, s, e int) bool {
		switch string(key) {
		case "alts":
			alts = !bytes.Equal(v[s:e], []byte("{}"))
		case "vv":
			vv = map[string]uint64{}
			if _, err := members(v, s, func(a []byte, s, e int) bool {
				if bytes.IndexByte(a, '\\') >= 0 {
					bad = errScan
					return false
				}
				n, err := strconv.ParseUint(string(v[s:e]), 10, 64)
				if err != nil {
					bad = err
					return false
				}
				vv[string(a)] = n
				return true
			}); err != nil && bad == nil {
				bad = err
			}
			return bad == nil
		}
		return true
	})
	if err == nil {
		err = bad
	}
	return vv, alts, err
}

// PeekMember returns the canonical bytes of the top-level member key of a
// canonical record (nil when it has none), without decoding the record.
func PeekMember(body []byte, key string) ([]byte, error) {
	var out []byte
	_, err := members(body, 0, func(k []byte, s, e int) bool {
		if string(k) == key {
			out = body[s:e]
			return false
		}
		return true
	})
	return out, err
}
