package identity

import (
	"fmt"
	"os"
	"path/filepath"
	"valise/office"

	"valise/crypto"
	"valise/store"
)

// KeyChange tells what RotateKey did.
type KeyChange struct {
	Kind       string // crypto.Rotate or crypto.Revoke
	Old, New   *crypto.Card
	Generation int
}

// RotateKey replaces this office's keys with a new generation and records
// a statement, signed by the old key, that travels in the next bundle to
// every peer. With kind crypto.Rotate the old key stays usable until each
// peer acknowledges the statement; with crypto.Revoke (the old key is
// compromised) peers refuse it as soon as the statement arrives, and must
// confirm the new card's fingerprint out of band.
func RotateKey(o *office.Office, kind string) (*KeyChange, error) {
	oldKeys, err := o.Keys()
	if err != nil {
		return nil, err
	}
	gens, err := o.Store.OwnCards()
	if err != nil {
		return nil, err
	}
	gen := 1
	for _, g := range gens {
		gen = max(gen, g.Generation)
	}
	gen++
	next, err := crypto.Generate()
	if err != nil {
		return nil, err
	}
	newCard, err := crypto.NewCard(o.Agency(), o.Card.Name, o.Now(), next)
	if err != nil {
		return nil, err
	}
	st, err := crypto.NewStatement(kind, o.Card, oldKeys, newCard, o.Now())
	if err != nil {
		return nil, err
	}
	// The new key files are protected like the old ones.
	pass := ""
	oldID, _ := o.KeyFiles(1)
	if enc, err := crypto.IsEncrypted(oldID); err != nil {
		return nil, err
	} else if enc {
		if pass, err = o.CachedPassphrase(); err != nil {
			return nil, err
		}
	}
	idPath, sigPath := o.KeyFiles(gen)
	if err := next.WriteFiles(idPath, sigPath, o.Agency(), pass); err != nil {
		return nil, err
	}
	undo := func() { os.Remove(idPath); os.Remove(sigPath) }
	oldStatus := "retiring"
	if kind == crypto.Revoke {
		oldStatus = "revoked"
	}
	old := o.Card
	err = o.Store.Update(func(tx *store.Tx) error {
		for _, g := range gens {
			if g.Fingerprint == old.Fingerprint() {
				if err := tx.SetOwnCard(store.OwnCard{Generation: g.Generation, Fingerprint: g.Fingerprint, Card: g.Card, Status: oldStatus}); err != nil {
					return err
				}
			}
		}
		if err := tx.SetOwnCard(store.OwnCard{Generation: gen, Fingerprint: newCard.Fingerprint(), Card: newCard.Marshal(), Status: "current"}); err != nil {
			return err
		}
		if _, err := tx.AddStatement(store.Statement{Agency: o.Agency(), Kind: kind, Key: old.Fingerprint(), Body: st.Marshal(), Own: true}); err != nil {
			return err
		}
		if err := tx.Audit("key "+kind, fmt.Sprintf("generation %d: %s replaces %s", gen, newCard.Fingerprint(), old.Fingerprint())); err != nil {
			return err
		}
		// The card file changes last, inside the transaction: if it
		// cannot be replaced, nothing is recorded.
		return office.ReplaceFile(filepath.Join(o.Home, office.CardFile), newCard.Marshal(), 0o644)
	})
	if err != nil {
		undo()
		return nil, err
	}
	o.SetCard(newCard)
	return &KeyChange{Kind: kind, Old: old, New: newCard, Generation: gen}, nil
}
