// Package office carries out an office's work on top of the store: it
// creates the identity, ingests record files, packs bundles for peers,
// verifies bundles for auditors and imports bundles from peers. It is the
// one package that knows both the bundle format and the store.
package office

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"valise/crypto"
	"valise/internal/publish"
	"valise/schema"
	"valise/store"
)

// Files in an office's home directory.
const (
	IdentityFile = "identity.txt" // age identity file (secret, 0600)
	SigningFile  = "signing.key"  // Ed25519 signing key (secret, 0600)
	CardFile     = "card.txt"     // this office's public card
	StoreFile    = "store.db"     // the SQLite store
)

// Sentinel errors.
var (
	// ErrNoHome: the home directory holds no office.
	ErrNoHome = errors.New("no valise office here")
)

// Office is an initialised office: its home, card and store. Secret keys
// are loaded only when needed.
type Office struct {
	Home       string
	Card       *crypto.Card
	Store      *store.Store
	Passphrase func() (string, error) // asked for when a key file is passphrase-protected
	keys       *crypto.Keys
	gens       map[int]*crypto.Keys // each generation's keys, once loaded
	gensMu     sync.Mutex           // the store asks for its key (StoreKey) from its own goroutines
	cachedPass func() (string, error)
	Now        func() time.Time
}

// InitOptions configure Init.
type InitOptions struct {
	Agency     string
	Name       string
	Passphrase string // "" for unencrypted key files
	Now        time.Time
	// Keys and Card, when set, adopt an existing identity (keys restored
	// from a backup, published test vectors) instead of generating one;
	// Card must be Keys' card for Agency.
	Keys *crypto.Keys
	Card *crypto.Card
}

// Init creates an office in home: keys, card and store. It refuses to touch
// a home that already holds any of them, and removes what it created when
// it fails.
func Init(home string, o InitOptions) (*Office, error) {
	if err := schema.CheckAgency(o.Agency); err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = o.Agency
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{IdentityFile, SigningFile, CardFile, StoreFile} {
		if _, err := os.Lstat(filepath.Join(home, f)); err == nil {
			return nil, fmt.Errorf("%s already holds an office (%s exists); valise never overwrites keys", home, f)
		}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	keys, card := o.Keys, o.Card
	if keys == nil {
		var err error
		if keys, err = crypto.Generate(); err != nil {
			return nil, err
		}
		if card, err = crypto.NewCard(o.Agency, o.Name, o.Now, keys); err != nil {
			return nil, err
		}
	} else if card == nil || card.Agency != o.Agency || !card.SigningKey.Equal(keys.Public()) || !slices.Equal(card.Recipients, keys.Recipients()) {
		return nil, fmt.Errorf("the card to adopt is not the card of these keys for %s", o.Agency)
	}
	created := []string{}
	cleanup := func() {
		for _, f := range created {
			os.Remove(f)
		}
	}
	idPath, sigPath := filepath.Join(home, IdentityFile), filepath.Join(home, SigningFile)
	if err := keys.WriteFiles(idPath, sigPath, o.Agency, o.Passphrase); err != nil {
		return nil, err
	}
	created = append(created, idPath, sigPath)
	cardPath := filepath.Join(home, CardFile)
	if err := writeFileExcl(cardPath, card.Marshal(), 0o644); err != nil {
		cleanup()
		return nil, err
	}
	created = append(created, cardPath)
	st, err := store.Create(filepath.Join(home, StoreFile), o.Agency,
		store.WithMACKey(func() ([]byte, error) { return keys.StoreKey(o.Agency) }))
	if err != nil {
		cleanup()
		return nil, err
	}
	err = st.Update(func(tx *store.Tx) error {
		return tx.SetOwnCard(store.OwnCard{Generation: 1, Fingerprint: card.Fingerprint(), Card: card.Marshal(), Status: "current"})
	})
	if err != nil {
		st.Close()
		cleanup()
		os.Remove(filepath.Join(home, StoreFile))
		return nil, err
	}
	return &Office{Home: home, Card: card, Store: st, keys: keys, gens: map[int]*crypto.Keys{1: keys}, Now: time.Now}, nil
}

// Open opens the office in home, whose key files must not be
// passphrase-protected (see OpenWith).
func Open(home string) (*Office, error) { return OpenWith(home, nil) }

// OpenWith opens the office in home; passphrase (nil: none) is asked for
// when a key file is passphrase-protected: when the secret keys are first
// needed, and when the store is opened if it must be sealed under the
// office's key (the upgrade to store layout 4).
func OpenWith(home string, passphrase func() (string, error)) (*Office, error) {
	data, err := ReadLimited(filepath.Join(home, CardFile), crypto.MaxCardSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s; run valise init --agency ID first (or pass --home)", ErrNoHome, home, CardFile)
		}
		return nil, err
	}
	card, err := crypto.ParseCard(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(home, CardFile), err)
	}
	o := &Office{Home: home, Card: card, Passphrase: passphrase, Now: time.Now}
	st, err := store.Open(filepath.Join(home, StoreFile), store.WithMACKey(o.StoreKey))
	if err != nil {
		return nil, err
	}
	if st.Agency() != card.Agency {
		st.Close()
		return nil, fmt.Errorf("store belongs to %s but the card to %s", st.Agency(), card.Agency)
	}
	o.Store = st
	// What a killed command left in the home goes now: it is plaintext.
	o.CleanTemp()
	return o, nil
}

