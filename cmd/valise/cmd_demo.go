package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

type demoOptions struct{ keep bool }

func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory and print its path")
}

func init() {
	o := &demoOptions{}
	register(&command{name: "demo", args: "[--keep]", short: "a self-contained walk-through of an exchange, in a temporary directory",
		noHome: true, maxArgs: 0, opts: o, example: "  valise demo",
		run: func(e *env, args []string) error { return runDemo(e, o.keep) }})
}

const demoPeople = `id,name,alias,birthDate,nationality,passportNumber
kz-p-001,Nurlan Abenov,Нурлан Абенов;N. Abenov,1979-04-12,kz,N09812345
kz-p-002,Dilnoza Karimova,Дильноза Каримова,1985-11-30,uz,FA1234567
kz-p-003,Rustam Saidov,,1972,tj,
`

const demoLinks = `{"id":"kz-o-001","schema":"Organization","properties":{"name":["Steppe Transit LLP"],"country":["kz"],"notes":["freight forwarder used for heroin shipments along the northern route"]},"handling":{"tlp":"amber","code":"H1"}}
{"id":"kz-m-001","schema":"Membership","properties":{"member":["kz-p-001"],"organization":["kz-o-001"],"role":["director"]},"handling":{"tlp":"amber"}}
{"id":"kz-m-002","schema":"Membership","properties":{"member":["kz-p-002"],"organization":["kz-o-001"],"role":["accountant"]},"handling":{"tlp":"amber"}}
{"id":"kz-n-001","schema":"Note","properties":{"name":["Source report 2026-114"],"entity":["kz-p-003"]},"handling":{"tlp":"red","releasable_to":["KZ-NCB"]}}
`

