package bundle

// The C2SP CCTV age test vectors (c2sp.org/CCTV/age, as age's own
// testkit_test.go runs them) against valise's payload layer: each
// vector's age file becomes the payload of a validly signed bundle, and
// the vector's identities are the recipient's. What age accepts, valise
// must decrypt to the vector's plaintext and get past decryption; what age
// refuses, valise must refuse as a failed decryption (or, when age has
// already released authenticated plaintext that is not a zstd stream, as
// a failed decompression), and never hand out a record.

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	agetest "c2sp.org/CCTV/age"
	"filippo.io/age"
	"github.com/google/uuid"

	"valise/schema"
)

// cctvVector is one CCTV age vector.
type cctvVector struct {
	name        string
	expect      string // success, HMAC failure, header failure, armor failure, payload failure, no match
	payloadHash *[32]byte
	identities  []age.Identity
	armored     bool
	file        []byte
}

func cctvVectors(t testing.TB) []*cctvVector {
	t.Helper()
	entries, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatal(err)
	}
	var out []*cctvVector
	for _, e := range entries {
		data, err := fs.ReadFile(agetest.Vectors, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		v := &cctvVector{name: e.Name()}
		zlibbed := false
		for {
			line, rest, ok := bytes.Cut(data, []byte("\n"))
			if !ok {
				t.Fatalf("%s: no payload", e.Name())
			}
			data = rest
			if len(line) == 0 {
				break
			}
			key, value, _ := strings.Cut(string(line), ": ")
			switch key {
			case "expect":
				v.expect = value
			case "payload":
				h, err := hex.DecodeString(value)
				if err != nil || len(h) != 32 {
					t.Fatalf("%s: payload hash %q", e.Name(), value)
				}
				v.payloadHash = (*[32]byte)(h)
			case "identity":
				var id age.Identity
				id, err := age.ParseX25519Identity(value)
				if err != nil {
					id, err = age.ParseHybridIdentity(value)
				}
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				v.identities = append(v.identities, id)
			case "passphrase":
				id, err := age.NewScryptIdentity(value)
				if err != nil {
					t.Fatal(err)
				}
				v.identities = append(v.identities, id)
			case "armored":
				v.armored = true
			case "compressed":
				if value != "zlib" {
					t.Fatalf("%s: compression %q", e.Name(), value)
				}
				zlibbed = true
			case "file key", "comment":
			default:
				t.Fatalf("%s: unknown header %q", e.Name(), key)
			}
		}
		if zlibbed {
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		v.file = data
		out = append(out, v)
	}
	if len(out) < 100 {
		t.Fatalf("only %d CCTV vectors", len(out))
	}
	return out
}

// payloadBundle builds a validly signed bundle from from to to around a
// raw payload, which need not be an age file at all.
func payloadBundle(t testing.TB, from, to office, payload []byte) []byte {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	h := &Header{ID: id, Created: time.Now().UTC().Truncate(time.Second), Sender: from.card.Agency,
		SenderKey: from.card.Fingerprint(), Recipients: []Recipient{{Agency: to.card.Agency, Fingerprint: to.card.Fingerprint(), Sequence: 1}},
		Schema: schema.ModelVersion, Compression: Compression, Encryption: EncryptionX25519}
	hdr := h.Marshal()
	tr := &Trailer{PayloadLength: int64(len(payload)), PayloadHash: sumPayload(payload)}
	tr.Signature = ed25519.Sign(from.keys.Signing, signedMessage(hdr, tr.body()))
	tb := tr.marshal()
	out := append(append(append([]byte(nil), hdr...), payload...), tb...)
	return append(out, fmt.Sprintf("%s%04x\n", footerPrefix, len(tb))...)
}

// ageReleasesPlaintext reports whether age, reading the file directly,
// hands out any plaintext before it fails (it authenticates chunk by
// chunk, so a failure in a later chunk comes after earlier plaintext).
func ageReleasesPlaintext(v *cctvVector) bool {
	r, err := age.Decrypt(bytes.NewReader(v.file), v.identities...)
	if err != nil {
		return false
	}
	var one [1]byte
	n, _ := r.Read(one[:])
	return n > 0
}

func TestCCTVAgeVectors(t *testing.T) {
	a, b := newOffice(t, "KZ-NCB"), newOffice(t, "CARICC")
	vectors := cctvVectors(t)
	classes := map[string]int{}
	var mu sync.Mutex
	count := func(s string) {
		mu.Lock()
		classes[s]++
		mu.Unlock()
	}
	t.Run("vectors", func(t *testing.T) {
		for _, v := range vectors {
			t.Run(v.name, func(t *testing.T) {
				t.Parallel()
				data := payloadBundle(t, a, b, v.file)
				ageOK := v.expect == "success" && !v.armored // valise reads binary age only

				// 1. valise's streaming reader (it holds back the trailer
				// while it hands the payload to age) gives age exactly the
				// vector: the plaintext has the vector's hash, and the
				// signature over it verifies afterwards.
				if ageOK {
					r, err := Open(bytes.NewReader(data))
					if err != nil {
						t.Fatal(err)
					}
					ar, err := age.Decrypt(r.tail, v.identities...)
					if err != nil {
						t.Fatalf("age refuses the payload valise hands it: %v", err)
					}
					plain, err := io.ReadAll(ar)
					if err != nil {
						t.Fatalf("reading the plaintext: %v", err)
					}
					if v.payloadHash != nil && sha256.Sum256(plain) != *v.payloadHash {
						t.Fatalf("plaintext of %d bytes does not have the vector's hash", len(plain))
					}
					if _, err := r.finish(a.card.SigningKey); err != nil {
						t.Fatalf("trailer after the payload: %v", err)
					}
				}

				// 2. Decrypt and read records as import does.
				r, err := Open(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				var records int
				rr, err := r.Decrypt(a.card.SigningKey, v.identities...)
				if err == nil {
					for {
						var rec *schema.Record
						rec, _, err = rr.Next()
						if rec != nil {
							records++
						}
						if err != nil {
							break
						}
					}
					rr.Close()
				}
				if records > 0 {
					t.Errorf("%d records handed out", records)
				}
				if err == io.EOF {
					t.Fatalf("accepted: the vector's plaintext is not a valise payload")
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got %v, want a failed check", err)
				}
				what := v.expect
				if v.armored {
					what += " (armored)"
				}
				count(fmt.Sprintf("age %-27s -> valise check %q (%v)", what, e.Check, e.Kind))
				switch {
				case ageOK:
					// Past decryption: the plaintext is not zstd (or is
					// empty, so there is no manifest).
					if e.Check != "decompression" && e.Check != "manifest" {
						t.Errorf("age decrypts this vector, valise fails check %q: %v", e.Check, err)
					}
				case v.expect == "payload failure" && ageReleasesPlaintext(v):
					// age released authenticated plaintext, which is not
					// zstd: either failure may come first.
					if e.Check != "decryption" && e.Check != "decompression" {
						t.Errorf("payload failure: valise fails check %q: %v", e.Check, err)
					}
				default:
					if e.Check != "decryption" || !errors.Is(err, ErrAuth) {
						t.Errorf("age: %s; valise: %v, want a failed decryption", v.expect, err)
					}
				}
			})
		}
	})
	var lines []string
	for k, n := range classes {
		lines = append(lines, fmt.Sprintf("%4d  %s", n, k))
	}
	sort.Strings(lines)
	t.Logf("%d CCTV vectors:\n%s", len(vectors), strings.Join(lines, "\n"))
}