// Close closes the store.
func (o *Office) Close() error { return o.Store.Close() }

// Agency returns the office's agency id.
func (o *Office) Agency() string { return o.Card.Agency }

// Keys loads the current generation's secret keys, asking for the
// passphrase when needed, and checks that they match the card. Its age
// identities include every earlier generation's, so that bundles encrypted
// to a key being retired still open.
func (o *Office) Keys() (*crypto.Keys, error) {
	if o.keys != nil {
		return o.keys, nil
	}
	gens, err := o.Store.OwnCards()
	if err != nil {
		return nil, err
	}
	cur := 1
	for _, g := range gens {
		if g.Status == "current" {
			cur = g.Generation
		}
	}
	cached, err := o.loadGeneration(cur)
	if err != nil {
		return nil, err
	}
	k := *cached
	k.Identities = append([]age.Identity(nil), cached.Identities...)
	if !k.Public().Equal(o.Card.SigningKey) {
		return nil, fmt.Errorf("the signing key in %s does not match the card", o.Home)
	}
	for _, g := range gens {
		if g.Generation == cur {
			continue
		}
		old, err := o.loadGeneration(g.Generation)
		if err != nil {
			return nil, err
		}
		k.Identities = append(k.Identities, old.Hybrid, old.X25519)
	}
	o.keys = &k
	return &k, nil
}

// AmbiguousError: a bare record id names records of several origins.
type AmbiguousError struct {
	ID      string
	Origins []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("record %s is held from %d origins (%s): name one as ID@ORIGIN", schema.Printable(e.ID), len(e.Origins), strings.Join(e.Origins, ", "))
}

// Lookup finds the record a reference names: ID@ORIGIN, or a bare ID when
// the office holds records of one origin only under it. It fails with
// store.ErrNotFound or an *AmbiguousError.
func (o *Office) Lookup(ref string) (schema.Key, error) {
	k, err := schema.ParseRef(ref)
	if err != nil {
		return schema.Key{}, err
	}
	if k.Origin != "" {
		return k, nil
	}
	found, err := o.Store.Find(k.ID)
	if err != nil {
		return schema.Key{}, err
	}
	switch len(found) {
	case 0:
		return schema.Key{}, fmt.Errorf("record %s: %w", schema.Printable(k.ID), store.ErrNotFound)
	case 1:
		return found[0], nil
	}
	e := &AmbiguousError{ID: k.ID}
	for _, f := range found {
		e.Origins = append(e.Origins, f.Origin)
	}
	return schema.Key{}, e
}

// SetCard makes c this office's card (after a key rotation): the secret
// keys are loaded again when next needed.
func (o *Office) SetCard(c *crypto.Card) { o.Card, o.keys = c, nil }

// CachedPassphrase returns the passphrase of the key files, asking for it
// once; crypto.ErrPassphrase when there is no way to ask.
func (o *Office) CachedPassphrase() (string, error) {
	o.cachePassphrase()
	if o.cachedPass == nil {
		return "", crypto.ErrPassphrase
	}
	return o.cachedPass()
}

// KeyFiles returns the identity and signing key files of a generation.
func (o *Office) KeyFiles(gen int) (identity, signing string) {
	if gen <= 1 {
		return filepath.Join(o.Home, IdentityFile), filepath.Join(o.Home, SigningFile)
	}
	return filepath.Join(o.Home, fmt.Sprintf("identity.%d.txt", gen)), filepath.Join(o.Home, fmt.Sprintf("signing.%d.key", gen))
}

