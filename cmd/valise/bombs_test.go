package main

// Declared sizes and decompression bombs: small files that claim or
// inflate to gigabytes must be refused at once, without allocating what
// they claim and with peak memory under SPEC §8's 200 MiB.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valise/internal/testenv"
)

// zstd frames written by hand (RFC 8878 §3.1.1), to say what no encoder
// says.

// zframe returns a frame: magic, frame header descriptor fhd, window
// descriptor wd (none when negative), frame content size field fcs, and
// the blocks.
func zframe(fhd byte, wd int, fcs []byte, blocks ...[]byte) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, fhd}
	if wd >= 0 {
		b = append(b, byte(wd))
	}
	b = append(b, fcs...)
	for _, bl := range blocks {
		b = append(b, bl...)
	}
	return b
}

// zblock returns a block of type typ (0 raw, 1 RLE) regenerating size
// bytes.
func zblock(typ, size int, last bool, content []byte) []byte {
	v := size<<3 | typ<<1
	if last {
		v |= 1
	}
	return append([]byte{byte(v), byte(v >> 8), byte(v >> 16)}, content...)
}

// rleFrame returns one frame of total bytes c (a multiple of 128 KiB)
// made of 128 KiB RLE blocks: 4 bytes of input for each 128 KiB.
func rleFrame(total int, c byte) []byte {
	n := total / (128 << 10)
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.Write(zblock(1, 128<<10, i == n-1, []byte{c}))
	}
	return zframe(0x00, 0x38, nil, b.Bytes()) // window 128 KiB
}

func fcs32(n uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return b[:]
}

func fcs64(n uint64) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return b[:]
}

// smallBundle is a validly signed, X25519-encrypted bundle from KZ-NCB to
// CARICC of about 1 KiB: its header, manifest, one record line and
// payload.
type smallBundle struct {
	w        *hostileWorld
	hdr, man []byte
	line     []byte
	payload  []byte
}

func newSmallBundle(t *testing.T, w *hostileWorld) *smallBundle {
	h := newHeader(t, w.kz, 1, w.ca)
	sb := &smallBundle{w: w, hdr: h.Marshal(), man: genuineManifest(t, h, w.kz, w.ca), line: canonicalLine(person("s-1", "Small"))}
	sb.payload = sb.seal(t, compress(sb.man, sb.line))
	return sb
}

func (sb *smallBundle) seal(t *testing.T, zst []byte) []byte {
	return encrypt(t, zst, x25519Recipients(sb.w.ca))
}

