package main

// Crash safety: valise import and pack killed with SIGKILL at random
// moments. After each kill the store passes SQLite's integrity check and
// holds exactly the state before or after the command, and running the
// command again completes it once.
//
// go test ./cmd/valise -run Killed -crash.runs=1000 runs more.

import (
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"valise/bundle"
	"valise/internal/testenv"
	"valise/office"
	"valise/store"
)

var crashRuns = flag.Int("crash.runs", 50, "runs of each SIGKILL test (TestImportKilled, TestPackKilled)")

// integrity runs PRAGMA integrity_check on the store of home.
func integrity(t testing.TB, home string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(home, office.StoreFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		return "integrity_check: " + err.Error()
	}
	return res
}

// ledgerOf returns the ledger of the store of home.
func ledgerOf(t testing.TB, home string) []store.LedgerEntry {
	t.Helper()
	st, err := store.Open(filepath.Join(home, office.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// killAfter starts cmd, kills it with SIGKILL after d (unless it ended)
// and reports whether it was killed.
func killAfter(t testing.TB, args []string, d time.Duration) (killed bool, code int) {
	t.Helper()
	cmd := valiseCmd(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(d):
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}()
	cmd.Wait()
	close(done)
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws.Signaled() && ws.Signal() == syscall.SIGKILL, cmd.ProcessState.ExitCode()
}

func TestImportKilled(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz, ca := offs["KZ-NCB"], offs["CARICC"]
	// CARICC holds some of the records already, differently: the import
	// inserts, updates versions and opens conflicts.
	binMust(t, "ingest", "--home", ca.home, writeFile(t, dir, "ours.jsonl", personLines("a", 300, 0)))
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "theirs.jsonl", personLines("a", 1500, 120)))
	b := filepath.Join(dir, "b.valise")
	binMust(t, "pack", "--home", kz.home, "--to", "CARICC", "-o", b)
	id := bundleID(t, b)

	template := filepath.Join(dir, "template")
	copyTree(t, ca.home, template)
	before := snapshot(t, template)
	ref := filepath.Join(dir, "ref")
	copyTree(t, template, ref)
	start := time.Now()
	binMust(t, "import", "--home", ref, b)
	took := time.Since(start)
	after := snapshot(t, ref)
	if after == before {
		t.Fatal("the import changes nothing: the test proves nothing")
	}

	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	home := filepath.Join(dir, "run")
	var stats struct{ killedBefore, killedAfter, finished int }
	for i := 0; i < *crashRuns; i++ {
		os.RemoveAll(home)
		copyTree(t, template, home)
		d := time.Duration(rng.Int63n(int64(took) * 3 / 2))
		killed, code := killAfter(t, []string{"import", "--home", home, b}, d)
		if !killed && code != 0 {
			t.Fatalf("run %d: import exited %d without being killed", i, code)
		}
		if r := integrity(t, home); r != "ok" {
			t.Fatalf("run %d (killed after %v): integrity check: %s", i, d, r)
		}
		s := snapshot(t, home)
		want := exitOK
		switch {
		case s == before:
			stats.killedBefore++
		case s == after:
			want = exitReplay // already imported
			if killed {
				stats.killedAfter++
			} else {
				stats.finished++
			}
		default:
			t.Fatalf("run %d (killed after %v): the store is neither as before nor as after the import", i, d)
		}
		start := time.Now()
		code, out, errOut := binRun(t, "import", "--home", home, b)
		if code == exitOK {
			// A whole import under the load of this moment (other tests
			// run in parallel): the kills range over its length.
			took = time.Since(start)
		}
		if code != want || (want == exitReplay && !strings.Contains(out+errOut, "already imported")) {
			t.Fatalf("run %d: re-running the import: exit %d, want %d\n%s%s", i, code, want, out, errOut)
		}
		if snapshot(t, home) != after {
			t.Fatalf("run %d: after re-running the import the store differs from a single import", i)
		}
		received := 0
		for _, e := range ledgerOf(t, home) {
			if e.Direction == "received" && e.Bundle == id {
				received++
			}
		}
		if received != 1 {
			t.Fatalf("run %d: the ledger records the bundle as received %d times", i, received)
		}
		if code, out, _ := binRun(t, "audit", "--home", home); code != 0 {
			t.Fatalf("run %d: audit: exit %d\n%s", i, code, tail(out))
		}
	}
	t.Logf("import of about %v killed at random %d times: %d before the commit, %d after it, %d finished first", took.Round(time.Millisecond),
		*crashRuns, stats.killedBefore, stats.killedAfter, stats.finished)
	if *crashRuns >= 50 && (stats.killedBefore < 5 || stats.killedAfter+stats.finished < 5) {
		t.Errorf("the kills never landed on one side of the commit: the timing is off")
	}
}

// bundleID returns the id in the header of the bundle file.
func bundleID(t testing.TB, path string) string {
	return bundleHeader(t, path).ID.String()
}

func bundleHeader(t testing.TB, path string) *bundle.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := bundle.Open(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r.Header
}

// packLeftover matches what a killed pack may leave in its output
// directory: the bundle being written (.tmp, encrypted) and the list of
// ids and version hashes it holds so far (.sent).
var packLeftover = regexp.MustCompile(`^\.valise-pack-[0-9]+\.(tmp|sent)$`)

// sentLine is one line of a .sent leftover: a record id and a version hash.
var sentLine = regexp.MustCompile(`^[a-z]-[0-9]{6} [0-9a-f]{32}$`)

// sentPrefix matches the start of a sentLine, down to nothing.
var sentPrefix = regexp.MustCompile(`^([a-z](-[0-9]{0,6}( [0-9a-f]{0,32})?)?)?$`)

// packKilledCheck checks the state after pack -o out was killed (or
// finished): the store is intact; out is absent, or complete, verifiable
// and in the ledger; packing again uses a new sequence number. It returns
// whether out exists and the temporary files the killed pack left.
//
// Leftovers, as today's pack leaves them: a pack killed while writing
// leaves its temporary files in the output directory (CreateTemp beside
// the output, for the final rename), never a partial file under the
// final name. They are asserted to be only those files, the .tmp without
// a byte of record plaintext, the .sent with nothing but ids and version
// hashes; a pack that was not killed leaves none; the next pack leaves
// none of its own and is not disturbed by them. Nothing removes them
// yet. When the temporary files move into the office home (issues 11
// and 13), this becomes: no temporary file outside the home, and the next
// command removes a killed run's leftovers from the home.
func packKilledCheck(t *testing.T, run string, home, outDir, kzCard string, killed bool) (published bool, litter []string) {
	t.Helper()
	if r := integrity(t, home); r != "ok" {
		t.Fatalf("%s: integrity check: %s", run, r)
	}
	out := filepath.Join(outDir, "b.valise")
	sent := map[string]uint64{}
	seqs := map[uint64]string{}
	for _, e := range ledgerOf(t, home) {
		if e.Direction == "sent" {
			sent[e.Bundle] = e.Sequence
			seqs[e.Sequence] = e.Bundle
		}
	}
	if _, err := os.Stat(out); err == nil {
		published = true
		if code, vout, verr := binRun(t, "verify", "--home", filepath.Join(outDir, "nohome"), "--card", kzCard, out); code != 0 {
			t.Errorf("%s: the published bundle does not verify: exit %d\n%s%s", run, code, vout, verr)
		}
		h := bundleHeader(t, out)
		if _, ok := sent[h.ID.String()]; !ok {
			t.Errorf("%s: bundle %s was published with sequence %d, but the ledger does not record it: the next pack reuses the sequence", run, h.ID, h.Recipients[0].Sequence)
		}
	}
	litter = packLitter(t, run, outDir)
	if len(litter) > 0 && !killed {
		t.Errorf("%s: pack was not killed, yet it left %v", run, litter)
	}
	out2 := filepath.Join(outDir, "again.valise")
	if code, o, e := binRun(t, "pack", "--home", home, "--to", "CARICC", "-o", out2); code != 0 {
		t.Fatalf("%s: packing again: exit %d\n%s%s", run, code, o, e)
	}
	for _, f := range packLitter(t, run, outDir) {
		if !slices.Contains(litter, f) {
			t.Errorf("%s: the next pack left a temporary file of its own: %s", run, f)
		}
	}
	h2 := bundleHeader(t, out2)
	seq := h2.Recipients[0].Sequence
	if published {
		if h := bundleHeader(t, out); h.Recipients[0].Sequence == seq {
			t.Errorf("%s: sequence %d used twice: by the bundle published when pack was killed and by the next one", run, seq)
		}
	}
	if b, ok := seqs[seq]; ok {
		t.Errorf("%s: the next pack reuses sequence %d of bundle %s", run, seq, b)
	}
	return published, litter
}

// packLitter returns the temporary files in the output directory of the
// pack tests and checks each: a known name, a regular file, no record
// plaintext in a .tmp, only ids and version hashes in a .sent. Any other
// file but the bundles is an error.
func packLitter(t *testing.T, run, outDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(outDir)
	if err != nil {
		t.Fatal(err)
	}
	var litter []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "b.valise" || name == "again.valise":
			continue
		case !packLeftover.MatchString(name) || !e.Type().IsRegular():
			t.Errorf("%s: unexpected %s in the output directory", run, name)
			continue
		}
		litter = append(litter, name)
		data, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".tmp") {
			if bytes.Contains(data, []byte(`"birthDate"`)) || bytes.Contains(data, []byte("Person ")) {
				t.Errorf("%s: %s holds record plaintext", run, name)
			}
			continue
		}
		// Written through a buffer: a kill may cut the last line short.
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if ok := sentLine.MatchString(l) || i == len(lines)-1 && sentPrefix.MatchString(l); !ok {
				t.Errorf("%s: %s line %d is not an id and a version hash: %q", run, name, i+1, l)
				break
			}
		}
	}
	return litter
}

