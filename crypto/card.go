package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"

	"valise/schema"
)

// ErrCard wraps every reason a card is refused.
var ErrCard = errors.New("invalid card")

// Limits of a card.
const (
	MaxCardSize      = 16 << 10
	MaxNameLen       = 128
	MaxCardRecipient = 4
)

const (
	cardMagic      = "valise-card/v1"
	cardSigContext = "valise-card-signature/v1\x00"
	fprContext     = "valise-fingerprint/v1\x00"
)

// Card is the public half of an office.
type Card struct {
	Agency     string
	Name       string
	Created    time.Time // UTC, whole seconds
	SigningKey ed25519.PublicKey
	Recipients []string // age recipient strings
	Signature  []byte
}

// NewCard makes the self-signed card of keys.
func NewCard(agency, name string, created time.Time, k *Keys) (*Card, error) {
	c := &Card{Agency: agency, Name: name, Created: created.UTC().Truncate(time.Second),
		SigningKey: k.Public(), Recipients: k.Recipients()}
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	c.Signature = ed25519.Sign(k.Signing, append([]byte(cardSigContext), c.body()...))
	return c, nil
}

func (c *Card) body() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nagency: %s\nname: %s\ncreated: %s\nsigning-key: %s\n", cardMagic, c.Agency, c.Name,
		c.Created.Format(time.RFC3339), base64.StdEncoding.EncodeToString(c.SigningKey))
	for _, r := range c.Recipients {
		fmt.Fprintf(&b, "recipient: %s\n", r)
	}
	return b.Bytes()
}

// Marshal returns the card's one encoding.
func (c *Card) Marshal() []byte {
	return append(c.body(), "signature: "+base64.StdEncoding.EncodeToString(c.Signature)+"\n"...)
}

func (c *Card) checkFields() error {
	if err := schema.CheckAgency(c.Agency); err != nil {
		return fmt.Errorf("%w: %v", ErrCard, err)
	}
	if len(c.Name) > MaxNameLen || !utf8.ValidString(c.Name) || schema.Printable(c.Name) != c.Name {
		return fmt.Errorf("%w: name must be at most %d bytes of printable UTF-8", ErrCard, MaxNameLen)
	}
	if strings.TrimSpace(c.Name) != c.Name {
		return fmt.Errorf("%w: name has leading or trailing space", ErrCard)
	}
	if err := CheckPublicKey(c.SigningKey); err != nil {
		return fmt.Errorf("%w: signing key: %v", ErrCard, err)
	}
	if len(c.Recipients) == 0 || len(c.Recipients) > MaxCardRecipient {
		return fmt.Errorf("%w: want 1 to %d recipients", ErrCard, MaxCardRecipient)
	}
	for _, r := range c.Recipients {
		if _, err := ParseRecipient(r); err != nil {
			return fmt.Errorf("%w: recipient %q: %v", ErrCard, schema.Printable(r), err)
		}
	}
	return nil
}

// ParseRecipient parses an age recipient valise accepts on a card: the
// post-quantum hybrid (age1pq1…) or X25519 (age1…) kind.
func ParseRecipient(s string) (age.Recipient, error) {
	if strings.HasPrefix(s, "age1pq1") {
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, err
		}
		if r.String() != s {
			return nil, errors.New("non-canonical recipient encoding")
		}
		return r, nil
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, err
	}
	if r.String() != s {
		return nil, errors.New("non-canonical recipient encoding")
	}
	return r, nil
}

// IsHybrid reports whether recipient string s is a post-quantum hybrid one.
func IsHybrid(s string) bool { return strings.HasPrefix(s, "age1pq1") }

