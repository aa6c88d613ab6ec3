package exchange

import (
	"encoding/hex"
	"errors"

	"valise/bundle"
	"valise/crypto"
	"valise/volume"
)

// Verdict is what an auditor learns of one bundle.
type Verdict struct {
	File       string
	Header     *bundle.Header
	Trailer    *bundle.Trailer
	SenderCard *crypto.Card
	// RecipientCards holds, per recipient agency, whether the keyring's
	// card for it has the fingerprint the header names ("match",
	// "mismatch" or "unknown").
	RecipientCards map[string]string
	PayloadOffset  int64
	// Volumes, for a bundle read from volumes: what was missing, damaged
	// and rebuilt.
	Volumes *volume.Report
	Err     error // nil when every check passed
}

// OK reports whether every check passed.
func (v *Verdict) OK() bool { return v.Err == nil }

// PayloadSHA returns the verified payload hash in hex.
func (v *Verdict) PayloadSHA() string {
	if v.Trailer == nil {
		return ""
	}
	return hex.EncodeToString(v.Trailer.PayloadHash[:])
}

// senderError classifies a keyring refusal as a failed "sender" check.
func senderError(err error) error {
	if errors.Is(err, crypto.ErrUnknownSigner) || errors.Is(err, crypto.ErrRevoked) || errors.Is(err, crypto.ErrRetired) {
		return &bundle.Error{Check: "sender", Kind: bundle.ErrAuth, Msg: err.Error(), Err: err}
	}
	return err
}

// Verify checks a bundle with public cards only: structure, the sender's
// card, signature, payload hash and trailer. It never decrypts.
func Verify(path string, kr *crypto.Keyring, opts ...Option) *Verdict {
	v := &Verdict{File: path, RecipientCards: map[string]string{}}
	f, set, done, err := openBundle(path, true)
	if err != nil {
		v.Err = err
		return v
	}
	defer done()
	defer func() { v.Volumes = volumeNote(set) }()
	r, err := bundle.Open(metered(f, buildOptions(opts)))
	if err != nil {
		v.Err = err
		return v
	}
	v.Header, v.PayloadOffset = r.Header, r.PayloadOffset()
	for _, rc := range r.Header.Recipients {
		switch c, ok := kr.Card(rc.Agency); {
		case !ok:
			v.RecipientCards[rc.Agency] = "unknown"
		case c.Fingerprint() == rc.Fingerprint:
			v.RecipientCards[rc.Agency] = "match"
		default:
			v.RecipientCards[rc.Agency] = "mismatch"
		}
	}
	card, err := kr.Lookup(r.Header.Sender, r.Header.SenderKey)
	if err != nil {
		v.Err = senderError(err)
		return v
	}
	v.SenderCard = card
	t, err := r.Verify(card.SigningKey)
	if err != nil {
		v.Err = err
		return v
	}
	v.Trailer = t
	return v
}
