package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"valise/crypto"
	"valise/identity"
	"valise/internal/publish"
	"valise/office"
	"valise/schema"
	"valise/store"
)

type initOptions struct {
	agency     string
	name       string
	passphrase bool
}

func (o *initOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.agency, "agency", "", "agency id of this office, [A-Z0-9-]{2,32} (required)")
	fs.StringVar(&o.name, "name", "", "display name on the card (default: the agency id)")
	fs.BoolVar(&o.passphrase, "passphrase", false, "encrypt the secret key files with a passphrase ($VALISE_PASSPHRASE or asked on the terminal)")
}

func init() {
	o := &initOptions{}
	register(&command{name: "init", args: "--agency ID [--name NAME] [--passphrase]", short: "create this office's identity, card and store", noHome: true, maxArgs: 0,
		example: "  valise init --agency KZ-NCB --name \"Kazakhstan NCB\" --passphrase",
		opts:    o, run: func(e *env, args []string) error {
			if o.agency == "" {
				return usagef("--agency is required")
			}
			if err := schema.CheckAgency(o.agency); err != nil {
				return usagef("%v", err)
			}
			pass := ""
			if o.passphrase {
				var err error
				if pass, err = newPassphrase(); err != nil {
					return err
				}
			}
			off, err := office.Init(e.home, office.InitOptions{Agency: o.agency, Name: o.name, Passphrase: pass})
			if err != nil {
				return err
			}
			defer off.Close()
			if e.json {
				return printDoc(e, map[string]any{"agency": off.Agency(), "home": e.home,
					"fingerprint": off.Card.Fingerprint(), "recipients": off.Card.Recipients, "passphrase": o.passphrase})
			}
			fmt.Fprintf(e.stdout, "created office %s in %s\n", off.Agency(), e.home)
			fmt.Fprintf(e.stdout, "  signing key   %s (Ed25519, mode 0600%s)\n", filepath.Join(e.home, office.SigningFile), encNote(o.passphrase))
			fmt.Fprintf(e.stdout, "  age identity  %s (ML-KEM-768+X25519 and X25519, mode 0600%s)\n", filepath.Join(e.home, office.IdentityFile), encNote(o.passphrase))
			fmt.Fprintf(e.stdout, "  card          %s\n", filepath.Join(e.home, office.CardFile))
			fmt.Fprintf(e.stdout, "  store         %s\n", filepath.Join(e.home, office.StoreFile))
			fmt.Fprintf(e.stdout, "fingerprint: %s\n", off.Card.Fingerprint())
			return nil
		}})
}

func encNote(p bool) string {
	if p {
		return ", passphrase-encrypted"
	}
	return ""
}

type cardOptions struct{ out string }

func (o *cardOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.out, "output", "o", "", "write the card to FILE (default: standard output)")
}

func init() {
	o := &cardOptions{}
	register(&command{name: "card", args: "[-o FILE]", short: "write this office's public card and print its fingerprint", maxArgs: 0,
		example: "  valise card -o kz-ncb.card\n  # read the fingerprint to the peer over the phone", opts: o,
		run: func(e *env, args []string) error {
			c := e.office.Card
			if o.out != "" {
				err := publish.WriteFile(o.out, c.Marshal(), publish.Options{Mode: 0o644, WorkDir: e.office.Home})
				if errors.Is(err, os.ErrExist) {
					return &fs.PathError{Op: "create", Path: o.out, Err: errNoOverwrite}
				}
				if err != nil {
					return err
				}
			}
			if e.json {
				return printDoc(e, map[string]any{"agency": c.Agency, "name": c.Name, "fingerprint": c.Fingerprint(),
					"file": o.out, "recipients": c.Recipients})
			}
			if o.out == "" {
				e.stdout.Write(c.Marshal())
				fmt.Fprintf(e.stderr, "fingerprint: %s\n", c.Fingerprint())
				return nil
			}
			fmt.Fprintf(e.stdout, "wrote card of %s to %s\nfingerprint: %s\n", c.Agency, o.out, c.Fingerprint())
			return nil
		}})
}

type peerOptions struct{ fingerprint string }

func (o *peerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.fingerprint, "fingerprint", "", "the fingerprint the peer read out to you (peer add)")
}