// runDemo plays an exchange between two offices and an auditor with the
// real commands of this binary, printed as a story.
func runDemo(e *env, keep bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "valise-demo-")
	if err != nil {
		return err
	}
	if keep {
		if !e.json {
			fmt.Fprintf(e.stdout, "(working in %s)\n", dir)
		}
	} else {
		defer os.RemoveAll(dir)
	}
	// With --json the story is not told: the document lists each step,
	// its command, exit code and output.
	w := e.stdout
	type stepJSON struct {
		Args   []string `json:"args"`
		Exit   int      `json:"exit"`
		Output string   `json:"output"`
	}
	steps := []stepJSON{}
	if e.json {
		w = io.Discard
	}
	say := func(format string, args ...any) { fmt.Fprintf(w, "\n"+format+"\n", args...) }
	step := func(wantFail bool, env []string, args ...string) (string, error) {
		fmt.Fprintf(w, "  $ valise %s\n", strings.Join(args, " "))
		cmd := exec.Command(self, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		steps = append(steps, stepJSON{Args: args, Exit: code, Output: out.String()})
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
		if wantFail {
			if err == nil {
				return "", fmt.Errorf("demo: valise %s should have failed", strings.Join(args, " "))
			}
			fmt.Fprintf(w, "    (exit status %d, as it should)\n", cmd.ProcessState.ExitCode())
			return out.String(), nil
		}
		if err != nil {
			return "", fmt.Errorf("demo: valise %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), nil
	}
	run := func(args ...string) (string, error) { return step(false, nil, args...) }
	fpr := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if f, ok := strings.CutPrefix(l, "fingerprint: "); ok {
				return strings.TrimSpace(f)
			}
		}
		return ""
	}
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(demoPeople), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "network.jsonl"), []byte(demoLinks), 0o644); err != nil {
		return err
	}
	os.Mkdir(filepath.Join(dir, "usb"), 0o755)

	say("valise demo: the national police bureau of Kazakhstan (KZ-NCB) sends records about a\n" +
		"trafficking network to the regional drug-control centre (CARICC) on a USB stick.\n" +
		"An auditor checks the stick with nothing but KZ-NCB's public card.")

	say("1. Each office creates its identity once: an Ed25519 signing key, age identities\n   (post-quantum ML-KEM-768+X25519 and X25519), a public card and a store.")
	if _, err := run("init", "--home", "kz", "--agency", "KZ-NCB", "--name", "Kazakhstan NCB"); err != nil {
		return err
	}
	if _, err := run("init", "--home", "caricc", "--agency", "CARICC", "--name", "Central Asian Regional Information and Coordination Centre"); err != nil {
		return err
	}

	say("2. They swap cards by hand and read the fingerprints to each other over the phone.\n   A card is trusted only when the fingerprint matches.")
	out, err := run("card", "--home", "kz", "-o", "kz-ncb.card")
	if err != nil {
		return err
	}
	kzFpr := fpr(out)
	out, err = run("card", "--home", "caricc", "-o", "caricc.card")
	if err != nil {
		return err
	}
	caFpr := fpr(out)
	wrong := "0000" + caFpr[4:]
	if _, err := step(true, nil, "peer", "add", "--home", "kz", "caricc.card", "--fingerprint", wrong); err != nil {
		return err
	}
	if _, err := run("peer", "add", "--home", "kz", "caricc.card", "--fingerprint", caFpr); err != nil {
		return err
	}
	if _, err := run("peer", "add", "--home", "caricc", "kz-ncb.card", "--fingerprint", kzFpr); err != nil {
		return err
	}

	say("3. KZ-NCB loads its case data: people from a spreadsheet, the organisation and links\n   from JSON lines. Every record is validated against the schema.")
	if _, err := run("ingest", "--home", "kz", "--type", "Person", "people.csv"); err != nil {
		return err
	}
	if _, err := run("ingest", "--home", "kz", "network.jsonl"); err != nil {
		return err
	}

	say("4. KZ-NCB packs a bundle for CARICC. The source report is TLP:RED and releasable to\n   KZ-NCB only, so pack withholds it and says so.")
	if _, err := run("pack", "--home", "kz", "--to", "CARICC", "-o", "usb/kz-ncb-week48.valise"); err != nil {
		return err
	}

	say("5. At the border an auditor, who holds no key and no store, checks the stick.")
	if _, err := step(false, []string{"VALISE_HOME=" + filepath.Join(dir, "auditor")}, "verify", "--card", "kz-ncb.card", "usb/kz-ncb-week48.valise"); err != nil {
		return err
	}

	say("6. CARICC imports the stick: verify, decrypt, check the inner manifest, validate, merge,\n   all in one transaction.")
	if _, err := run("import", "--home", "caricc", "usb"); err != nil {
		return err
	}
	if _, err := run("show", "--home", "caricc", "kz-p-001"); err != nil {
		return err
	}

	say("7. The same stick delivered twice changes nothing.")
	if _, err := step(true, nil, "import", "--home", "caricc", "usb/kz-ncb-week48.valise"); err != nil {
		return err
	}

	say("8. A week later KZ-NCB learns Rustam Saidov's full birth date and passport. It ingests\n   the corrected spreadsheet and packs again: only what changed travels.")
	people2 := strings.Replace(demoPeople, "kz-p-003,Rustam Saidov,,1972,tj,", "kz-p-003,Rustam Saidov,,1972-08-19,tj,TJ4471102", 1)
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte(people2), 0o644); err != nil {
		return err
	}
	if _, err := run("ingest", "--home", "kz", "--type", "Person", "people.csv"); err != nil {
		return err
	}
	if _, err := run("pack", "--home", "kz", "--to", "CARICC", "-o", "usb/kz-ncb-week49.valise"); err != nil {
		return err
	}

	say("9. On the way someone alters one byte of the new bundle. The auditor and CARICC both\n   refuse it, naming the check that failed, and CARICC's store is untouched.")
	data, err := os.ReadFile(filepath.Join(dir, "usb", "kz-ncb-week49.valise"))
	if err != nil {
		return err
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(filepath.Join(dir, "tampered.valise"), data, 0o644); err != nil {
		return err
	}
	if _, err := step(true, []string{"VALISE_HOME=" + filepath.Join(dir, "auditor")}, "verify", "--card", "kz-ncb.card", "tampered.valise"); err != nil {
		return err
	}
	if _, err := step(true, nil, "import", "--home", "caricc", "tampered.valise"); err != nil {
		return err
	}

	say("10. The genuine bundle arrives and fast-forwards CARICC's copy; the history shows who\n    changed what, when, and from which bundle.")
	if _, err := run("import", "--home", "caricc", "usb/kz-ncb-week49.valise"); err != nil {
		return err
	}
	if _, err := run("show", "--home", "caricc", "--history", "kz-p-003"); err != nil {
		return err
	}
	say("11. Both offices work on the same person in the same week. KZ-NCB corrects Dilnoza\n    Karimova's birth date; CARICC, from its own source, records another one and adds\n    an alias. Their bundles cross on the road.")
	if _, err := run("edit", "--home", "kz", "kz-p-002", "--set", "birthDate=1985-11-03"); err != nil {
		return err
	}
	if _, err := run("edit", "--home", "caricc", "kz-p-002", "--set", "birthDate=1984-11-30", "--add", "alias=D. Karimova"); err != nil {
		return err
	}
	if _, err := run("pack", "--home", "kz", "--to", "CARICC", "-o", "usb/kz-ncb-week50.valise"); err != nil {
		return err
	}
	if _, err := run("pack", "--home", "caricc", "--to", "KZ-NCB", "-o", "usb/caricc-week50.valise"); err != nil {
		return err
	}

	say("12. Each imports the other's bundle. The alias merges by itself; the two birth dates\n    are a conflict, shown to a person instead of silently overwritten. Both offices\n    see the same conflict and, for now, the same value.")
	if _, err := run("import", "--home", "caricc", "usb/kz-ncb-week50.valise"); err != nil {
		return err
	}
	if _, err := run("import", "--home", "kz", "usb/caricc-week50.valise"); err != nil {
		return err
	}
	if _, err := run("conflicts", "--home", "caricc"); err != nil {
		return err
	}

	say("13. CARICC's analyst checks the passport scan, keeps KZ-NCB's date and resolves. The\n    resolution descends from both versions: at KZ-NCB it simply fast-forwards.")
	if _, err := run("resolve", "--home", "caricc", "kz-p-002", "--theirs"); err != nil {
		return err
	}
	if _, err := run("pack", "--home", "caricc", "--to", "KZ-NCB", "-o", "usb/caricc-week51.valise"); err != nil {
		return err
	}
	if _, err := run("import", "--home", "kz", "usb/caricc-week51.valise"); err != nil {
		return err
	}
	if _, err := run("conflicts", "--home", "kz"); err != nil {
		return err
	}
	if _, err := run("show", "--home", "kz", "kz-p-002"); err != nil {
		return err
	}

	say("14. The ledger and the audit log record every bundle, accepted or refused, and the\n    disclosure register which version of each record went to whom, in which bundle.")
	if _, err := run("log", "--home", "caricc"); err != nil {
		return err
	}
	if _, err := run("audit", "--home", "caricc"); err != nil {
		return err
	}
	if _, err := run("disclosures", "--home", "kz", "kz-p-002"); err != nil {
		return err
	}
	say("The exchange is complete: both offices hold the same records and no open conflict,\nand each can prove where every version came from.")
	if e.json {
		doc := map[string]any{"steps": steps, "ok": true, "dir": ""}
		if keep {
			doc["dir"] = dir
		}
		return printDoc(e, doc)
	}
	return nil
}
