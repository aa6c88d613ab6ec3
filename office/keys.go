package office

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
func (o *Office) RotateKey(kind string) (*KeyChange, error) {
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
	oldID, _ := o.keyFiles(1)
	if enc, err := crypto.IsEncrypted(oldID); err != nil {
		return nil, err
	} else if enc {
		if o.cachedPass == nil {
			return nil, crypto.ErrPassphrase
		}
		if pass, err = o.cachedPass(); err != nil {
			return nil, err
		}
	}
	idPath, sigPath := o.keyFiles(gen)
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
		return replaceFile(filepath.Join(o.Home, CardFile), newCard.Marshal(), 0o644)
	})
	if err != nil {
		undo()
		return nil, err
	}
	o.Card, o.keys = newCard, nil
	return &KeyChange{Kind: kind, Old: old, New: newCard, Generation: gen}, nil
}

// signingKeyFor loads the signing key of the generation whose card has
// fingerprint fpr.
func (o *Office) signingKeyFor(fpr string) (*crypto.Keys, error) {
	gens, err := o.Store.OwnCards()
	if err != nil {
		return nil, err
	}
	for _, g := range gens {
		if g.Fingerprint == fpr {
			return o.loadGeneration(g.Generation)
		}
	}
	return nil, fmt.Errorf("no key of this office has fingerprint %s", fpr)
}

// replaceFile writes data to path atomically (temporary file, fsync,
// rename). Only for public files: secret files are never overwritten.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".valise-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	// Where the file system has no modes (FAT) there is nothing to set.
	if err := f.Chmod(mode); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}