func TestPackKilled(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz := offs["KZ-NCB"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 1500, 120)))
	template := filepath.Join(dir, "template")
	copyTree(t, kz.home, template)
	refOut := filepath.Join(dir, "refout")
	os.MkdirAll(refOut, 0o755)
	// The length of a pack: the shortest of three, so that the kills do
	// not all fall after the end when the first run was slow; it follows
	// the load of the moment from the runs that end before their kill.
	var took time.Duration
	for i := 0; i < 3; i++ {
		ref := filepath.Join(dir, fmt.Sprint("ref", i))
		copyTree(t, template, ref)
		start := time.Now()
		binMust(t, "pack", "--home", ref, "--to", "CARICC", "-o", filepath.Join(refOut, fmt.Sprint("b", i, ".valise")))
		if d := time.Since(start); i == 0 || d < took {
			took = d
		}
	}

	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	home, outDir := filepath.Join(dir, "run"), filepath.Join(dir, "out")
	published, littered, killed := 0, 0, 0
	for i := 0; i < *crashRuns; i++ {
		os.RemoveAll(home)
		os.RemoveAll(outDir)
		copyTree(t, template, home)
		os.MkdirAll(outDir, 0o755)
		d := time.Duration(rng.Int63n(int64(took) * 13 / 10))
		start := time.Now()
		k, code := killAfter(t, []string{"pack", "--home", home, "--to", "CARICC", "-o", filepath.Join(outDir, "b.valise")}, d)
		if !k && code != 0 {
			t.Fatalf("run %d: pack exited %d without being killed", i, code)
		}
		if k {
			killed++
		} else {
			took = time.Since(start) // a whole pack under the present load
		}
		p, l := packKilledCheck(t, fmt.Sprintf("run %d (killed after %v)", i, d), home, outDir, kz.cardPath, k)
		if p {
			published++
		}
		if len(l) > 0 {
			littered++
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("pack of %v killed %d of %d times; the bundle was published in %d runs; %d runs left temporary .valise-pack-* files in the output directory",
		took.Round(time.Millisecond), killed, *crashRuns, published, littered)
	// The kills fall in the first 1.3 times the length of a pack: most
	// land while it runs. Fewer than a quarter means the timing is off and
	// the runs proved little.
	if want := *crashRuns / 4; !t.Failed() && killed < want {
		t.Errorf("only %d of %d runs were killed before pack ended, want at least %d", killed, *crashRuns, want)
	}
}
