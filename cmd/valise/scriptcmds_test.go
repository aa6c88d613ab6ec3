package main

import (
	"bytes"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"

	"valise/bundle"
	"valise/internal/testenv"
	"valise/office"
	"valise/proof"
	"valise/schema"
	"valise/store"
)

// scriptCmds are helper commands for the CLI scripts.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// forge HOME TO RECORDS OUT: play a modified peer. Write bundle OUT
	// from HOME's office to TO, signed with HOME's key, holding the
	// records of the JSON lines file RECORDS exactly as they are there
	// (envelope and version included, put in key order): none of pack's
	// rules apply, so a script can see what the receiver makes of a
	// bundle that breaks them.
	"forge": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 4 {
			ts.Fatalf("usage: forge HOME TO RECORDS OUT")
		}
		ts.Check(forgeBundle(ts.MkAbs(args[0]), args[1], ts.MkAbs(args[2]), ts.MkAbs(args[3])))
	},
	// mkfifo PATH: make a named pipe.
	"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: mkfifo PATH")
		}
		ts.Check(mkfifo(ts.MkAbs(args[0])))
	},
	// fpr CARD VAR: set $VAR to the fingerprint of the card file.
	"fpr": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: fpr CARD VAR")
		}
		c, err := office.ReadCard(ts.MkAbs(args[0]))
		ts.Check(err)
		ts.Setenv(args[1], c.Fingerprint())
	},
	// flipbit FILE BIT: flip one bit of a file in place.
	"flipbit": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: flipbit FILE BIT")
		}
		p := ts.MkAbs(args[0])
		data, err := os.ReadFile(p)
		ts.Check(err)
		bit, err := strconv.Atoi(args[1])
		ts.Check(err)
		if bit < 0 {
			bit += len(data) * 8
		}
		data[bit/8] ^= 1 << (bit % 8)
		ts.Check(os.WriteFile(p, data, 0o644))
	},
	// truncate FILE N: cut a file to N bytes (negative: drop -N bytes from the end).
	"truncate": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: truncate FILE N")
		}
		p := ts.MkAbs(args[0])
		st, err := os.Stat(p)
		ts.Check(err)
		n, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		if n < 0 {
			n += st.Size()
		}
		ts.Check(os.Truncate(p, n))
	},
	// appendto FILE TEXT: append bytes to a file.
	"appendto": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: appendto FILE TEXT")
		}
		f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY, 0)
		ts.Check(err)
		_, err = f.WriteString(args[1])
		ts.Check(err)
		ts.Check(f.Close())
	},
	// snapshot HOME FILE: write a digest of the store's records, versions
	// and open conflicts to FILE; equal digests mean "store unchanged".
	"snapshot": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: snapshot HOME FILE")
		}
		st, err := store.Open(filepath.Join(ts.MkAbs(args[0]), office.StoreFile))
		ts.Check(err)
		defer st.Close()
		d, err := st.Snapshot()
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(d+"\n"), 0o644))
	},
	// reseal HOME: seal every row of HOME's store as it stands, after a
	// hand edit (sqlexec), as modified software holding the office's key
	// could: the script then plays such an office, whose pack sends what
	// the edit made.
	"reseal": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: reseal HOME")
		}
		o, err := office.Open(ts.MkAbs(args[0]))
		ts.Check(err)
		defer o.Close()
		ts.Check(o.Store.ResealUnsafe())
	},
	// mode FILE PERM: assert the file's permission bits, e.g. mode key 0600.
	"mode": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: mode FILE PERM")
		}
		st, err := os.Stat(ts.MkAbs(args[0]))
		ts.Check(err)
		want, err := strconv.ParseUint(args[1], 8, 32)
		ts.Check(err)
		got := st.Mode().Perm()
		if (uint64(got) == want) == neg {
			ts.Fatalf("%s has mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	},
	// filesize FILE VAR: set $VAR to the size of FILE in bytes.
	"filesize": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: filesize FILE VAR")
		}
		st, err := os.Stat(ts.MkAbs(args[0]))
		ts.Check(err)
		ts.Setenv(args[1], fmt.Sprint(st.Size()))
	},
	// exitcode N PROG ARGS...: run PROG (normally valise) and assert that
	// it exits with code N; its output becomes stdout and stderr for the
	// following stdout/stderr assertions. PROG runs as a subprocess in the
	// script's directory, like exec, but in a new session, so that it has
	// no controlling terminal whoever runs the tests: a command that would
	// ask for a passphrase on the terminal fails instead of waiting. It gets
	// the script's variables listed in exitcodeEnv; an empty one is left
	// out, which is how a script unsets a variable for exitcode (env
	// VALISE_PASSPHRASE=).
	"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg {
			ts.Fatalf("unsupported: ! exitcode (name the code you expect)")
		}
		if len(args) < 2 {
			ts.Fatalf("usage: exitcode N PROG ARGS...")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		prog, err := lookPath(ts, args[1])
		ts.Check(err)
		cmd := exec.Command(prog, args[2:]...)
		cmd.Dir = ts.MkAbs(".")
		cmd.Env = []string{"PWD=" + cmd.Dir}
		for _, k := range exitcodeEnv {
			if v := ts.Getenv(k); v != "" {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		newSession(cmd)
		err = cmd.Run()
		got := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			got = ee.ExitCode()
		case err != nil:
			ts.Fatalf("running %s: %v", args[1], err)
		}
		ts.Stdout().Write(stdout.Bytes())
		ts.Stderr().Write(stderr.Bytes())
		if got != want {
			ts.Fatalf("%s exited with code %d, want %d", args[1], got, want)
		}
	},
	// setfield FILE KEY VALUE: replace the value of the one line
	// "KEY: ..." of a card-like file, e.g. setfield x.card signing-key AAAA…
	"setfield": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: setfield FILE KEY VALUE")
		}
		p := ts.MkAbs(args[0])
		data, err := os.ReadFile(p)
		ts.Check(err)
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(args[1]) + `: .*$`)
		if n := len(re.FindAllIndex(data, -1)); n != 1 {
			ts.Fatalf("%s has %d %q lines, want 1", args[0], n, args[1])
		}
		data = re.ReplaceAllLiteral(data, []byte(args[1]+": "+args[2]))
		ts.Check(os.WriteFile(p, data, 0o644))
	},
	// subst FILE OLD NEW: replace every OLD in FILE by NEW; both may use Go
	// escapes (\n, \xff, \u202e), so a script can write bytes a txtar file
	// should not hold. It fails when OLD does not occur.
	"subst": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: subst FILE OLD NEW")
		}
		p := ts.MkAbs(args[0])
		data, err := os.ReadFile(p)
		ts.Check(err)
		old, err := unescape(args[1])
		ts.Check(err)
		repl, err := unescape(args[2])
		ts.Check(err)
		if !bytes.Contains(data, []byte(old)) {
			ts.Fatalf("%s does not contain %q", args[0], old)
		}
		ts.Check(os.WriteFile(p, bytes.ReplaceAll(data, []byte(old), []byte(repl)), 0o644))
	},
	// jsonget FILE PATH VAR: set $VAR to the value at PATH (dot-separated
	// keys and array indexes, e.g. 0.payload_offset) of the JSON in FILE.
	// Strings are set as they are, anything else in its JSON form.
	"jsonget": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 3 {
			ts.Fatalf("usage: jsonget FILE PATH VAR")
		}
		data, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		ts.Check(dec.Decode(&v))
		for _, k := range strings.Split(args[1], ".") {
			switch x := v.(type) {
			case map[string]any:
				val, ok := x[k]
				if !ok {
					ts.Fatalf("%s: no key %q at %s", args[0], k, args[1])
				}
				v = val
			case []any:
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(x) {
					ts.Fatalf("%s: no index %q at %s", args[0], k, args[1])
				}
				v = x[i]
			default:
				ts.Fatalf("%s: %s: %q goes into a %T", args[0], args[1], k, v)
			}
		}
		if s, ok := v.(string); ok {
			ts.Setenv(args[2], s)
			return
		}
		b, err := json.Marshal(v)
		ts.Check(err)
		ts.Setenv(args[2], string(b))
	},
	// extract FILE OFFSET LENGTH OUT: copy LENGTH bytes of FILE from OFFSET
	// into OUT; it fails when FILE is shorter.
	"extract": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 4 {
			ts.Fatalf("usage: extract FILE OFFSET LENGTH OUT")
		}
		data, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		off, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		n, err := strconv.ParseInt(args[2], 10, 64)
		ts.Check(err)
		if off < 0 || n < 0 || off+n > int64(len(data)) {
			ts.Fatalf("%s has %d bytes, cannot extract %d at %d", args[0], len(data), n, off)
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[3]), data[off:off+n], 0o644))
	},
	// unzstd IN OUT: decompress a zstd file (for machines without the zstd
	// command).
	"unzstd": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: unzstd IN OUT")
		}
		f, err := os.Open(ts.MkAbs(args[0]))
		ts.Check(err)
		defer f.Close()
		zr, err := zstd.NewReader(f)
		ts.Check(err)
		defer zr.Close()
		out, err := io.ReadAll(io.LimitReader(zr, 64<<20))
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
	},
	// require PROG...: in CI (VALISE_CI=1), fail unless every PROG is on
	// the script's PATH: CI installs the tools the interoperability
	// scripts run, and a script that skipped there would pass without
	// them. Elsewhere it does nothing, and the script's own
	// [!exec:PROG] skip says why it stops.
	"require": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) == 0 {
			ts.Fatalf("usage: require PROG...")
		}
		if !testenv.CI() {
			return
		}
		for _, prog := range args {
			if _, err := lookPath(ts, prog); err != nil {
				ts.Fatalf("%v (%s=1: .ci/run installs it, so this is a failure, not a skip)", err, testenv.CIEnv)
			}
		}
	},
	// sqlexec DB SQL: run SQL statements on the SQLite file DB through the
	// driver valise links, as someone with the file and any SQLite tool
	// could. It fails when no row changed: an edit that misses proves
	// nothing.
	"sqlexec": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: sqlexec DB SQL")
		}
		p := ts.MkAbs(args[0])
		if _, err := os.Stat(p); err != nil {
			ts.Fatalf("%v", err) // the driver would create an empty database
		}
		db, err := sql.Open("sqlite", "file:"+p)
		ts.Check(err)
		defer db.Close()
		res, err := db.Exec(args[1])
		ts.Check(err)
		n, err := res.RowsAffected()
		ts.Check(err)
		if n == 0 {
			ts.Fatalf("sqlexec: no row changed")
		}
		ts.Logf("%d rows changed", n)
	},
	// glob PATTERN...: succeed when each pattern matches a file; with !,
	// when none matches any.
	"glob": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) == 0 {
			ts.Fatalf("usage: glob PATTERN...")
		}
		for _, pat := range args {
			m, err := filepath.Glob(ts.MkAbs(pat))
			ts.Check(err)
			if neg && len(m) > 0 {
				ts.Fatalf("%s matches %v", pat, m)
			}
			if !neg && len(m) == 0 {
				ts.Fatalf("%s matches no file", pat)
			}
		}
	},
	// agepq: when the age on the script's PATH is 1.3 or later (it knows
	// the ML-KEM-768+X25519 hybrid identities valise uses; Debian's 1.1
	// does not), put it on PATH as age-pq, so that a script can say
	// [!exec:age-pq] skip. It never fails.
	"agepq": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 0 {
			ts.Fatalf("usage: agepq")
		}
		age, err := lookPath(ts, "age")
		if err != nil {
			return
		}
		out, _ := exec.Command(age, "--version").Output()
		m := regexp.MustCompile(`^v?(\d+)\.(\d+)`).FindStringSubmatch(strings.TrimSpace(string(out)))
		if m == nil {
			return
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major < 1 || major == 1 && minor < 3 {
			ts.Logf("age on PATH is %s: too old for post-quantum identities", strings.TrimSpace(string(out)))
			return
		}
		dir := ts.MkAbs(".agepq")
		ts.Check(os.MkdirAll(dir, 0o755))
		ts.Check(os.Symlink(age, filepath.Join(dir, "age-pq")))
		ts.Setenv("PATH", dir+string(filepath.ListSeparator)+ts.Getenv("PATH"))
	},
}

