package crypto

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"valise/schema"
)

// Keyring errors.
var (
	// ErrUnknownSigner: no trusted card for the agency and fingerprint.
	ErrUnknownSigner = errors.New("unknown signer")
	// ErrRevoked: the card was revoked.
	ErrRevoked = errors.New("signer revoked")
	// ErrRetired: the card was replaced by a rotation and its key no longer
	// signs.
	ErrRetired = errors.New("signer key retired")
)

// Card states, the same words in the store, in every message and in
// valise peer list and status.
const (
	StateTrusted  = "trusted"  // the agency's current card: encrypted to, its signatures accepted
	StateRetiring = "retiring" // replaced by a rotation; signatures accepted until the new key signs
	StateRetired  = "retired"  // replaced by a rotation; signatures refused
	StateRevoked  = "revoked"  // compromised; signatures refused whatever a bundle's created time
	StatePending  = "pending"  // announced by a revocation; trusted once its fingerprint is confirmed
)

// Refusal says why the signatures of a card are refused.
type Refusal struct {
	State string    // StateRetired or StateRevoked
	Since time.Time // when it was revoked (zero when unknown)
	// By is the fingerprint of the revoked key that introduced the card,
	// when the card was revoked with it rather than by itself.
	By string
}

// Keyring is the set of cards an office (or an auditor) trusts.
type Keyring struct {
	current map[string]*Card   // agency → the card to encrypt to
	accept  map[string]*Card   // fingerprint → card whose signatures are accepted
	refused map[string]Refusal // fingerprint → why its signatures are refused
	pending map[string]*Card   // fingerprint → card announced by a revocation, not confirmed
	// via maps a card a statement introduced to the key that signed the
	// statement (auditor keyrings, Apply); cards given by the auditor
	// are not in it.
	via map[string]string
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{current: map[string]*Card{}, accept: map[string]*Card{}, refused: map[string]Refusal{},
		pending: map[string]*Card{}, via: map[string]string{}}
}

// Add trusts c as its agency's current card. A later card for the same
// agency replaces the earlier one as current.
func (k *Keyring) Add(c *Card) {
	k.current[c.Agency] = c
	k.accept[c.Fingerprint()] = c
}

// Accept accepts signatures by c without making it the card to encrypt to
// (a key being retired by a rotation).
func (k *Keyring) Accept(c *Card) { k.accept[c.Fingerprint()] = c }

// Refuse refuses signatures by the card with fingerprint fpr.
func (k *Keyring) Refuse(fpr string, r Refusal) { k.refused[fpr] = r }

// Revoke refuses the card with fingerprint fpr as revoked since t.
func (k *Keyring) Revoke(fpr string, t time.Time) {
	k.Refuse(fpr, Refusal{State: StateRevoked, Since: t})
}

// Pend notes a card announced by a revocation and not yet confirmed: its
// signatures are refused, and Lookup says why.
func (k *Keyring) Pend(c *Card) { k.pending[c.Fingerprint()] = c }

// Card returns the current card of agency.
func (k *Keyring) Card(agency string) (*Card, bool) {
	c, ok := k.current[agency]
	if !ok {
		return nil, false
	}
	_, refused := k.refused[c.Fingerprint()]
	return c, !refused
}

// Known returns any card of the keyring with fingerprint fpr whose
// signatures are accepted.
func (k *Keyring) Known(fpr string) (*Card, bool) {
	if _, ok := k.refused[fpr]; ok {
		return nil, false
	}
	c, ok := k.accept[fpr]
	return c, ok
}

// Retired returns the card with fingerprint fpr if a rotation retired it
// (and the keyring was given the card: Accept, then Refuse).
func (k *Keyring) Retired(fpr string) (*Card, bool) {
	if r, ok := k.refused[fpr]; !ok || r.State != StateRetired {
		return nil, false
	}
	c, ok := k.accept[fpr]
	return c, ok
}

// Refused returns why the card with fingerprint fpr is refused, if it is.
func (k *Keyring) Refused(fpr string) (Refusal, bool) {
	r, ok := k.refused[fpr]
	return r, ok
}