func (o *Office) loadGeneration(gen int) (*crypto.Keys, error) {
	o.gensMu.Lock()
	defer o.gensMu.Unlock()
	if k, ok := o.gens[gen]; ok {
		return k, nil
	}
	o.cachePassphrase()
	id, sig := o.KeyFiles(gen)
	k, err := crypto.Load(id, sig, o.cachedPass)
	if err != nil {
		return nil, err
	}
	if o.gens == nil {
		o.gens = map[int]*crypto.Keys{}
	}
	o.gens[gen] = k
	return k, nil
}

// StoreKey returns the key that seals the store's trust tables and
// records (docs/STORE.md): derived from the first generation's signing
// key, so that it outlives key rotations and is as protected as the key
// files (it asks for the passphrase when they are protected).
func (o *Office) StoreKey() ([]byte, error) {
	k, err := o.loadGeneration(1)
	if err != nil {
		return nil, err
	}
	return k.StoreKey(o.Agency())
}

// cachePassphrase sets cachedPass, which asks Passphrase once.
func (o *Office) cachePassphrase() {
	if o.cachedPass == nil && o.Passphrase != nil {
		ask := o.Passphrase
		var p *string
		o.cachedPass = func() (string, error) {
			if p != nil {
				return *p, nil
			}
			v, err := ask()
			if err == nil {
				p = &v
			}
			return v, err
		}
	}
}

// Keyring returns the peers' cards as a keyring, this office's own cards
// included: trusted and retiring cards are accepted as signers, revoked
// and retired ones refused (saying since when and why), pending ones
// (announced by a revocation, not yet confirmed) refused as such. Every
// row it reads is checked against its MAC (store.ErrTampered).
func (o *Office) Keyring() (*crypto.Keyring, error) {
	kr := crypto.NewKeyring()
	own, err := o.Store.OwnCards()
	if err != nil {
		return nil, err
	}
	for _, g := range own {
		c, err := crypto.ParseCard(g.Card)
		if err != nil {
			return nil, fmt.Errorf("store holds a bad card of this office: %w", err)
		}
		switch g.Status {
		case "retiring":
			kr.Accept(c)
		case "revoked":
			kr.Revoke(g.Fingerprint, time.Time{})
		}
	}
	kr.Add(o.Card)
	peers, err := o.Store.Peers()
	if err != nil {
		return nil, err
	}
	for _, p := range peers {
		c, err := crypto.ParseCard(p.Card)
		if err != nil {
			return nil, fmt.Errorf("keyring holds a bad card for %s: %w", p.Agency, err)
		}
		switch p.Status {
		case store.Trusted:
			kr.Add(c)
		case store.Retiring:
			kr.Accept(c)
		case store.Retired:
			// Known, so that a revocation it signs of itself can be
			// checked (exchange.Import), and refused.
			kr.Accept(c)
			kr.Refuse(p.Fingerprint, crypto.Refusal{State: crypto.StateRetired})
		case store.Revoked:
			since, _ := crypto.ParseTime(p.RevokedAt)
			kr.Refuse(p.Fingerprint, crypto.Refusal{State: crypto.StateRevoked, Since: since, By: p.RevokedBy})
		case store.Pending:
			kr.Pend(c)
		}
	}
	return kr, nil
}

// SigningKeyFor loads the signing key of the generation whose card has
// fingerprint fpr.
func (o *Office) SigningKeyFor(fpr string) (*crypto.Keys, error) {
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

// ReadLimited reads a whole file, refusing one larger than max bytes
// without reading more than max+1 of it.
func ReadLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// ReadCard reads and verifies a card file.
func ReadCard(path string) (*crypto.Card, error) {
	data, err := ReadLimited(path, crypto.MaxCardSize)
	if err != nil {
		return nil, err
	}
	c, err := crypto.ParseCard(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadCardBytes reads a card file's bytes, bounded.
func ReadCardBytes(path string) ([]byte, error) { return ReadLimited(path, crypto.MaxCardSize) }

func writeFileExcl(path string, data []byte, mode os.FileMode) error {
	return publish.WriteFile(path, data, publish.Options{Mode: mode})
}

// ReplaceFile writes data to path atomically (temporary file, fsync,
// rename). Only for public files: secret files are never overwritten.
func ReplaceFile(path string, data []byte, mode os.FileMode) error {
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

// syncDir makes a directory's entries durable (a file created or renamed
// in it), where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