// exitcodeEnv are the variables exitcode passes on: those testscript sets
// up and those valise reads.
var exitcodeEnv = []string{"WORK", "PATH", "HOME", "TMPDIR", "GOTRACEBACK", "GOCOVERDIR", "GORACE", "VALISE_HOME", "VALISE_PASSPHRASE"}

// lookPath finds prog on the script's PATH.
func lookPath(ts *testscript.TestScript, prog string) (string, error) {
	if strings.Contains(prog, "/") {
		return ts.MkAbs(prog), nil
	}
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on the script's PATH", prog)
}

// unescape interprets Go escapes in s; a double quote stands for itself.
func unescape(s string) (string, error) {
	u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
	if err != nil {
		return "", fmt.Errorf("bad escape in %q: %v", s, err)
	}
	return u, nil
}

// forgeBundle is the forge script command.
func forgeBundle(home, to, records, out string) error {
	o, err := office.Open(home)
	if err != nil {
		return err
	}
	defer o.Close()
	keys, err := o.Keys()
	if err != nil {
		return err
	}
	kr, err := o.Keyring()
	if err != nil {
		return err
	}
	card, ok := kr.Card(to)
	if !ok {
		return fmt.Errorf("%s does not trust %s", home, to)
	}
	data, err := os.ReadFile(records)
	if err != nil {
		return err
	}
	var recs []*schema.Record
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		r, err := schema.Decode(line)
		if err != nil {
			return fmt.Errorf("%s: %w", records, err)
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *schema.Record) int { return a.Key().Compare(b.Key()) })
	seq, err := o.Store.NextSequence(to)
	if err != nil {
		return err
	}
	h := &bundle.Header{Created: time.Now().UTC().Truncate(time.Second), Sender: o.Agency(), SenderKey: o.Card.Fingerprint(),
		Schema: schema.ModelVersion, Compression: bundle.Compression, Encryption: bundle.EncryptionHybrid,
		Recipients: []bundle.Recipient{{Agency: to, Fingerprint: card.Fingerprint(), Sequence: seq}}}
	if h.ID, err = uuid.NewV7(); err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := bundle.NewWriter(f, h, keys.Signing, card.AgeRecipients(true))
	if err != nil {
		return err
	}
	// The sender's own changes get the leaves and the signed tree a real
	// pack gives them: the bundle is the forger's word, provably.
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	if err := writeOwnTree(w, h, keys.Signing, recs); err != nil {
		return err
	}
	return w.Close()
}

// writeOwnTree writes the tree section a real pack writes for the
// sender's own changes in recs (docs/FORMAT.md §3.4).
func writeOwnTree(w *bundle.Writer, h *bundle.Header, key ed25519.PrivateKey, recs []*schema.Record) error {
	var own proof.Builder
	for _, r := range recs {
		if r.Version.Vector[h.Sender] > 0 {
			salt := proof.LeafSalt(w.TreeSecret, own.Len())
			own.Add(proof.MakeLeaf(r, h.Sender, salt).Hash(salt))
		}
	}
	if own.Len() == 0 {
		return nil
	}
	th := &proof.Head{Author: h.Sender, Key: h.SenderKey, ID: h.ID.String(), Count: own.Len(), Root: own.Root()}
	th.Sign(key)
	return w.WriteTree("tree", proof.MarshalHead(th))
}