// TestDeclaredSizes: a small file whose fields declare 2^32, 2^63, 10^12
// or gigabytes is refused by the check named, the store unchanged, by a
// valise process whose peak memory stays within a few MiB of a plain
// refusal's.
func TestDeclaredSizes(t *testing.T) {
	w := newHostileWorld(t)
	kz := w.kz
	sb := newSmallBundle(t, w)
	body := func(length string, records string) []byte {
		sum := trailerBody(sb.payload, 0)
		s := strings.Replace(string(sum), fmt.Sprintf("payload-length: %d\n", len(sb.payload)), "payload-length: "+length+"\n", 1)
		return []byte(strings.Replace(s, "records: 0\n", "records: "+records+"\n", 1))
	}
	n := fmt.Sprint(len(sb.payload))
	withSeq := func(seq string) []byte {
		hdr := bytes.Replace(sb.hdr, []byte(" 1\nschema:"), []byte(" "+seq+"\nschema:"), 1)
		return signed(hdr, sb.seal(t, compress(rebind(t, sb.man, hdr), sb.line)), 1, kz.keys.Signing)
	}
	withFrame := func(frame []byte) []byte {
		return signed(sb.hdr, sb.seal(t, append(compress(sb.man), frame...)), 1, kz.keys.Signing)
	}
	footer := func(b []byte, v string) []byte { return append(bytes.Clone(b[:len(b)-16]), "valise-end "+v+"\n"...) }
	good := signed(sb.hdr, sb.payload, 1, kz.keys.Signing)
	cases := []hostileCase{
		{name: "payload-length 2^32", data: assemble(sb.hdr, sb.payload, body("4294967296", "1"), kz.keys.Signing), code: exitMalformed, check: "payload length", verify: exitMalformed},
		{name: "payload-length 2^62", data: assemble(sb.hdr, sb.payload, body("4611686018427387904", "1"), kz.keys.Signing), code: exitMalformed, check: "payload length", verify: exitMalformed},
		{name: "payload-length 2^63", data: assemble(sb.hdr, sb.payload, body("9223372036854775808", "1"), kz.keys.Signing), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "payload-length 2^64", data: assemble(sb.hdr, sb.payload, body("18446744073709551616", "1"), kz.keys.Signing), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "payload-length of 10^30 digits", data: assemble(sb.hdr, sb.payload, body("1"+strings.Repeat("0", 30), "1"), kz.keys.Signing), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "10^12 records, validly signed", data: assemble(sb.hdr, sb.payload, body(n, "1000000000000"), kz.keys.Signing), code: exitAuth, check: "record count", verify: 0},
		{name: "2^32 records, validly signed", data: assemble(sb.hdr, sb.payload, body(n, "4294967296"), kz.keys.Signing), code: exitAuth, check: "record count", verify: 0},
		{name: "2^40+1 records", data: assemble(sb.hdr, sb.payload, body(n, "1099511627777"), kz.keys.Signing), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "2^64 records", data: assemble(sb.hdr, sb.payload, body(n, "18446744073709551616"), kz.keys.Signing), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "sequence 2^63, validly signed", data: withSeq("9223372036854775808"), code: exitMalformed, check: "header", verify: exitMalformed},
		{name: "sequence 2^53+1, validly signed", data: withSeq("9007199254740993"), code: exitMalformed, check: "header", verify: exitMalformed},
		{name: "footer declares a 65,535-byte trailer", data: footer(good, "ffff"), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "footer declares a 4,097-byte trailer", data: footer(good, "1001"), code: exitMalformed, check: "trailer", verify: exitMalformed},
		{name: "zstd frame declaring 2 GiB of content (single segment)", data: withFrame(zframe(0xa0, -1, fcs32(1<<31), zblock(0, 1, true, []byte("x")))),
			code: exitMalformed, check: "decompressed size", verify: 0},
		{name: "zstd frame declaring 2^63 bytes of content", data: withFrame(zframe(0xe0, -1, fcs64(1<<63), zblock(0, 1, true, []byte("x")))),
			code: exitMalformed, check: "decompressed size", verify: 0},
		{name: "zstd frame declaring 2 GiB of content (128 KiB window)", data: withFrame(zframe(0x80, 0x38, fcs32(1<<31), zblock(0, 1, true, []byte("x")))),
			code: exitMalformed, check: "decompression", verify: 0},
		{name: "zstd skippable frame of 4 GiB", data: withFrame(append([]byte{0x50, 0x2a, 0x4d, 0x18, 0xff, 0xff, 0xff, 0xff}, "abc"...)),
			code: exitMalformed, check: "decompression", verify: 0},
		{name: "zstd block declaring 2 MiB (over the 128 KiB block limit)", data: withFrame(zframe(0x00, 0x38, nil, zblock(0, 2<<20-1, true, []byte("x")))),
			code: exitMalformed, check: "decompression", verify: 0},
	}
	path := filepath.Join(w.dir, "size.valise")
	cards := []string{"--card", w.kz.cardPath}
	// The peak memory of refusing a bundle of that size that declares
	// nothing odd, for comparison: what a refusal costs (the runtime, the
	// store opened, the ledger entry written).
	os.WriteFile(path, footer(good, "0000"), 0o644)
	_, _, _, baseline, _ := runBinary(t, "import", "--home", w.ca.home, path)
	// Each case declares gigabytes or more; allocating even a sliver of
	// what it declares shows as tens of MiB over a plain refusal. The
	// margin covers what differs between two refusals (the check that
	// fails, the error written), with room for a machine under load.
	const margin = 24 << 20
	// Hang guard only: a loop over a declared 2^32 takes far longer, and
	// a loaded machine takes seconds where an idle one takes milliseconds.
	const hang = time.Minute
	for _, tc := range cases {
		if len(tc.data) > 1536 {
			t.Errorf("%s: %d bytes, want a file of about 1 KiB", tc.name, len(tc.data))
		}
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, w.ca.home)
		code, out, errOut, peak, took := runBinary(t, "import", "--home", w.ca.home, path)
		m := refusedCheck.FindStringSubmatch(errOut)
		if code != tc.code || m == nil || m[1] != tc.check || !strings.Contains(out, "store unchanged") {
			t.Errorf("%s: import exit %d, want %d with check %q\n%s%s", tc.name, code, tc.code, tc.check, out, errOut)
		}
		if took > hang {
			t.Errorf("%s: import took %v", tc.name, took)
		}
		if peak > baseline+margin {
			t.Errorf("%s: import peak memory %s, a plain refusal %s: more than %s over it", tc.name, testenv.MiB(peak), testenv.MiB(baseline), testenv.MiB(margin))
		}
		if snapshot(t, w.ca.home) != before {
			t.Errorf("%s: the store changed", tc.name)
		}
		vcode, vout, verr, vpeak, vtook := runBinary(t, append(append([]string{"verify", "--home", w.nohome}, cards...), path)...)
		if vcode != tc.verify || vtook > hang {
			t.Errorf("%s: verify exit %d in %v, want %d\n%s%s", tc.name, vcode, vtook, tc.verify, vout, verr)
		}
		if vpeak > baseline+margin {
			t.Errorf("%s: verify peak memory %s, a plain import refusal %s: more than %s over it", tc.name, testenv.MiB(vpeak), testenv.MiB(baseline), testenv.MiB(margin))
		}
		t.Logf("%s (%d bytes): exit %d in %v, peak %s (plain refusal %s), verify peak %s: %s", tc.name, len(tc.data), code, took.Round(time.Millisecond),
			testenv.MiB(peak), testenv.MiB(baseline), testenv.MiB(vpeak), strings.TrimSpace(errOut))
	}
}

