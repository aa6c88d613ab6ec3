package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/edwards25519"

	"valise/internal/publish"
)

// Sentinel errors.
var (
	// ErrWeakKey reports an Ed25519 public key that is not canonical or has small order.
	ErrWeakKey = errors.New("weak or non-canonical Ed25519 public key")
	// ErrPassphrase reports a missing or wrong passphrase for a secret key file.
	ErrPassphrase = errors.New("wrong or missing passphrase")
	// ErrExist reports a secret file that already exists and is never overwritten.
	ErrExist = errors.New("file already exists; valise never overwrites a key")
)

const signingKeyPrefix = "VALISE-ED25519-SECRET-KEY-"

// CheckPublicKey refuses Ed25519 public keys that are not the canonical
// encoding of a curve point, and points of small order.
func CheckPublicKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrWeakKey, len(pub), ed25519.PublicKeySize)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: not a curve point", ErrWeakKey)
	}
	if !bytes.Equal(p.Bytes(), pub) {
		return fmt.Errorf("%w: non-canonical encoding", ErrWeakKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: point of small order", ErrWeakKey)
	}
	return nil
}

// Keys is an office's secret key material.
type Keys struct {
	Signing    ed25519.PrivateKey
	Identities []age.Identity // hybrid first, then X25519
	Hybrid     *age.HybridIdentity
	X25519     *age.X25519Identity
}

// Generate creates a fresh signing key and age identities.
func Generate() (*Keys, error) {
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, err
	}
	x, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &Keys{Signing: sk, Hybrid: h, X25519: x, Identities: []age.Identity{h, x}}, nil
}

// Recipients returns the age recipient strings to publish on the card.
func (k *Keys) Recipients() []string {
	return []string{k.Hybrid.Recipient().String(), k.X25519.Recipient().String()}
}

// StoreKey derives the key that seals an office's store (the MACs of its
// trust tables and records; docs/STORE.md): HKDF-SHA256 with the Ed25519
// seed of k's signing key as secret, "valise-store-mac/v1" as salt and
// the agency id as info, 32 bytes. An office derives it from its first
// generation's key, which it keeps through rotations, so that the key
// never changes and is as well protected as the key files: with a
// passphrase, nobody without it can seal a row.
func (k *Keys) StoreKey(agency string) ([]byte, error) {
	return hkdf.Key(sha256.New, k.Signing.Seed(), []byte("valise-store-mac/v1"), agency, 32)
}

// Public returns the Ed25519 public signing key.
func (k *Keys) Public() ed25519.PublicKey { return k.Signing.Public().(ed25519.PublicKey) }

// identityFile is the age identity file text (age's own format).
func (k *Keys) identityFile(agency string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# valise identity of %s\n", agency)
	fmt.Fprintf(&b, "# public key: %s\n%s\n", k.Hybrid.Recipient(), k.Hybrid)
	fmt.Fprintf(&b, "# public key: %s\n%s\n", k.X25519.Recipient(), k.X25519)
	return b.Bytes()
}

func (k *Keys) signingFile(agency string) []byte {
	return []byte(fmt.Sprintf("# valise signing key of %s (Ed25519 seed)\n%s%s\n", agency, signingKeyPrefix,
		base64.RawURLEncoding.EncodeToString(k.Signing.Seed())))
}

// WriteFiles writes the identity and signing key files with mode 0600,
// refusing to overwrite either. With a non-empty passphrase both are
// encrypted as `age -p` does. On failure no file is left behind.
func (k *Keys) WriteFiles(identityPath, signingPath, agency, passphrase string) error {
	idData, sigData := k.identityFile(agency), k.signingFile(agency)
	if passphrase != "" {
		var err error
		if idData, err = encryptPassphrase(idData, passphrase); err != nil {
			return err
		}
		if sigData, err = encryptPassphrase(sigData, passphrase); err != nil {
			return err
		}
	}
	if err := writeSecret(identityPath, idData); err != nil {
		return err
	}
	if err := writeSecret(signingPath, sigData); err != nil {
		os.Remove(identityPath)
		return err
	}
	return nil
}

func encryptPassphrase(data []byte, passphrase string) ([]byte, error) {
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeSecret publishes path new, whole and synced, with mode 0600.
func writeSecret(path string, data []byte) error {
	err := publish.WriteFile(path, data, publish.Options{Mode: 0o600})
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrExist)
	}
	return err
}

const maxSecretFile = 64 << 10

// IsEncrypted reports whether a secret file is passphrase-encrypted.
func IsEncrypted(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(ageMagic))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == ageMagic, nil
}

const ageMagic = "age-encryption.org/v1\n"

// readSecret reads a secret file and decrypts it with passphrase when it
// is passphrase-protected. It refuses a file that others could read or
// replace: a mode wider than 0600 or, on Windows, an access control list
// that lets others in (checkACL); an owner other than the user running
// valise; a symbolic link (checked on the open file, so that the file
// checked is the file read) or anything but a regular file.
func readSecret(path string, passphrase func() (string, error)) ([]byte, error) {
	f, err := openSecret(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file; a secret key must be a plain file", path)
	}
	// Mode 0600 and the owner on Unix, the owner and the ACL on Windows
	// (secretfile_*.go).
	if err := checkProtected(path, f, st); err != nil {
		return nil, err
	}
	if st.Size() > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a valise key file", path, maxSecretFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a valise key file", path, maxSecretFile)
	}
	if !bytes.HasPrefix(data, []byte(ageMagic)) {
		return data, nil
	}
	if passphrase == nil {
		return nil, fmt.Errorf("%s: %w (the file is passphrase-protected)", path, ErrPassphrase)
	}
	pass, err := passphrase()
	if err != nil {
		return nil, err
	}
	if pass == "" {
		return nil, fmt.Errorf("%s: %w (the file is passphrase-protected)", path, ErrPassphrase)
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrPassphrase)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxSecretFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Load reads the identity and signing key files. passphrase is called at
// most once, and only when a file is passphrase-protected.
func Load(identityPath, signingPath string, passphrase func() (string, error)) (*Keys, error) {
	var cached *string
	once := func() (string, error) {
		if cached != nil {
			return *cached, nil
		}
		if passphrase == nil {
			return "", ErrPassphrase
		}
		p, err := passphrase()
		if err != nil {
			return "", err
		}
		cached = &p
		return p, nil
	}
	sig, err := readSecret(signingPath, once)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	k := &Keys{}
	for _, line := range strings.Split(string(sig), "\n") {
		if rest, ok := strings.CutPrefix(line, signingKeyPrefix); ok {
			seed, err := base64.RawURLEncoding.Strict().DecodeString(rest)
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, fmt.Errorf("reading signing key %s: malformed key line", signingPath)
			}
			k.Signing = ed25519.NewKeyFromSeed(seed)
		}
	}
	if k.Signing == nil {
		return nil, fmt.Errorf("reading signing key %s: no %s line", signingPath, signingKeyPrefix)
	}
	idData, err := readSecret(identityPath, once)
	if err != nil {
		return nil, fmt.Errorf("reading age identity: %w", err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(idData))
	if err != nil {
		return nil, fmt.Errorf("reading age identity %s: %w", identityPath, err)
	}
	for _, id := range ids {
		switch id := id.(type) {
		case *age.HybridIdentity:
			k.Hybrid = id
		case *age.X25519Identity:
			k.X25519 = id
		}
	}
	if k.Hybrid == nil || k.X25519 == nil {
		return nil, fmt.Errorf("reading age identity %s: want one post-quantum and one X25519 identity", identityPath)
	}
	k.Identities = []age.Identity{k.Hybrid, k.X25519}
	return k, nil
}