// Lookup returns the card of agency with fingerprint fpr whose signatures
// are accepted.
func (k *Keyring) Lookup(agency, fpr string) (*Card, error) {
	if r, ok := k.refused[fpr]; ok {
		return nil, r.err(agency, fpr)
	}
	c, ok := k.accept[fpr]
	if ok && c.Agency == agency {
		return c, nil
	}
	if p, ok := k.pending[fpr]; ok && p.Agency == agency {
		return nil, fmt.Errorf("%w: %s card %s is pending: it was announced by a revocation and its fingerprint has not been confirmed (valise peer confirm %s --fingerprint %s, once compared with %s by phone)",
			ErrUnknownSigner, agency, fpr, agency, fpr, agency)
	}
	if cur, ok := k.current[agency]; ok {
		return nil, fmt.Errorf("%w: %s is trusted with key %s, the bundle names key %s", ErrUnknownSigner, agency, cur.Fingerprint(), schema.Printable(fpr))
	}
	return nil, fmt.Errorf("%w: no trusted card for %s", ErrUnknownSigner, schema.Printable(agency))
}

func (r Refusal) err(agency, fpr string) error {
	since := ""
	if !r.Since.IsZero() {
		since = " since " + r.Since.UTC().Format(time.RFC3339)
	}
	switch {
	case r.State == StateRetired:
		return fmt.Errorf("%w: %s key %s is retired: a rotation replaced it and %s signs with its newer key", ErrRetired, schema.Printable(agency), fpr, schema.Printable(agency))
	case r.By != "":
		return fmt.Errorf("%w: %s key %s is revoked%s, with key %s, which introduced it and was revoked; nothing it signs is accepted, whatever the bundle's created time",
			ErrRevoked, schema.Printable(agency), fpr, since, r.By)
	}
	return fmt.Errorf("%w: %s key %s is revoked%s; nothing it signs is accepted, whatever the bundle's created time", ErrRevoked, schema.Printable(agency), fpr, since)
}

// Apply applies keyring statements to an auditor's keyring: the cards it
// was given are its own confirmed cards. A statement counts when it is
// signed by a key the keyring accepts (statements may come in any order:
// each round applies what it can). A rotation makes its successor the
// agency's current card and keeps accepting the old key (a bundle signed
// before the switch stays valid); a revocation refuses the old key from
// the statement's time on, and every card introduced by it through a
// rotation, and notes its successor as pending. It returns what it did,
// one line each, and the statements it could not check (no card for the
// key they are about); it fails on a statement whose signature does not
// verify (ErrStatement), applying nothing more.
func (k *Keyring) Apply(sts []*Statement) (notes []string, unchecked []*Statement, err error) {
	todo := append([]*Statement(nil), sts...)
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Created.Before(todo[j].Created) })
	// Revocations first: a revoked key's rotations do not count.
	for progress := true; progress; {
		progress = false
		var rest []*Statement
		for _, st := range todo {
			old, ok := k.known(st.Key)
			if !ok {
				rest = append(rest, st)
				continue
			}
			next, err := st.Verify(old)
			if err != nil {
				return notes, nil, fmt.Errorf("statement of %s about key %s refused: %w", st.Agency, st.Key, err)
			}
			progress = true
			switch st.Kind {
			case Rotate:
				if _, refused := k.refused[st.Key]; refused {
					notes = append(notes, fmt.Sprintf("%s rotation of key %s to %s ignored: %s is revoked", st.Agency, st.Key, next.Fingerprint(), st.Key))
					continue
				}
				if _, known := k.accept[next.Fingerprint()]; !known {
					k.via[next.Fingerprint()] = st.Key
				}
				k.Add(next)
				notes = append(notes, fmt.Sprintf("%s rotated key %s to %s (%s)", st.Agency, st.Key, next.Fingerprint(), st.Created.UTC().Format(time.RFC3339)))
			case Revoke:
				k.revokeFrom(st.Key, st.Created, "")
				notes = append(notes, fmt.Sprintf("%s revoked key %s since %s; its new card %s is pending", st.Agency, st.Key, st.Created.UTC().Format(time.RFC3339), next.Fingerprint()))
				if _, known := k.accept[next.Fingerprint()]; !known {
					k.Pend(next)
				}
			}
		}
		todo = rest
	}
	return notes, todo, nil
}

// known returns a card the keyring knows, accepted or refused (a
// revocation by a key already refused still counts).
func (k *Keyring) known(fpr string) (*Card, bool) {
	c, ok := k.accept[fpr]
	return c, ok
}

// revokeFrom revokes fpr and, transitively, the cards statements
// introduced through it.
func (k *Keyring) revokeFrom(fpr string, since time.Time, by string) {
	if r, ok := k.refused[fpr]; ok && r.State == StateRevoked {
		return
	}
	k.refused[fpr] = Refusal{State: StateRevoked, Since: since, By: by}
	for c, intro := range k.via {
		if intro == fpr {
			k.revokeFrom(c, since, fpr)
		}
	}
}
