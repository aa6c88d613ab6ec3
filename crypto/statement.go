package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"valise/schema"
)

// ErrStatement wraps every reason a keyring statement is refused.
var ErrStatement = errors.New("invalid keyring statement")

// Statement kinds.
const (
	// Rotate introduces an office's next key: peers trust the new card at
	// once and stop accepting the old key when the first bundle signed by
	// the new one arrives.
	Rotate = "rotate"
	// Revoke declares an office's key compromised: peers refuse it at
	// once, whatever a bundle's created time, and trust the successor card
	// only after comparing its fingerprint out of band (valise peer confirm).
	Revoke = "revoke"
)

const (
	statementMagic = "valise-statement/v1"
	statementCtx   = "valise-statement-signature/v1\x00"
)

// Statement is a keyring statement signed by the key it retires:
//
//	valise-statement/v1
//	agency: KZ-NCB
//	kind: rotate
//	key: <fingerprint of the card being retired>
//	created: 2026-11-28T09:23:01Z
//	card: <base64 of the successor card>
//	signature: <base64 Ed25519 signature by the retired key>
//
// The signature covers "valise-statement-signature/v1\x00" and every line
// before the signature line. The successor card is self-signed by the new
// key, so the two keys vouch for each other.
type Statement struct {
	Agency    string
	Kind      string
	Key       string // fingerprint of the card the statement retires
	Created   time.Time
	Card      []byte // the successor card, canonical
	Signature []byte
}

// NewStatement makes a statement of kind by oldKeys (whose card is old)
// introducing next.
func NewStatement(kind string, old *Card, oldKeys *Keys, next *Card, created time.Time) (*Statement, error) {
	if kind != Rotate && kind != Revoke {
		return nil, fmt.Errorf("%w: unknown kind %q", ErrStatement, kind)
	}
	if next.Agency != old.Agency {
		return nil, fmt.Errorf("%w: successor card is for %s, not %s", ErrStatement, next.Agency, old.Agency)
	}
	s := &Statement{Agency: old.Agency, Kind: kind, Key: old.Fingerprint(), Created: created.UTC().Truncate(time.Second), Card: next.Marshal()}
	s.Signature = ed25519.Sign(oldKeys.Signing, append([]byte(statementCtx), s.body()...))
	return s, nil
}

func (s *Statement) body() []byte {
	return []byte(fmt.Sprintf("%s\nagency: %s\nkind: %s\nkey: %s\ncreated: %s\ncard: %s\n", statementMagic, s.Agency, s.Kind, s.Key,
		s.Created.Format(time.RFC3339), base64.StdEncoding.EncodeToString(s.Card)))
}

// Marshal returns the statement's one encoding.
func (s *Statement) Marshal() []byte {
	return append(s.body(), "signature: "+base64.StdEncoding.EncodeToString(s.Signature)+"\n"...)
}

// ParseStatement parses a statement strictly. It does not check the
// signature: see Verify.
func ParseStatement(data []byte) (*Statement, error) {
	if len(data) > MaxCardSize*2 || !utf8.Valid(data) || len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%w: not a statement", ErrStatement)
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	if lines[0] != statementMagic || len(lines) != 7 {
		return nil, fmt.Errorf("%w: not a %s statement", ErrStatement, statementMagic)
	}
	get := func(i int, key string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], key+": ")
		if !ok {
			return "", fmt.Errorf("%w: line %d: want %q", ErrStatement, i+1, key)
		}
		return v, nil
	}
	s := &Statement{}
	var err error
	if s.Agency, err = get(1, "agency"); err != nil {
		return nil, err
	}
	if s.Kind, err = get(2, "kind"); err != nil {
		return nil, err
	}
	if s.Key, err = get(3, "key"); err != nil {
		return nil, err
	}
	created, err := get(4, "created")
	if err != nil {
		return nil, err
	}
	if s.Created, err = ParseTime(created); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	card, err := get(5, "card")
	if err != nil {
		return nil, err
	}
	if s.Card, err = base64.StdEncoding.Strict().DecodeString(card); err != nil || base64.StdEncoding.EncodeToString(s.Card) != card {
		return nil, fmt.Errorf("%w: card is not canonical base64", ErrStatement)
	}
	sig, err := get(6, "signature")
	if err != nil {
		return nil, err
	}
	if s.Signature, err = decodeB64(sig, ed25519.SignatureSize); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrStatement, err)
	}
	if schema.CheckAgency(s.Agency) != nil || (s.Kind != Rotate && s.Kind != Revoke) || NormalizeFingerprint(s.Key) != s.Key {
		return nil, fmt.Errorf("%w: malformed agency, kind or key", ErrStatement)
	}
	if !bytes.Equal(s.Marshal(), data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrStatement)
	}
	return s, nil
}

// Verify checks the statement against the card it retires and returns the
// successor card.
func (s *Statement) Verify(old *Card) (*Card, error) {
	if s.Agency != old.Agency || s.Key != old.Fingerprint() {
		return nil, fmt.Errorf("%w: statement is about %s key %s, not %s key %s", ErrStatement, s.Agency, s.Key, old.Agency, old.Fingerprint())
	}
	if !ed25519.Verify(old.SigningKey, append([]byte(statementCtx), s.body()...), s.Signature) {
		return nil, fmt.Errorf("%w: signature does not match %s key %s", ErrStatement, s.Agency, s.Key)
	}
	next, err := ParseCard(s.Card)
	if err != nil {
		return nil, fmt.Errorf("%w: successor card: %v", ErrStatement, err)
	}
	if next.Agency != s.Agency {
		return nil, fmt.Errorf("%w: successor card is for %s", ErrStatement, next.Agency)
	}
	if next.Fingerprint() == old.Fingerprint() {
		return nil, fmt.Errorf("%w: successor card is the same card", ErrStatement)
	}
	return next, nil
}

// MaxStatementFile bounds a file of statements read by ParseStatements.
const MaxStatementFile = 1 << 20

// ParseStatements parses a file of statements, one after another (what
// valise key statements writes). Each must parse on its own.
func ParseStatements(data []byte) ([]*Statement, error) {
	if len(data) > MaxStatementFile {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrStatement, MaxStatementFile)
	}
	if !bytes.HasPrefix(data, []byte(statementMagic+"\n")) {
		return nil, fmt.Errorf("%w: not a file of %s statements", ErrStatement, statementMagic)
	}
	var out []*Statement
	for len(data) > 0 {
		end := bytes.Index(data[1:], []byte("\n"+statementMagic+"\n"))
		one := data
		if end >= 0 {
			one = data[:end+2]
		}
		st, err := ParseStatement(one)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", len(out)+1, err)
		}
		out = append(out, st)
		data = data[len(one):]
	}
	return out, nil
}