func init() {
	o := &peerOptions{}
	register(&command{name: "peer", args: "add CARD --fingerprint FPR | confirm ID --fingerprint FPR | list | revoke ID",
		short: "trust, list and revoke peer offices' cards", minArgs: 1, maxArgs: 2, opts: o,
		example: "  valise peer add caricc.card --fingerprint 3F2A-9C1B-77D0-12AB-5E6F-0A1B-2C3D-4E5F\n  valise peer list\n  valise peer revoke KG-NCB\n  valise peer confirm KG-NCB --fingerprint 9D1E-…   (a new card announced by a revocation)",
		run: func(e *env, args []string) error {
			switch args[0] {
			case "add":
				if len(args) != 2 {
					return usagef("usage: valise peer add CARD --fingerprint FPR")
				}
				data, err := office.ReadCardBytes(args[1])
				if err != nil {
					return err
				}
				if o.fingerprint == "" {
					c, perr := crypto.ParseCard(data)
					hint := ""
					if perr == nil {
						hint = fmt.Sprintf("\nthis card (%s) has fingerprint %s: ", c.Agency, c.Fingerprint())
					}
					return usagef("--fingerprint is required: compare the card's fingerprint with the one its office reads out to you over the phone or on paper, then pass it with --fingerprint%sa match is what makes the card trustworthy", hint)
				}
				if crypto.NormalizeFingerprint(o.fingerprint) == "" {
					return usagef("--fingerprint %q is not a fingerprint: want 32 hex digits, as valise card prints them (dashes and spaces optional)", schema.Printable(o.fingerprint))
				}
				c, err := identity.AddPeer(e.office, data, o.fingerprint)
				if err != nil {
					return err
				}
				if e.json {
					return printDoc(e, map[string]any{"agency": c.Agency, "fingerprint": c.Fingerprint(), "status": "trusted"})
				}
				fmt.Fprintf(e.stdout, "trusted %s (%s), fingerprint %s\n", c.Agency, c.Name, c.Fingerprint())
				return nil
			case "list":
				peers, err := e.office.Store.Peers()
				if err != nil {
					return err
				}
				if e.json {
					type p struct {
						Agency       string `json:"agency"`
						Fingerprint  string `json:"fingerprint"`
						Status       string `json:"status"`
						Added        string `json:"added"`
						Revoked      string `json:"revoked"`
						IntroducedBy string `json:"introduced_by"`
						RevokedWith  string `json:"revoked_with"`
						Confirmed    bool   `json:"confirmed"`
					}
					out := []p{}
					for _, x := range peers {
						out = append(out, p{x.Agency, x.Fingerprint, x.Status, x.AddedAt, x.RevokedAt, x.IntroducedBy, x.RevokedBy, x.IntroducedBy == ""})
					}
					return printDoc(e, map[string]any{"peers": out})
				}
				if len(peers) == 0 {
					fmt.Fprintln(e.stdout, "no peers yet: valise peer add CARD --fingerprint FPR")
				}
				for _, p := range peers {
					fmt.Fprintf(e.stdout, "%-12s %-8s %s  added %s", p.Agency, p.Status, p.Fingerprint, p.AddedAt)
					switch {
					case p.Status == store.Pending:
						fmt.Fprintf(e.stdout, ", announced by the revocation of %s: confirm its fingerprint by phone (valise peer confirm %s --fingerprint FPR)", p.IntroducedBy, p.Agency)
					case p.IntroducedBy != "" && p.Status != store.Revoked:
						fmt.Fprintf(e.stdout, ", introduced by a rotation signed by %s (fingerprint not compared)", p.IntroducedBy)
					}
					if p.RevokedAt != "" {
						fmt.Fprintf(e.stdout, ", revoked %s", p.RevokedAt)
					}
					if p.RevokedBy != "" {
						fmt.Fprintf(e.stdout, " with %s, which introduced it", p.RevokedBy)
					}
					fmt.Fprintln(e.stdout)
				}
				return nil
			case "confirm":
				if len(args) != 2 || o.fingerprint == "" {
					return usagef("usage: valise peer confirm ID --fingerprint FPR (the fingerprint the office reads out to you)")
				}
				if crypto.NormalizeFingerprint(o.fingerprint) == "" {
					return usagef("--fingerprint %q is not a fingerprint: want 32 hex digits", schema.Printable(o.fingerprint))
				}
				c, notes, err := identity.ConfirmPeer(e.office, args[1], o.fingerprint)
				if err != nil {
					return err
				}
				if e.json {
					return printDoc(e, map[string]any{"agency": c.Agency, "fingerprint": c.Fingerprint(), "status": store.Trusted, "notes": nonNil(notes)})
				}
				fmt.Fprintf(e.stdout, "trusted the new card of %s, fingerprint %s\n", c.Agency, c.Fingerprint())
				for _, n := range notes {
					fmt.Fprintf(e.stdout, "  %s\n", n)
				}
				return nil
			case "revoke":
				if len(args) != 2 {
					return usagef("usage: valise peer revoke ID")
				}
				if err := identity.RevokePeer(e.office, args[1]); err != nil {
					return err
				}
				if e.json {
					return printDoc(e, map[string]any{"agency": args[1], "status": "revoked"})
				}
				fmt.Fprintf(e.stdout, "revoked %s: its bundles are refused from now on\n", args[1])
				return nil
			}
			return usagef("unknown peer subcommand %q (add, confirm, list, revoke)", schema.Printable(args[0]))
		}})
}