// ParseCard parses and verifies a card: strict syntax, valid fields, a
// strong signing key and a valid self-signature. Parse then Marshal gives
// back data exactly.
func ParseCard(data []byte) (*Card, error) {
	if len(data) > MaxCardSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCard, MaxCardSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: malformed UTF-8", ErrCard)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%w: must end with a newline", ErrCard)
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	c := &Card{}
	i := 0
	next := func(key string) (string, error) {
		if i >= len(lines) {
			return "", fmt.Errorf("%w: missing %q line", ErrCard, key)
		}
		v, ok := strings.CutPrefix(lines[i], key+": ")
		if !ok {
			return "", fmt.Errorf("%w: line %d: want %q", ErrCard, i+1, key)
		}
		i++
		return v, nil
	}
	if lines[0] != cardMagic {
		return nil, fmt.Errorf("%w: not a valise card (first line must be %q)", ErrCard, cardMagic)
	}
	i = 1
	var err error
	if c.Agency, err = next("agency"); err != nil {
		return nil, err
	}
	if c.Name, err = next("name"); err != nil {
		return nil, err
	}
	created, err := next("created")
	if err != nil {
		return nil, err
	}
	if c.Created, err = ParseTime(created); err != nil {
		return nil, fmt.Errorf("%w: created: %v", ErrCard, err)
	}
	key, err := next("signing-key")
	if err != nil {
		return nil, err
	}
	if c.SigningKey, err = decodeB64(key, ed25519.PublicKeySize); err != nil {
		return nil, fmt.Errorf("%w: signing-key: %v", ErrCard, err)
	}
	for i < len(lines) && strings.HasPrefix(lines[i], "recipient: ") {
		v, _ := next("recipient")
		c.Recipients = append(c.Recipients, v)
		if len(c.Recipients) > MaxCardRecipient {
			return nil, fmt.Errorf("%w: more than %d recipients", ErrCard, MaxCardRecipient)
		}
	}
	sig, err := next("signature")
	if err != nil {
		return nil, err
	}
	if c.Signature, err = decodeB64(sig, ed25519.SignatureSize); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrCard, err)
	}
	if i != len(lines) {
		return nil, fmt.Errorf("%w: line %d: unexpected data after the signature", ErrCard, i+1)
	}
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	if !bytes.Equal(c.Marshal(), data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrCard)
	}
	if !ed25519.Verify(c.SigningKey, append([]byte(cardSigContext), c.body()...), c.Signature) {
		return nil, fmt.Errorf("%w: self-signature does not verify", ErrCard)
	}
	return c, nil
}

// ParseTime parses the one time form valise writes: RFC 3339, UTC, whole
// seconds ("2026-11-28T09:23:01Z").
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Format(time.RFC3339) != s || !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("%q is not a UTC time YYYY-MM-DDTHH:MM:SSZ", schema.Printable(s))
	}
	return t, nil
}

// decodeB64 decodes standard padded base64 of exactly n bytes, refusing
// any other spelling of the same bytes.
func decodeB64(s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != n || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("want canonical base64 of %d bytes", n)
	}
	return b, nil
}

// Fingerprint returns the card's human-comparable fingerprint.
func (c *Card) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte(fprContext))
	h.Write([]byte(c.Agency))
	h.Write([]byte{0})
	h.Write(c.SigningKey)
	for _, r := range c.Recipients {
		h.Write([]byte{0})
		h.Write([]byte(r))
	}
	sum := strings.ToUpper(hex.EncodeToString(h.Sum(nil)[:16]))
	var b strings.Builder
	for i := 0; i < len(sum); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(sum[i : i+4])
	}
	return b.String()
}

// NormalizeFingerprint accepts a fingerprint as a person types it (any
// case, with or without dashes or spaces) and returns the canonical form,
// or "" when it is not 32 hex digits.
func NormalizeFingerprint(s string) string {
	var hexs strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == ':':
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'F':
			hexs.WriteRune(r)
		default:
			return ""
		}
	}
	h := hexs.String()
	if len(h) != 32 {
		return ""
	}
	var b strings.Builder
	for i := 0; i < 32; i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// AgeRecipients returns the card's recipients parsed; with pq true only
// the hybrid ones, otherwise only the X25519 ones.
func (c *Card) AgeRecipients(pq bool) []age.Recipient {
	var out []age.Recipient
	for _, s := range c.Recipients {
		if IsHybrid(s) != pq {
			continue
		}
		if r, err := ParseRecipient(s); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// HasHybrid reports whether the card offers a post-quantum recipient.
func (c *Card) HasHybrid() bool {
	for _, s := range c.Recipients {
		if IsHybrid(s) {
			return true
		}
	}
	return false
}