// TestDecompressionBombs runs the valise binary on validly signed bombs
// and measures its peak memory: each is refused at a cap, under 200 MiB.
func TestDecompressionBombs(t *testing.T) {
	w := newHostileWorld(t)
	kz := w.kz
	sb := newSmallBundle(t, w)
	bomb := func(zst []byte, key bool) []byte {
		payload := sb.seal(t, zst)
		if !key {
			return assemble(sb.hdr, payload, trailerBody(payload, 1), w.kg.keys.Signing)
		}
		return signed(sb.hdr, payload, 1, kz.keys.Signing)
	}
	man := compress(sb.man)
	var empty, manyA bytes.Buffer
	for i := 0; i < 100000; i++ {
		empty.Write(zframe(0x20, -1, []byte{0}, zblock(0, 0, true, nil)))
	}
	for i := 0; i < 8192; i++ {
		manyA.Write(zframe(0x00, 0x38, nil, zblock(1, 128<<10, true, []byte{'A'})))
	}
	gib := rleFrame(1<<30, 0)
	win8 := zframe(0x00, 0x68, nil) // 8 MiB window, the largest allowed
	for i := 0; i < 1<<30/(128<<10); i++ {
		win8 = append(win8, zblock(1, 128<<10, i == 1<<30/(128<<10)-1, []byte{'B'})...)
	}
	cases := []struct {
		name  string
		data  []byte
		code  int
		check string
	}{
		{"1 GiB of zeros in 32 KiB after the manifest", bomb(append(bytes.Clone(man), gib...), true), exitMalformed, "record"},
		{"1 GiB of zeros in 32 KiB instead of the manifest", bomb(gib, true), exitAuth, "manifest"},
		{"1 GiB of newlines in 32 KiB", bomb(append(bytes.Clone(man), rleFrame(1<<30, '\n')...), true), exitInvalid, "record"},
		{"1 GiB in an 8 MiB-window frame", bomb(append(bytes.Clone(man), win8...), true), exitMalformed, "record"},
		{"8,192 concatenated frames of 128 KiB", bomb(append(bytes.Clone(man), manyA.Bytes()...), true), exitMalformed, "record"},
		{"100,000 empty frames, signature broken", bomb(append(bytes.Clone(man), empty.Bytes()...), false), exitAuth, "signature"},
		{"100,000 empty frames before the manifest, signature broken", bomb(append(bytes.Clone(empty.Bytes()), man...), false), exitAuth, "signature"},
		{"a frame asking for a 2 GiB window", bomb(append(bytes.Clone(man), zframe(0x00, 0xa8, nil, zblock(0, 1, true, []byte("x")))...), true), exitMalformed, "decompression"},
		{"a first frame asking for a 2 GiB window", bomb(zframe(0x00, 0xa8, nil, zblock(0, 1, true, []byte("x"))), true), exitMalformed, "decompression"},
		{"a frame asking for a 16 MiB window", bomb(append(bytes.Clone(man), zframe(0x00, 0x70, nil, zblock(0, 1, true, []byte("x")))...), true), exitMalformed, "decompression"},
		{"1 GiB of zeros, signature broken", bomb(append(bytes.Clone(man), gib...), false), exitAuth, "signature"},
	}
	path := filepath.Join(w.dir, "bomb.valise")
	for _, tc := range cases {
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, w.ca.home)
		code, out, errOut, rss, took := runBinary(t, "import", "--home", w.ca.home, path)
		m := refusedCheck.FindStringSubmatch(errOut)
		if code != tc.code || m == nil || m[1] != tc.check || !strings.Contains(out, "store unchanged") {
			t.Errorf("%s: import exit %d, want %d with check %q\n%s%s", tc.name, code, tc.code, tc.check, out, errOut)
		}
		if rss <= 0 || rss > 200<<20 {
			t.Errorf("%s: peak memory %d MiB, want under 200 MiB", tc.name, rss>>20)
		}
		if took > time.Minute { // a hang guard: the machine may be loaded
			t.Errorf("%s: took %v", tc.name, took)
		}
		if snapshot(t, w.ca.home) != before {
			t.Errorf("%s: the store changed", tc.name)
		}
		t.Logf("%s (%d bytes): exit %d in %v, peak %d MiB: %s", tc.name, len(tc.data), code, took.Round(time.Millisecond), rss>>20, strings.TrimSpace(errOut))
	}
}