type keyOptions struct{ out string }

func (o *keyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.out, "output", "o", "", "key statements: write them to FILE (default: standard output)")
}

func init() {
	o := &keyOptions{}
	register(&command{name: "key", args: "rotate | revoke | statements [-o FILE]",
		short: "replace this office's keys (peers learn of it from the next bundle); write its signed key statements for auditors", minArgs: 1, maxArgs: 1, opts: o,
		example: "  valise key rotate    # planned change: peers switch over by themselves\n  valise key revoke    # the key is compromised: peers refuse it at once and confirm the new card by phone\n  valise key statements -o kz-ncb.statements   # for auditors: valise verify --card OLD.card --statement kz-ncb.statements",
		run: func(e *env, args []string) error {
			kind := args[0]
			if kind == "statements" {
				return writeStatements(e, o.out)
			}
			if kind != crypto.Rotate && kind != crypto.Revoke {
				return usagef("usage: valise key rotate | revoke | statements [-o FILE]")
			}
			ch, err := identity.RotateKey(e.office, kind)
			if err != nil {
				return err
			}
			if e.json {
				return printDoc(e, map[string]any{"kind": kind, "old_fingerprint": ch.Old.Fingerprint(), "new_fingerprint": ch.New.Fingerprint(), "generation": ch.Generation})
			}
			fmt.Fprintf(e.stdout, "new keys for %s (generation %d), fingerprint %s, replacing %s\n", ch.New.Agency, ch.Generation, ch.New.Fingerprint(), ch.Old.Fingerprint())
			if kind == crypto.Rotate {
				fmt.Fprintf(e.stdout, "the next bundle to each peer carries the rotation, signed by the old key; once a peer acknowledges it, bundles to it are signed by the new key\n")
			} else {
				fmt.Fprintf(e.stdout, "the next bundle to each peer carries only the revocation; peers refuse the old key at once, with every card it introduced, and must confirm the new fingerprint with you by phone:\n  valise peer confirm %s --fingerprint %s\n", ch.New.Agency, ch.New.Fingerprint())
				fmt.Fprintf(e.stdout, "give auditors the revocation too: valise key statements -o FILE\n")
			}
			return nil
		}})
}

// writeStatements writes this office's own key statements, oldest first,
// to path (never replacing a file) or standard output.
func writeStatements(e *env, path string) error {
	sts, err := e.office.Store.Statements()
	if err != nil {
		return err
	}
	var data []byte
	n := 0
	for _, st := range sts {
		if st.Own {
			data = append(data, st.Body...)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%s has made no key statement (valise key rotate, valise key revoke): %w", e.office.Agency(), store.ErrNotFound)
	}
	if path == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	// Public, like a card: FAT-safe, never over an existing file.
	err = publish.WriteFile(path, data, publish.Options{Mode: 0o644, WorkDir: e.office.Home})
	if errors.Is(err, os.ErrExist) {
		return &fs.PathError{Op: "create", Path: path, Err: errNoOverwrite}
	}
	if err != nil {
		return err
	}
	if e.json {
		return printDoc(e, map[string]any{"file": path, "statements": n})
	}
	fmt.Fprintf(e.stdout, "wrote %d key statements of %s to %s\n", n, e.office.Agency(), path)
	return nil
}
