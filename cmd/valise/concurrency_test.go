package main

// Concurrency: several valise processes on one store at once.

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"valise/internal/testenv"
	"valise/office"
)

// TestConcurrentImports: eight processes import overlapping sets of
// bundles into one store at the same time. Each bundle lands exactly once;
// every other attempt reports "already imported" (exit 6) or, having
// waited out the busy timeout, a busy store (exit 8) in plain words; the
// store ends as a serial import leaves it.
func TestConcurrentImports(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "KG-NCB", "TJ-NCB", "CARICC")
	ca := offs["CARICC"]
	// Every sender sends records with the same ids (concurrent changes,
	// conflicts) and its own, in two bundles each.
	var bundles []string
	for _, a := range []string{"KZ-NCB", "KG-NCB", "TJ-NCB"} {
		p := offs[a]
		for round := 1; round <= 2; round++ {
			data := string(personLines("shared", 100, 0)) + string(personLines(strings.ToLower(a[:2])+fmt.Sprint(round), 300, 50))
			data = strings.ReplaceAll(data, `"name":["Person`, fmt.Sprintf(`"name":["%s %d Person`, a, round))
			binMust(t, "ingest", "--home", p.home, writeFile(t, dir, fmt.Sprintf("%s-%d.jsonl", a, round), []byte(data)))
			b := filepath.Join(dir, fmt.Sprintf("%s-%d.valise", a, round))
			binMust(t, "pack", "--home", p.home, "--to", "CARICC", "-o", b)
			bundles = append(bundles, b)
		}
	}
	template := filepath.Join(dir, "template")
	copyTree(t, ca.home, template)
	serial := filepath.Join(dir, "serial")
	copyTree(t, template, serial)
	for _, b := range bundles {
		binMust(t, "import", "--home", serial, b)
	}
	// Records and open conflicts do not depend on the order of imports
	// (SPEC §6); the history of versions records the order things arrived
	// here, so it is compared with a serial import in the same order.
	wantState := recordState(t, serial)
	byID := map[string]string{}
	for _, b := range bundles {
		byID[bundleID(t, b)] = b
	}

	const procs = 8
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	rng := rand.New(rand.NewSource(testenv.Seed(t)))
	outcomes := map[string]int{}
	for round := 0; round < rounds; round++ {
		home := filepath.Join(dir, fmt.Sprintf("shared-%d", round))
		copyTree(t, template, home)
		type result struct {
			code        int
			out, errOut string
			files       []string
		}
		results := make([]result, procs)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < procs; i++ {
			// Each process imports most bundles, in its own order.
			files := append([]string(nil), bundles...)
			rng.Shuffle(len(files), func(a, b int) { files[a], files[b] = files[b], files[a] })
			files = files[:4+rng.Intn(len(files)-3)]
			wg.Add(1)
			go func(i int, files []string) {
				defer wg.Done()
				<-start
				code, out, errOut := binRun(t, append([]string{"import", "--home", home, "--json"}, files...)...)
				results[i] = result{code, out, errOut, files}
			}(i, files)
		}
		close(start)
		wg.Wait()
		landed := map[string]int{}
		for i, r := range results {
			if strings.Contains(r.out+r.errOut, "database is locked") && !strings.Contains(r.out+r.errOut, "store is busy") {
				t.Errorf("round %d process %d: a raw \"database is locked\" reaches the user:\n%s%s", round, i, r.out, r.errOut)
			}
			if r.code != exitOK && r.code != exitReplay && r.code != exitBusy {
				t.Errorf("round %d process %d: exit %d, want 0, 6 or 8\n%s%s", round, i, r.code, r.out, r.errOut)
			}
			var per []struct {
				File, Error, Check string
				OK                 bool
			}
			if err := json.Unmarshal([]byte(r.out), &per); err != nil {
				t.Errorf("round %d process %d: output is not JSON: %v\n%s%s", round, i, err, r.out, r.errOut)
				continue
			}
			for _, f := range per {
				switch {
				case f.OK:
					landed[f.File]++
					outcomes["imported"]++
				case strings.Contains(f.Error, "already imported"):
					outcomes["already imported"]++
				case strings.Contains(f.Error, "store is busy"):
					outcomes["store busy"]++
				default:
					t.Errorf("round %d process %d: %s: %s", round, i, filepath.Base(f.File), f.Error)
				}
			}
		}
		for _, b := range bundles {
			if landed[b] > 1 {
				t.Errorf("round %d: %s was imported %d times (each process reported it imported)", round, filepath.Base(b), landed[b])
			}
		}
		// The first process to take the store imports what it brought:
		// a round in which every attempt was refused proved nothing.
		if len(landed) == 0 {
			t.Errorf("round %d: no process imported any bundle", round)
		}
		received := map[string]int{}
		for _, e := range ledgerOf(t, home) {
			if e.Direction == "received" {
				received[e.Bundle]++
			}
		}
		for _, b := range bundles {
			if n := received[bundleID(t, b)]; n > 1 {
				t.Errorf("round %d: the ledger records %s as received %d times", round, filepath.Base(b), n)
			}
		}
		// Whatever no process got to, a last serial pass imports; then
		// the store is what a serial import makes: the same records and
		// conflicts as any order, the same history as this order.
		for _, b := range bundles {
			binRun(t, "import", "--home", home, b)
		}
		if recordState(t, home) != wantState {
			t.Errorf("round %d: after the concurrent imports the records or open conflicts differ from a serial import", round)
		}
		replay := filepath.Join(dir, fmt.Sprintf("replay-%d", round))
		copyTree(t, template, replay)
		seen := map[string]bool{}
		for _, e := range ledgerOf(t, home) {
			if e.Direction == "received" && !seen[e.Bundle] {
				seen[e.Bundle] = true
				binMust(t, "import", "--home", replay, byID[e.Bundle])
			}
		}
		if snapshot(t, home) != snapshot(t, replay) {
			t.Errorf("round %d: the store differs from a serial import in the order the bundles were committed", round)
		}
		if r := integrity(t, home); r != "ok" {
			t.Errorf("round %d: integrity check: %s", round, r)
		}
		if code, out, _ := binRun(t, "audit", "--home", home); code != 0 {
			t.Errorf("round %d: audit: exit %d\n%s", round, code, tail(out))
		}
	}
	var keys []string
	for k, n := range outcomes {
		keys = append(keys, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(keys)
	t.Logf("%d rounds of %d concurrent imports of %d bundles: %s", rounds, procs, len(bundles), strings.Join(keys, ", "))
}

// TestConcurrentPacks: processes packing for the same peer at once never
// give two bundles the same sequence number. Each either packs (exit 0,
// its bundle written and in the ledger) or finds the store busy (exit 8,
// nothing written, told to run pack again); at least one packs, and the
// sequences of those that did are 1, 2, ... without a gap, exactly the
// ledger's.
func TestConcurrentPacks(t *testing.T) {
	t.Parallel()
	dir := fastDir(t)
	offs := setupOfficesWith(t, binMust, dir, "KZ-NCB", "CARICC")
	kz := offs["KZ-NCB"]
	binMust(t, "ingest", "--home", kz.home, writeFile(t, dir, "a.jsonl", personLines("a", 300, 50)))
	const procs = 6
	outDir := filepath.Join(dir, "out")
	os.MkdirAll(outDir, 0o755)
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := make([]int, procs)
	outs := make([]string, procs)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			code, out, errOut := binRun(t, "pack", "--home", kz.home, "--to", "CARICC", "--all", "-o", filepath.Join(outDir, fmt.Sprintf("b%d.valise", i)))
			codes[i], outs[i] = code, out+errOut
		}(i)
	}
	close(start)
	wg.Wait()
	seqs := map[uint64][]string{}
	ids := map[uint64]string{}
	packed, busy := 0, 0
	for i := 0; i < procs; i++ {
		p := filepath.Join(outDir, fmt.Sprintf("b%d.valise", i))
		switch codes[i] {
		case exitOK:
			packed++
			h := bundleHeader(t, p)
			seq := h.Recipients[0].Sequence
			seqs[seq] = append(seqs[seq], filepath.Base(p))
			ids[seq] = h.ID.String()
		case exitBusy:
			busy++
			if !strings.Contains(outs[i], "store is busy") || !strings.Contains(outs[i], "run pack again") {
				t.Errorf("pack %d: busy, but the message does not say so in plain words:\n%s", i, outs[i])
			}
			if _, err := os.Stat(p); err == nil {
				t.Errorf("pack %d: found the store busy, yet wrote %s", i, filepath.Base(p))
			}
		default:
			t.Errorf("pack %d: exit %d, want %d or %d\n%s", i, codes[i], exitOK, exitBusy, outs[i])
		}
	}
	if packed == 0 {
		t.Fatalf("none of %d concurrent packs packed (%d busy): the first to commit must win", procs, busy)
	}
	for s, files := range seqs {
		if len(files) > 1 {
			t.Errorf("sequence %d was given to %d bundles packed at once: %v", s, len(files), files)
		}
	}
	for s := uint64(1); s <= uint64(packed); s++ {
		if _, ok := seqs[s]; !ok {
			t.Errorf("%d packs succeeded, but none has sequence %d: %v", packed, s, seqs)
		}
	}
	sent := map[uint64][]string{}
	for _, e := range ledgerOf(t, kz.home) {
		if e.Direction == "sent" {
			sent[e.Sequence] = append(sent[e.Sequence], e.Bundle)
		}
	}
	if len(sent) != packed {
		t.Errorf("the ledger records %d sequences as sent, %d packs succeeded", len(sent), packed)
	}
	for s, bs := range sent {
		if len(bs) != 1 || bs[0] != ids[s] {
			t.Errorf("the ledger records sequence %d as sent in %v, the bundle packed with it is %q", s, bs, ids[s])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(outDir, ".valise-pack-*")); len(left) > 0 {
		t.Errorf("packs that ended normally left temporary files: %v", left)
	}
	t.Logf("%d concurrent packs: %d packed, %d found the store busy; sequences %v", procs, packed, busy, seqs)
}

// recordState digests the records and open conflicts of the store of
// home: what SPEC §6 says is the same whatever the order of imports.
func recordState(t testing.TB, home string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(home, office.StoreFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	for _, q := range []string{
		`SELECT id || x'00' || content_hash || x'00' || body FROM records ORDER BY id`,
		`SELECT id || x'00' || property || x'00' || candidates FROM conflicts ORDER BY id, property`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			h.Write([]byte(line + "\n"))
		}
		rows.Close()
		h.Write([]byte("--\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
